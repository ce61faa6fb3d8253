//! Tests of the test harness itself: moto_server start/stop, the seeded reference setup,
//! the inspect helper, the health sampler, and the moto behaviours ecs-roll relies on
//! (or must work around). Each test starts its own moto_server.

use crate::support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{IMAGE_V1, IMAGE_V2, MotoServer, SeedOptions, ServiceSeed};

#[test]
fn seeded_reference_setup_is_the_one_from_the_brief() {
    let moto = MotoServer::start();
    eprintln!(
        "moto_server ready in {:?} at {}",
        moto.startup_time(),
        moto.endpoint()
    );
    let t = Instant::now();
    let seeded = moto.seed(&SeedOptions::default());
    eprintln!(
        "seeded in {:?} (script says {} ms)",
        t.elapsed(),
        seeded.elapsed_ms
    );

    assert_eq!(seeded.instances.len(), 3);
    assert_eq!(seeded.task_arns.len(), 3);
    assert_eq!(seeded.task_definition_revision, 1);
    assert_eq!(seeded.image, IMAGE_V1);
    let azs: Vec<&str> = seeded
        .instances
        .iter()
        .map(|i| i.availability_zone.as_str())
        .collect();
    assert_eq!(azs, ["us-east-1a", "us-east-1b", "us-east-1c"]);

    let t = Instant::now();
    let state = moto.inspect();
    eprintln!("inspected in {:?}", t.elapsed());

    // Task definition.
    assert_eq!(state.task_definitions.len(), 1);
    let td = &state.task_definitions[0];
    assert_eq!(
        (td.family.as_str(), td.revision, td.status.as_str()),
        ("cb-prototype", 1, "ACTIVE")
    );
    assert_eq!(
        td.images.get("cb-prototype").map(String::as_str),
        Some(IMAGE_V1)
    );
    assert_eq!(td.host_ports, [Some(5555)]);

    // One RUNNING task per instance, all on revision 1, each holding host port 5555.
    assert_eq!(state.running_tasks().len(), 3);
    for (instance, tasks) in &state.running_tasks_by_instance {
        assert_eq!(tasks.len(), 1, "{instance}: {tasks:?}");
        assert_eq!(tasks[0].revision, 1);
        assert_eq!(tasks[0].image.as_deref(), Some(IMAGE_V1));
    }
    assert_eq!(state.container_instances.len(), 3);
    for ci in &state.container_instances {
        assert_eq!(ci.status.as_deref(), Some("ACTIVE"));
        assert_eq!(ci.running_tasks_count, Some(1));
        assert!(ci.remaining_ports.iter().any(|p| p == "5555"), "{ci:?}");
        assert!(ci.availability_zone.is_some());
    }
    for id in &seeded.instance_ids {
        assert_eq!(state.ec2_instances[id].state, "running");
    }

    // The classic ELB.
    let lb = state.load_balancer.as_ref().expect("load balancer");
    assert_eq!(lb.name, "cb-prototype-elb");
    let mut registered = lb.registered_instances.clone();
    registered.sort();
    let mut ids = seeded.instance_ids.clone();
    ids.sort();
    assert_eq!(registered, ids);
    assert_eq!(lb.in_service, 3);
    assert!(
        lb.instance_health.values().all(|s| s == "InService"),
        "{:?}",
        lb.instance_health
    );
    assert_eq!(lb.connection_draining.enabled, Some(true));
    assert_eq!(lb.connection_draining.timeout, Some(60));
    assert_eq!(lb.cross_zone, Some(true));
    let hc = lb.health_check.as_ref().expect("health check");
    assert_eq!(hc.target, "HTTP:5555/testme");
    assert_eq!(
        (
            hc.interval,
            hc.timeout,
            hc.healthy_threshold,
            hc.unhealthy_threshold
        ),
        (30, 5, 2, 2)
    );
    assert_eq!(lb.listeners.len(), 1);
    assert_eq!(
        (
            lb.listeners[0].load_balancer_port,
            lb.listeners[0].instance_port
        ),
        (80, 5555)
    );
}

