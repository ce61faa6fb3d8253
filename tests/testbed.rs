//! Tests of the test harness itself: moto_server start/stop, the seeded reference setup,
//! the inspect helper, the health sampler, and the moto behaviours ecs-roll relies on
//! (or must work around). Each test starts its own moto_server.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{IMAGE_V1, MotoServer, SeedOptions};

#[test]
fn seeded_reference_setup_is_the_one_from_the_brief() {
    let moto = MotoServer::start();
    eprintln!("moto_server ready in {:?} at {}", moto.startup_time(), moto.endpoint());
    let t = Instant::now();
    let seeded = moto.seed(&SeedOptions::default());
    eprintln!("seeded in {:?} (script says {} ms)", t.elapsed(), seeded.elapsed_ms);

    assert_eq!(seeded.instances.len(), 3);
    assert_eq!(seeded.task_arns.len(), 3);
    assert_eq!(seeded.task_definition_revision, 1);
    assert_eq!(seeded.image, IMAGE_V1);
    let azs: Vec<&str> = seeded.instances.iter().map(|i| i.availability_zone.as_str()).collect();
    assert_eq!(azs, ["us-east-1a", "us-east-1b", "us-east-1c"]);

    let t = Instant::now();
    let state = moto.inspect();
    eprintln!("inspected in {:?}", t.elapsed());

    // Task definition.
    assert_eq!(state.task_definitions.len(), 1);
    let td = &state.task_definitions[0];
    assert_eq!((td.family.as_str(), td.revision, td.status.as_str()), ("cb-prototype", 1, "ACTIVE"));
    assert_eq!(td.images.get("cb-prototype").map(String::as_str), Some(IMAGE_V1));
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
    assert!(lb.instance_health.values().all(|s| s == "InService"), "{:?}", lb.instance_health);
    assert_eq!(lb.connection_draining.enabled, Some(true));
    assert_eq!(lb.connection_draining.timeout, Some(60));
    assert_eq!(lb.cross_zone, Some(true));
    let hc = lb.health_check.as_ref().expect("health check");
    assert_eq!(hc.target, "HTTP:5555/testme");
    assert_eq!((hc.interval, hc.timeout, hc.healthy_threshold, hc.unhealthy_threshold), (30, 5, 2, 2));
    assert_eq!(lb.listeners.len(), 1);
    assert_eq!((lb.listeners[0].load_balancer_port, lb.listeners[0].instance_port), (80, 5555));
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
fn health_sampler_sees_deregistration_and_stopped_tasks() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let sampler = moto.health_sampler();
    assert!(sampler.wait_for_samples(3, Duration::from_secs(30)));

    // Out of the ELB: InService drops to 2.
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": seeded.load_balancer, "Instances": [{"InstanceId": seeded.instance_ids[0]}]}),
    );
    let n = sampler.snapshot().timeline.len();
    assert!(sampler.wait_for_samples(n + 2, Duration::from_secs(30)));
    // Task stopped on a registered instance: still InService for moto, but not serving.
    moto.aws(
        "ecs",
        "stop_task",
        &json!({"cluster": seeded.cluster, "task": seeded.instances[1].task_arn, "reason": "test"}),
    );
    let report = sampler.stop();
    eprintln!("{}", report.summary());
    assert!(report.samples >= 5, "{}", report.summary());
    assert_eq!(report.errors, 0, "{}", report.summary());
    assert_eq!(report.max_in_service, 3);
    assert_eq!(report.min_in_service, 2, "{}", report.summary());
    assert_eq!(report.min_serving, Some(1), "{}", report.summary());
    let last = report.timeline.last().unwrap();
    assert_eq!((last.in_service, last.serving), (2, Some(1)));
    assert!(!last.in_service_ids.contains(&seeded.instance_ids[0]));
    assert!(!last.serving_ids.contains(&seeded.instance_ids[1]));
    assert_eq!(report.dips_below(3).len(), report.timeline.iter().filter(|s| s.in_service == 2).count());
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
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "moto_server pid {pid} still there");
    assert!(support::http(port, "GET", "/moto-api/", None).is_err());
}