#[test]
fn seed_options_are_applied() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        instances: 4,
        tasks: Some(2),
        draining_timeout_secs: 5,
        health_interval_secs: 6,
        healthy_threshold: 3,
        ..SeedOptions::fast()
    });
    assert_eq!(seeded.instances.len(), 4);
    assert_eq!(seeded.instances[3].availability_zone, "us-east-1a");
    assert_eq!(seeded.task_arns.len(), 2);
    assert!(seeded.instances[2].task_arn.is_none());

    let state = moto.inspect();
    assert_eq!(state.container_instances.len(), 4);
    assert_eq!(state.running_tasks().len(), 2);
    let counts = state.running_count_by_instance();
    assert_eq!(counts.values().filter(|&&n| n == 1).count(), 2);
    assert_eq!(counts.values().filter(|&&n| n == 0).count(), 2);
    let lb = state.load_balancer.unwrap();
    assert_eq!(lb.registered_instances.len(), 2);
    assert_eq!(lb.in_service, 2);
    assert_eq!(lb.connection_draining.timeout, Some(5));
    let hc = lb.health_check.unwrap();
    assert_eq!((hc.interval, hc.timeout, hc.healthy_threshold), (6, 2, 3));

    // Seeding again starts from scratch.
    let again = moto.seed(&SeedOptions::default());
    assert_eq!(again.task_definition_revision, 1);
    assert_eq!(moto.inspect().running_tasks().len(), 3);
}

#[test]
fn health_sampler_sees_draining_deregistration_and_stopped_tasks() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        draining_timeout_secs: 2,
        ..SeedOptions::fast()
    });
    let sampler = moto.health_sampler();
    assert!(sampler.wait_for_samples(3, Duration::from_secs(30)));

    // Out of the ELB: 2 InService, the third draining for 2 s, then gone.
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": seeded.load_balancer, "Instances": [{"InstanceId": seeded.instance_ids[0]}]}),
    );
    let t = Instant::now();
    let n = sampler.snapshot().timeline.len();
    assert!(sampler.wait_for_samples(n + 2, Duration::from_secs(30)));
    // Task stopped on a registered instance: still InService for the ELB, not serving.
    moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": seeded.cluster, "task": seeded.instances[1].task_arn, "reason": "test"}),
    );
    std::thread::sleep(Duration::from_secs(2).saturating_sub(t.elapsed()));
    // The draining timeout counts from moto's own clock: on a loaded machine its answer may
    // come a moment later. Wait (bounded) for a sample that shows it over.
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && sampler
            .snapshot()
            .timeline
            .last()
            .is_none_or(|s| s.draining > 0)
    {
        let n = sampler.snapshot().timeline.len();
        sampler.wait_for_samples(n + 1, Duration::from_secs(5));
    }
    let report = sampler.stop();
    eprintln!("{}", report.summary());
    assert!(report.samples >= 5, "{}", report.summary());
    assert_eq!(report.errors, 0, "{}", report.summary());
    assert_eq!(report.max_in_service, 3);
    assert_eq!(report.min_in_service, 2, "{}", report.summary());
    assert_eq!(report.min_serving, Some(1), "{}", report.summary());
    assert_eq!(report.max_draining, 1, "{}", report.summary());
    assert!(report.cut_instances.is_empty(), "{}", report.summary());
    let last = report.timeline.last().unwrap();
    assert_eq!(
        (last.in_service, last.serving, last.draining),
        (2, Some(1), 0),
        "{last:?}"
    );
    assert!(!last.in_service_ids.contains(&seeded.instance_ids[0]));
    assert!(!last.serving_ids.contains(&seeded.instance_ids[1]));
    assert_eq!(
        report.dips_below(3).len(),
        report.timeline.iter().filter(|s| s.in_service == 2).count()
    );
}

#[test]
fn health_sampler_flags_a_task_stopped_while_its_instance_drains() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        draining_timeout_secs: 30,
        ..SeedOptions::fast()
    });
    let sampler = moto.health_sampler();
    let victim = &seeded.instances[2];
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": seeded.load_balancer, "Instances": [{"InstanceId": victim.instance_id}]}),
    );
    moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": seeded.cluster, "task": victim.task_arn, "reason": "too early"}),
    );
    let n = sampler.snapshot().timeline.len();
    assert!(sampler.wait_for_samples(n + 3, Duration::from_secs(30)));
    let report = sampler.stop();
    eprintln!("{}", report.summary());
    assert_eq!(
        report.cut_instances,
        std::slice::from_ref(&victim.instance_id),
        "{}",
        report.summary()
    );
    assert_eq!(report.min_in_service, 2);
    // The state helper agrees: draining, not InService.
    let state = moto.inspect();
    let lb = state.load_balancer.as_ref().unwrap();
    assert_eq!(
        lb.draining_instances,
        std::slice::from_ref(&victim.instance_id)
    );
    assert_eq!(lb.in_service, 2);
    assert_eq!(state.in_service_instances().len(), 2);
}

#[test]
fn moto_server_is_killed_and_reaped_on_drop_even_on_panic() {
    let moto = MotoServer::start();
    let pid = moto.pid();
    let port = moto.port();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _moto = moto;
        panic!("test failure inside a moto test");
    }));
    assert!(result.is_err());
    // Reaped (no zombie left): /proc/<pid> is gone, and the port no longer answers.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "moto_server pid {pid} still there"
    );
    assert!(support::http(port, "GET", "/moto-api/", None).is_err());
}

#[test]
fn two_servers_run_side_by_side() {
    let a = MotoServer::start();
    let b = MotoServer::start();
    assert_ne!(a.port(), b.port());
    a.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    b.seed(&SeedOptions {
        instances: 2,
        ..SeedOptions::fast()
    });
    assert_eq!(a.inspect().container_instances.len(), 1);
    assert_eq!(b.inspect().container_instances.len(), 2);
    let env = a.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(a.endpoint()));
    assert_eq!(get("AWS_REGION"), Some("us-east-1"));
    assert_eq!(get("AWS_MAX_ATTEMPTS"), Some("2"));
    assert_eq!(get("ECS_ROLL_POLL_INTERVAL"), Some("100ms"));
    assert_eq!(get("ECS_ROLL_RETRY_INITIAL_BACKOFF_MS"), Some("10"));
}