#[test]
fn two_servers_run_side_by_side() {
    let a = MotoServer::start();
    let b = MotoServer::start();
    assert_ne!(a.port(), b.port());
    a.seed(&SeedOptions { instances: 1, ..SeedOptions::fast() });
    b.seed(&SeedOptions { instances: 2, ..SeedOptions::fast() });
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

/// moto 5.2.1 behaviours that differ from real AWS and matter to ecs-roll. If one of
/// these assertions starts failing after a moto upgrade, the engine's workarounds (and
/// the notes in scripts/README.md) need a look.
#[test]
fn moto_quirks_ecs_roll_must_live_with() {
    let moto = MotoServer::start();
    let s = moto.seed(&SeedOptions::fast());
    let (cluster, lb) = (s.cluster.as_str(), s.load_balancer.as_str());
    let ci0 = &s.instances[0];

    // DescribeInstanceHealth: a deregistered (or unknown) instance is "Unknown", not an
    // InvalidInstance error; without Instances it lists registered instances only.
    moto.aws(
        "elb",
        "deregister_instances_from_load_balancer",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": ci0.instance_id}]}),
    );
    let h = moto.aws(
        "elb",
        "describe_instance_health",
        &json!({"LoadBalancerName": lb, "Instances": [{"InstanceId": ci0.instance_id}]}),
    );
    assert_eq!(h["InstanceStates"][0]["State"], "Unknown");
    let h = moto.aws("elb", "describe_instance_health", &json!({"LoadBalancerName": lb}));
    assert_eq!(h["InstanceStates"].as_array().unwrap().len(), 2);

    // StopTask: STOPPED at once, host port released at once.
    let task0 = ci0.task_arn.clone().unwrap();
    let r = moto.aws("ecs", "stop_task", &json!({"cluster": cluster, "task": task0, "reason": "quirk"}));
    assert_eq!(r["task"]["lastStatus"], "STOPPED");
    let ci = moto.aws(
        "ecs",
        "describe_container_instances",
        &json!({"cluster": cluster, "containerInstances": [ci0.container_instance_arn]}),
    );
    let ports = ci["containerInstances"][0]["remainingResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "PORTS")
        .unwrap()["stringSetValue"]
        .clone();
    assert!(!ports.as_array().unwrap().iter().any(|p| p == "5555"), "{ports}");
    // ... and a second StopTask of the same task is an HTTP 500 (real ECS: no-op).
    let err = moto
        .try_aws("ecs", "stop_task", &json!({"cluster": cluster, "task": task0}))
        .unwrap_err();
    assert_eq!(err["http_status"], 500, "{err}");

    // ListTasks has no default desiredStatus=RUNNING: stopped tasks are listed too.
    let all = moto.aws("ecs", "list_tasks", &json!({"cluster": cluster, "family": "cb-prototype"}));
    assert_eq!(all["taskArns"].as_array().unwrap().len(), 3);
    let running = moto.aws(
        "ecs",
        "list_tasks",
        &json!({"cluster": cluster, "family": "cb-prototype", "desiredStatus": "RUNNING"}),
    );
    assert_eq!(running["taskArns"].as_array().unwrap().len(), 2);

    // StartTask ignores host-port conflicts: a second task on port 5555 is "placed".
    let ci1 = &s.instances[1];
    let r = moto.aws(
        "ecs",
        "start_task",
        &json!({"cluster": cluster, "taskDefinition": "cb-prototype:1", "containerInstances": [ci1.container_instance_arn]}),
    );
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1);
    assert!(r["failures"].as_array().unwrap().is_empty());
    // RunTask does check ports: with 5555 free only on instance 0, count 3 places 1.
    let r = moto.aws("ecs", "run_task", &json!({"cluster": cluster, "taskDefinition": "cb-prototype:1", "count": 3}));
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(r["tasks"][0]["containerInstanceArn"], ci0.container_instance_arn.as_str());
    assert!(r["failures"].as_array().unwrap().is_empty(), "no failures reported for the 2 unplaced");

    // ListTasks(family) only sees tasks of ACTIVE revisions: deregistering revision 1
    // hides its running tasks from the family listing (real ECS still lists them).
    let td = std::fs::read_to_string(support::repo_root().join("taskdefs/cb-prototype.json")).unwrap();
    moto.aws("ecs", "register_task_definition", &serde_json::from_str(&td).unwrap());
    moto.aws("ecs", "deregister_task_definition", &json!({"taskDefinition": "cb-prototype:1"}));
    let fam = moto.aws(
        "ecs",
        "list_tasks",
        &json!({"cluster": cluster, "family": "cb-prototype", "desiredStatus": "RUNNING"}),
    );
    assert_eq!(fam["taskArns"].as_array().unwrap().len(), 0);
    let all = moto.aws("ecs", "list_tasks", &json!({"cluster": cluster, "desiredStatus": "RUNNING"}));
    assert_eq!(all["taskArns"].as_array().unwrap().len(), 4);

    // ListTaskDefinitions: familyPrefix is an exact family match; sort is ignored.
    let l = moto.aws("ecs", "list_task_definitions", &json!({"familyPrefix": "cb-"}));
    assert!(l["taskDefinitionArns"].as_array().unwrap().is_empty());

    // Classic ELB health is EC2 state only: a stopped EC2 instance is OutOfService.
    moto.aws("ec2", "stop_instances", &json!({"InstanceIds": [s.instance_ids[2]]}));
    let state = moto.inspect();
    let lb_state = state.load_balancer.unwrap();
    assert_eq!(lb_state.instance_health[&s.instance_ids[2]], "OutOfService");
    assert_eq!(lb_state.instance_health[&s.instance_ids[1]], "InService");
}