/// What the testbed's fidelity patches (scripts/moto_patches.py) make moto do like real
/// AWS. Plain moto 5.2.1 gets each of these wrong (see the module's notes).
#[test]
fn testbed_answers_like_aws_where_plain_moto_does_not() {
    const DRAIN: Duration = Duration::from_secs(6);
    let moto = MotoServer::start();
    let s = moto.seed(&SeedOptions {
        draining_timeout_secs: DRAIN.as_secs() as u32,
        ..SeedOptions::fast()
    });
    let (cluster, lb) = (s.cluster.as_str(), s.load_balancer.as_str());
    let (i0, i1) = (&s.instances[0], &s.instances[1]);
    assert!(moto.log().contains("ecs-task-containers"), "{}", moto.log());

    // DescribeTasks: containers' cpu and memory are strings (the Rust SDK insists).
    let t = moto.aws(
        "ecs",
        "describe_tasks",
        &json!({"cluster": cluster, "tasks": [i0.task_arn]}),
    );
    let c = &t["tasks"][0]["containers"][0];
    assert_eq!(
        (c["cpu"].as_str(), c["memory"].as_str()),
        (Some("256"), Some("256")),
        "{c}"
    );

    // StartTask on an instance whose port 5555 is taken fails with RESOURCE:PORTS.
    let r = moto.aws(
        "ecs",
        "start_task",
        &json!({"cluster": cluster, "taskDefinition": "cb-prototype:1", "containerInstances": [i1.container_instance_arn]}),
    );
    assert!(r["tasks"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:PORTS");
    assert_eq!(r["failures"][0]["arn"], i1.container_instance_arn.as_str());

    // StopTask twice is fine; ListTasks lists RUNNING tasks unless asked otherwise.
    let task0 = i0.task_arn.clone().unwrap();
    moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": cluster, "task": task0}),
    );
    let again = moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": cluster, "task": task0}),
    );
    assert_eq!(again["task"]["lastStatus"], "STOPPED");
    let count = |params: serde_json::Value| {
        moto.aws("ecs", "list_tasks", &params)["taskArns"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(json!({"cluster": cluster})), 2);
    assert_eq!(
        count(json!({"cluster": cluster, "desiredStatus": "STOPPED"})),
        1
    );
    // Port 5555 is free again on instance 0.
    let r = moto.aws(
        "ecs",
        "start_task",
        &json!({"cluster": cluster, "taskDefinition": "cb-prototype:1", "containerInstances": [i0.container_instance_arn]}),
    );
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1, "{r}");

    // ListTasks(family) sees tasks of every revision, deregistered ones included.
    let td =
        std::fs::read_to_string(support::repo_root().join("taskdefs/cb-prototype.json")).unwrap();
    moto.aws(
        "ecs",
        "register_task_definition",
        &serde_json::from_str(&td).unwrap(),
    );
    moto.aws(
        "ecs",
        "deregister_task_definition",
        &json!({"taskDefinition": "cb-prototype:1"}),
    );
    assert_eq!(
        count(json!({"cluster": cluster, "family": "cb-prototype"})),
        3
    );

    // A task has one container per container definition.
    let two = json!({"family": "two", "containerDefinitions": [
        {"name": "app", "image": "app:1", "memory": 64},
        {"name": "sidecar", "image": "sidecar:1", "memory": 32, "cpu": 16}]});
    moto.aws("ecs", "register_task_definition", &two);
    let r = moto.aws(
        "ecs",
        "start_task",
        &json!({"cluster": cluster, "taskDefinition": "two", "containerInstances": [i1.container_instance_arn]}),
    );
    let containers = r["tasks"][0]["containers"].as_array().unwrap();
    let names: Vec<(&str, &str)> = containers
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["image"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("app", "app:1"), ("sidecar", "sidecar:1")]);

    // Classic ELB registration is idempotent and answers with the registered instances.
    let r = moto.aws(
        "elb",
        "register_instances_with_load_balancer",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": i0.instance_id}]}),
    );
    assert_eq!(r["Instances"].as_array().unwrap().len(), 3, "{r}");
    let health = |ids: &[&str]| {
        let instances: Vec<_> = ids.iter().map(|i| json!({"InstanceId": i})).collect();
        let params = if ids.is_empty() {
            json!({"LoadBalancerName": lb})
        } else {
            json!({"LoadBalancerName": lb, "Instances": instances})
        };
        moto.aws("elb", "describe_instance_health", &params)["InstanceStates"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(health(&[]).len(), 3);

    // Deregistration with connection draining: InService "deregistration in progress"
    // for the draining timeout (6 s), then not registered.
    let t = Instant::now();
    let r = moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": i0.instance_id}]}),
    );
    assert_eq!(r["Instances"].as_array().unwrap().len(), 2, "{r}");
    let h = health(&[&i0.instance_id]);
    assert!(t.elapsed() < DRAIN, "too slow to see the draining");
    assert_eq!(h[0]["State"], "InService");
    assert_eq!(
        h[0]["Description"],
        "Instance deregistration currently in progress."
    );
    assert_eq!(health(&[]).len(), 3, "a draining instance is still listed");
    let h = loop {
        let h = health(&[&i0.instance_id]);
        if h[0]["State"] != "InService" || t.elapsed() > DRAIN * 3 {
            break h;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        t.elapsed() >= DRAIN,
        "deregistration ended before the draining timeout"
    );
    assert_eq!(h[0]["State"], "OutOfService");
    assert_eq!(
        h[0]["Description"],
        "Instance is not currently registered with the LoadBalancer."
    );
    assert_eq!(health(&[]).len(), 2);

    // Registering a draining instance again ends its deregistration.
    let i2 = &s.instances[2];
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": i2.instance_id}]}),
    );
    moto.aws(
        "elb",
        "register_instances_with_load_balancer",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": i2.instance_id}]}),
    );
    let h = health(&[&i2.instance_id]);
    assert_eq!(
        (h[0]["State"].as_str(), h[0]["Description"].as_str()),
        (Some("InService"), Some("N/A"))
    );
}

/// moto 5.2.1 behaviours the testbed leaves as they are, that differ from real AWS and
/// matter to ecs-roll. If one of these starts failing after a moto upgrade, have a look
/// at scripts/README.md and the engine's workarounds.
#[test]
fn moto_quirks_ecs_roll_must_live_with() {
    let moto = MotoServer::start();
    let s = moto.seed(&SeedOptions::fast());
    let cluster = s.cluster.as_str();

    // Tasks are RUNNING at once, without startedAt / createdAt; containers say PENDING.
    let t = moto.aws(
        "ecs",
        "describe_tasks",
        &json!({"cluster": cluster, "tasks": s.task_arns}),
    );
    let t0 = &t["tasks"][0];
    assert_eq!(t0["lastStatus"], "RUNNING");
    assert!(
        t0.get("startedAt").is_none() && t0.get("createdAt").is_none(),
        "{t0}"
    );
    assert_eq!(t0["containers"][0]["lastStatus"], "PENDING");
    assert!(t0.get("healthStatus").is_none());

    // StopTask: STOPPED at once (no DEACTIVATING/STOPPING), no stoppedAt, port freed.
    let r = moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": cluster, "task": s.task_arns[0]}),
    );
    assert_eq!(r["task"]["lastStatus"], "STOPPED");
    assert!(r["task"].get("stoppedAt").is_none());

    // Container instances: CPU 4096 / memory 7482 whatever totalResources says; the
    // attribute ecs.availability-zone comes from the EC2 instance.
    let ci = moto.aws(
        "ecs",
        "describe_container_instances",
        &json!({"cluster": cluster, "containerInstances": [s.container_instance_arns[1]]}),
    );
    let ci = &ci["containerInstances"][0];
    let registered = |name: &str| {
        ci["registeredResources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["integerValue"]
            .as_i64()
    };
    assert_eq!(
        (registered("CPU"), registered("MEMORY")),
        (Some(4096), Some(7482))
    );
    // remainingResources PORTS lists the ports *taken*, the task's 5555 among them.
    let ports = ci["remainingResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "PORTS")
        .unwrap()["stringSetValue"]
        .clone();
    assert!(
        ports.as_array().unwrap().iter().any(|p| p == "5555"),
        "{ports}"
    );

    // RunTask places what fits and reports no failure for the rest.
    let r = moto.aws(
        "ecs",
        "run_task",
        &json!({"cluster": cluster, "taskDefinition": "cb-prototype:1", "count": 3}),
    );
    assert_eq!(
        r["tasks"].as_array().unwrap().len(),
        1,
        "only instance 0 has 5555 free"
    );
    assert!(r["failures"].as_array().unwrap().is_empty());

    // ListTaskDefinitions: familyPrefix is an exact family; the response has no tags
    // from RegisterTaskDefinition (DescribeTaskDefinition include=TAGS has them).
    let l = moto.aws(
        "ecs",
        "list_task_definitions",
        &json!({"familyPrefix": "cb-"}),
    );
    assert!(l["taskDefinitionArns"].as_array().unwrap().is_empty());
    let mut td: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("taskdefs/cb-prototype.json")).unwrap(),
    )
    .unwrap();
    td["tags"] = json!([{"key": "k", "value": "v"}]);
    let r = moto.aws("ecs", "register_task_definition", &td);
    assert!(r.get("tags").is_none(), "{r}");
    let d = moto.aws(
        "ecs",
        "describe_task_definition",
        &json!({"taskDefinition": "cb-prototype:2", "include": ["TAGS"]}),
    );
    assert_eq!(d["tags"][0]["key"], "k");

    // Classic ELB health is the EC2 state only: a stopped EC2 instance is OutOfService.
    moto.aws(
        "ec2",
        "stop_instances",
        &json!({"InstanceIds": [s.instance_ids[2]]}),
    );
    let state = moto.inspect();
    let lb_state = state.load_balancer.unwrap();
    assert_eq!(lb_state.instance_health[&s.instance_ids[2]], "OutOfService");
    assert_eq!(lb_state.instance_health[&s.instance_ids[1]], "InService");
}

/// The ECS service scheduler of scripts/moto_patches.py, on while a seed with a service is:
/// tasks spread one per instance, a rolling update within maximumPercent / minimumHealthyPercent
/// in ECS's order (deregistered, drained, then stopped), the old deployment gone once drained,
/// ECS's events, no rolloutState behind a classic ELB (AWS returns none there) but one behind a
/// target group; a change of the configuration alone starts no deployment. Off, moto schedules
/// nothing (its own behaviour, which the contract tests pin).
#[test]
fn the_service_scheduler_rolls_deployments_out_like_ecs_and_only_when_on() {
    let moto = MotoServer::start();
    let s = moto.seed(&SeedOptions {
        service: Some(ServiceSeed::classic()),
        ..SeedOptions::fast()
    });
    assert!(
        moto.log().contains("ecs-service-scheduler"),
        "{}",
        moto.log()
    );
    let svc = s.service.clone().expect("the seeded service");
    let describe = || {
        moto.aws(
            "ecs",
            "describe_services",
            &json!({"cluster": s.cluster, "services": [svc.name]}),
        )["services"][0]
            .clone()
    };
    let d = describe();
    assert_eq!(
        d["deploymentConfiguration"],
        json!({"maximumPercent": 200, "minimumHealthyPercent": 100})
    );
    assert_eq!(
        (d["runningCount"].as_i64(), d["pendingCount"].as_i64()),
        (Some(3), Some(0))
    );
    let first = &d["deployments"][0];
    assert_eq!(d["deployments"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(first["id"], svc.deployment_id.as_str());
    assert!(
        first.get("rolloutState").is_none(),
        "none behind a classic ELB: {first}"
    );
    assert!(
        d["events"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("has reached a steady state."),
        "{d}"
    );
    let state = moto.inspect();
    let tasks = state.running_tasks();
    assert_eq!(tasks.len(), 3);
    for t in &tasks {
        assert_eq!(
            t.started_by.as_deref(),
            Some(svc.deployment_id.as_str()),
            "{t:?}"
        );
        assert_eq!(t.group.as_deref(), Some("service:cb-prototype"), "{t:?}");
    }
    assert!(
        state.running_count_by_instance().values().all(|n| *n == 1),
        "one per instance"
    );
    assert_eq!(state.in_service_instances().len(), 3);

    // Revision 2 with 100/66: a new PRIMARY deployment at once, the old one ACTIVE.
    let mut td: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("taskdefs/cb-prototype.json")).unwrap(),
    )
    .unwrap();
    td["containerDefinitions"][0]["image"] = json!(IMAGE_V2);
    moto.aws("ecs", "register_task_definition", &td);
    let sampler = moto.health_sampler();
    let up = moto.aws(
        "ecs",
        "update_service",
        &json!({"cluster": s.cluster, "service": svc.name, "taskDefinition": "cb-prototype:2",
                "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 66}}),
    )["service"]
        .clone();
    let statuses: Vec<(&str, &str)> = up["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap(),
                d["taskDefinition"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 2, "{up}");
    assert_eq!(statuses[0].0, "PRIMARY");
    assert!(
        statuses[0].1.starts_with("arn:") && statuses[0].1.ends_with(":2"),
        "an ARN: {up}"
    );
    assert_eq!(statuses[1], ("ACTIVE", s.task_definition_arn.as_str()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut most_alive = 0;
    let d = loop {
        let alive = moto.aws(
            "ecs",
            "list_tasks",
            &json!({"cluster": s.cluster, "serviceName": svc.name, "desiredStatus": "RUNNING"}),
        )["taskArns"]
            .as_array()
            .unwrap()
            .len();
        most_alive = most_alive.max(alive);
        let d = describe();
        if d["deployments"].as_array().unwrap().len() == 1
            && d["events"][0]["message"]
                .as_str()
                .unwrap()
                .ends_with("steady state.")
        {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "no steady state within 30 s: {d}"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let health = sampler.stop();
    assert!(
        most_alive <= 3,
        "maximumPercent 100: at most 3 tasks at once, saw {most_alive}"
    );
    assert!(
        health.min_in_service >= 2 && health.min_serving >= Some(2),
        "minimumHealthyPercent 66: {}",
        health.summary()
    );
    assert!(
        health.max_draining >= 1 && health.cut_instances.is_empty(),
        "drained, then stopped: {}",
        health.summary()
    );
    let messages: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for wanted in [
        "has begun draining connections on 1 tasks.",
        "deregistered 1 instances in (elb cb-prototype-elb)",
        "deployment completed.",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(wanted)),
            "{wanted}: {messages:#?}"
        );
    }
    let primary = d["deployments"][0].clone();
    assert_eq!(
        (
            primary["runningCount"].as_i64(),
            primary["desiredCount"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let state = moto.inspect();
    assert_eq!(state.running_images(), [IMAGE_V2; 3]);
    assert!(state.running_count_by_instance().values().all(|n| *n == 1));
    let stopped: Vec<_> = state.tasks.iter().filter(|t| t.revision == 1).collect();
    assert_eq!(stopped.len(), 3);
    for t in stopped {
        assert_eq!(t.last_status.as_deref(), Some("STOPPED"));
        let reason = t.stopped_reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("Scaling activity initiated by (deployment ecs-svc/"),
            "{reason}"
        );
    }

    // A task stopped by someone else is taken out of the ELB and replaced; it served, so it
    // is no failed task.
    let gone = state.running_tasks()[0].arn.clone();
    moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": s.cluster, "task": gone}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = moto.inspect();
        let arns: Vec<&str> = state
            .running_tasks()
            .iter()
            .map(|t| t.arn.as_str())
            .collect();
        if arns.len() == 3
            && !arns.contains(&gone.as_str())
            && state.in_service_instances().len() == 3
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not replaced within 30 s: {arns:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(describe()["deployments"][0]["failedTasks"], 0);

    // The configuration alone: no new deployment.
    let up = moto.aws(
        "ecs",
        "update_service",
        &json!({"cluster": s.cluster, "service": svc.name,
                "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100}}),
    )["service"]
        .clone();
    assert_eq!(up["deployments"].as_array().unwrap().len(), 1, "{up}");
    assert_eq!(up["deployments"][0]["id"], primary["id"]);

    // Behind a target group ECS reports the rollout state.
    let s = moto.seed(&SeedOptions {
        service: Some(ServiceSeed::target_group()),
        ..SeedOptions::fast()
    });
    let d = moto.aws(
        "ecs",
        "describe_services",
        &json!({"cluster": s.cluster, "services": ["cb-prototype"]}),
    );
    assert_eq!(
        d["services"][0]["deployments"][0]["rolloutState"], "COMPLETED",
        "{d}"
    );

    // Off (a seed without a service turns it off): a new service gets no task.
    let s = moto.seed(&SeedOptions::fast());
    moto.aws(
        "ecs",
        "create_service",
        &json!({"cluster": s.cluster, "serviceName": "idle", "taskDefinition": "cb-prototype:1", "desiredCount": 1}),
    );
    thread::sleep(Duration::from_secs(1));
    let d = moto.aws(
        "ecs",
        "describe_services",
        &json!({"cluster": s.cluster, "services": ["idle"]}),
    );
    assert_eq!(
        (
            d["services"][0]["runningCount"].as_i64(),
            d["services"][0]["events"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0)),
        "{d}"
    );
    assert_eq!(
        moto.inspect().running_tasks().len(),
        3,
        "the seeded standalone tasks only"
    );
}
