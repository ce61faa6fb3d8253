//! Contract tests of the real adapters (`ecs_roll::aws`) against a moto_server of each test's
//! own: request shapes moto accepts, what comes back, and how errors are classified.
//!
//! `load_sdk_config` reads the process environment, which the tests running in parallel here
//! share, so the tests of it run this binary again as a child with its own environment
//! (see `config_probe`).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
use ecs_roll::aws::{ApiCalls, ClassicElbAdapter, EcsAdapter, load_sdk_config};
use ecs_roll::image::ImageRef;
use ecs_roll::platform::{ApiErrorKind, ApiResult, ClassicElb, Ecs, HealthState};
use ecs_roll::taskdef::TaskDefinition;
use serde_json::{Value, json};
use support::{CLUSTER, FAMILY, LOAD_BALANCER, MotoServer, SeedOptions};

const FIXTURE: &str = include_str!("../fixtures/taskdef-full.json");

fn config_with(endpoint: &str, key: &str, secret: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(support::REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key, secret, None, None, "test",
        )))
        .endpoint_url(endpoint)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build()
}

struct Adapters {
    ecs: EcsAdapter,
    elb: ClassicElbAdapter,
    calls: ApiCalls,
}

fn adapters(moto: &MotoServer) -> Adapters {
    let config = config_with(moto.endpoint(), "testing", "testing");
    let calls = ApiCalls::new();
    Adapters {
        ecs: EcsAdapter::new(&config, calls.clone()),
        elb: ClassicElbAdapter::new(&config, calls.clone()),
        calls,
    }
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(r: ApiResult<T>, want: ApiErrorKind) {
    let err = r.expect_err("should fail");
    assert_eq!(err.kind, want, "{err}");
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_instances_and_tasks_of_the_reference_setup() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::default());
    let state = moto.inspect();
    let a = adapters(&moto);

    assert!(a.ecs.cluster_is_active(CLUSTER).await.unwrap());
    assert!(!a.ecs.cluster_is_active("no-such-cluster").await.unwrap());

    let mut instances = a.ecs.container_instances(CLUSTER).await.unwrap();
    instances.sort_by(|x, y| x.availability_zone.cmp(&y.availability_zone));
    assert_eq!(instances.len(), 3);
    for (ci, seed) in instances.iter().zip(&seeded.instances) {
        assert_eq!(ci.arn, seed.container_instance_arn);
        assert_eq!(ci.ec2_instance_id, seed.instance_id);
        assert_eq!(
            ci.availability_zone.as_deref(),
            Some(seed.availability_zone.as_str())
        );
        assert!(ci.accepts_tasks(), "{ci:?}");
        // What boto3 reads from the same moto (scripts/inspect_state.py).
        let theirs = state
            .container_instances
            .iter()
            .find(|c| c.arn == ci.arn)
            .expect("inspected");
        assert_eq!(
            (Some(ci.remaining_cpu), Some(ci.remaining_memory)),
            (theirs.remaining_cpu, theirs.remaining_memory)
        );
        let mut ports: Vec<u16> = theirs
            .remaining_ports
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ci.used_ports, ports);
        // The agent's ports plus the task's static host port.
        assert!(
            ci.used_ports.contains(&22) && ci.used_ports.contains(&5555),
            "{ci:?}"
        );
    }

    let tasks = a.ecs.family_tasks(CLUSTER, FAMILY).await.unwrap();
    let arns: BTreeSet<&str> = tasks.iter().map(|t| t.arn.as_str()).collect();
    assert_eq!(arns, seeded.task_arns.iter().map(String::as_str).collect());
    for t in &tasks {
        assert!(t.is_running(), "{t:?}");
        assert_eq!(t.task_definition_arn, seeded.task_definition_arn);
        assert_eq!(t.containers.len(), 1);
        assert_eq!(t.containers[0].name, support::CONTAINER);
    }
    assert_eq!(
        a.ecs
            .describe_tasks(CLUSTER, &seeded.task_arns)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        a.ecs
            .family_tasks(CLUSTER, "no-such-family")
            .await
            .unwrap()
            .is_empty()
    );
    let calls = a.calls.snapshot();
    assert_eq!(calls["DescribeClusters"], 2);
    assert_eq!(calls["ListContainerInstances"], 1);
    assert_eq!(calls["DescribeContainerInstances"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_100_tasks_are_described_in_batches() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 2,
        tasks: Some(0),
        ..SeedOptions::default()
    });
    let container = json!([{"name": "tiny", "image": "busybox", "cpu": 1, "memory": 4}]);
    moto.aws(
        "ecs",
        "register_task_definition",
        &json!({"family": "tiny", "containerDefinitions": container}),
    );
    for _ in 0..15 {
        moto.aws(
            "ecs",
            "run_task",
            &json!({"cluster": CLUSTER, "taskDefinition": "tiny", "count": 10}),
        );
    }
    let a = adapters(&moto);

    let tasks = a.ecs.family_tasks(CLUSTER, "tiny").await.unwrap();
    assert_eq!(tasks.len(), 150);
    assert_eq!(
        tasks.iter().map(|t| &t.arn).collect::<BTreeSet<_>>().len(),
        150
    );
    assert!(tasks.iter().all(|t| t.is_running()));
    let calls = a.calls.snapshot();
    // moto never pages ListTasks; the stub tests in src/aws/tests cover nextToken.
    assert_eq!(
        (calls["ListTasks"], calls["DescribeTasks"]),
        (1, 2),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_a_task() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        tasks: Some(0),
        ..SeedOptions::default()
    });
    let a = adapters(&moto);
    let instance = &seeded.container_instance_arns[0];

    let task = a
        .ecs
        .start_task(
            CLUSTER,
            &seeded.task_definition_arn,
            instance,
            "ecs-roll/test",
        )
        .await
        .unwrap();
    assert_eq!(
        task.container_instance_arn.as_deref(),
        Some(instance.as_str())
    );
    assert_eq!(task.task_definition_arn, seeded.task_definition_arn);
    assert_eq!(task.started_by.as_deref(), Some("ecs-roll/test"));
    assert_eq!(task.desired_status, "RUNNING");

    // The static host port is taken now: ECS answers with a failure, not a task (moto does so
    // through scripts/moto_patches.py's ecs-start-task-placement).
    let clash = a
        .ecs
        .start_task(
            CLUSTER,
            &seeded.task_definition_arn,
            instance,
            "ecs-roll/test",
        )
        .await
        .unwrap_err();
    assert_eq!(clash.kind, ApiErrorKind::Other, "{clash}");
    assert!(clash.message.contains("RESOURCE:PORTS"), "{clash}");
    let running = a.ecs.family_tasks(CLUSTER, FAMILY).await.unwrap();
    assert_eq!(
        running.iter().map(|t| &t.arn).collect::<Vec<_>>(),
        [&task.arn]
    );

    a.ecs
        .stop_task(CLUSTER, &task.arn, "replaced by ecs-roll")
        .await
        .unwrap();
    let after = a
        .ecs
        .describe_tasks(CLUSTER, std::slice::from_ref(&task.arn))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].is_stopping(), "{:?}", after[0]);
    assert_eq!(
        after[0].stopped_reason.as_deref(),
        Some("replaced by ecs-roll")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_definition_fields_and_tags_round_trip() {
    let moto = MotoServer::start();
    let a = adapters(&moto);
    let td = TaskDefinition::parse(FIXTURE, "taskdef-full.json").unwrap();
    let image = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2").unwrap();
    let td = td.with_image("web", &image);

    let ours = tags(&[("deployed-by", "ecs-roll"), ("ecs-roll:image", "v2")]);
    let rev = a
        .ecs
        .register_task_definition(&td.to_json(), &ours)
        .await
        .unwrap();
    assert_eq!(rev.name(), "web-full:1");
    let merged = tags(&[
        ("team", "payments"),
        ("deployed-by", "ecs-roll"),
        ("ecs-roll:image", "v2"),
    ]);
    assert_eq!(rev.tags, merged);

    for reference in [rev.arn.as_str(), "web-full:1", "web-full"] {
        let described = a.ecs.describe_task_definition(reference).await.unwrap();
        assert_eq!(
            (described.arn.as_str(), described.revision),
            (rev.arn.as_str(), 1),
            "{reference}"
        );
        assert_eq!(described.tags, merged, "{reference}");
        assert_eq!(
            described.body["containerDefinitions"][0]["image"],
            image.to_string()
        );
        // moto keeps only the members it models (not our future ones); each of those must come
        // back as sent.
        let mut sent = td.to_json();
        sent["containerDefinitions"][0]
            .as_object_mut()
            .unwrap()
            .remove("futureContainerField");
        let sent = sent.as_object_mut().unwrap();
        for (field, value) in described.body.as_object().unwrap() {
            if let Some(ours) = sent.remove(field) {
                assert!(
                    field_matches(&ours, value),
                    "{field}: sent {ours}, got {value}"
                );
            }
        }
        // What moto does not model: our future field, and enableFaultInjection (moto 5.2.1).
        let not_echoed: Vec<&str> = sent
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "tags")
            .collect();
        assert_eq!(
            not_echoed,
            ["enableFaultInjection", "futureField"],
            "moto dropped more"
        );
    }

    a.ecs
        .tag_task_definition(&rev.arn, &tags(&[("ecs-roll:status", "deployed")]))
        .await
        .unwrap();
    let retagged = a.ecs.describe_task_definition(&rev.arn).await.unwrap();
    assert_eq!(
        retagged.tags.get("ecs-roll:status").map(String::as_str),
        Some("deployed")
    );
    assert_eq!(retagged.tags.len(), 4);
    a.ecs
        .tag_task_definition(&rev.arn, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        a.calls.snapshot()["TagResource"],
        1,
        "an empty tag set makes no call"
    );
}

/// Whether what moto returns for a field is what we sent, up to the defaults ECS fills in.
fn field_matches(sent: &Value, got: &Value) -> bool {
    let wrap = |v: &Value| {
        let body = json!({"family": "x", "containerDefinitions": [{"name": "x", "image": "x"}], "probe": v});
        TaskDefinition::parse(&body.to_string(), "probe").unwrap()
    };
    sent == got || wrap(sent).same_as(&wrap(got))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_elb_description_health_and_registration() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::default());
    let a = adapters(&moto);

    let lb = a
        .elb
        .describe_load_balancer(LOAD_BALANCER)
        .await
        .unwrap()
        .expect("the seeded ELB");
    assert_eq!(lb.name, LOAD_BALANCER);
    assert_eq!(lb.health_check.target, "HTTP:5555/testme");
    assert_eq!(
        (lb.health_check.interval, lb.health_check.timeout),
        (Duration::from_secs(30), Duration::from_secs(5))
    );
    assert_eq!(
        (
            lb.health_check.healthy_threshold,
            lb.health_check.unhealthy_threshold
        ),
        (2, 2)
    );
    assert_eq!(lb.connection_draining, Some(Duration::from_secs(60)));
    assert!(lb.cross_zone);
    assert_eq!(lb.listeners.len(), 1);
    assert_eq!(
        (
            lb.listeners[0].load_balancer_port,
            lb.listeners[0].instance_port
        ),
        (80, 5555)
    );
    assert_eq!(lb.listeners[0].protocol.to_ascii_uppercase(), "HTTP");
    let registered: BTreeSet<&String> = lb.instances.iter().collect();
    assert_eq!(registered, seeded.registered_instance_ids.iter().collect());

    let health = a.elb.instance_health(LOAD_BALANCER).await.unwrap();
    assert_eq!(health.len(), 3);
    assert!(
        health
            .iter()
            .all(|h| h.state == HealthState::InService && !h.is_deregistering()),
        "{health:?}"
    );

    let leaving = seeded.registered_instance_ids[0].clone();
    a.elb
        .deregister_instances(LOAD_BALANCER, std::slice::from_ref(&leaving))
        .await
        .unwrap();
    let lb = a
        .elb
        .describe_load_balancer(LOAD_BALANCER)
        .await
        .unwrap()
        .unwrap();
    assert!(!lb.instances.contains(&leaving));
    assert_eq!(lb.instances.len(), 2);
    a.elb
        .register_instances(LOAD_BALANCER, std::slice::from_ref(&leaving))
        .await
        .unwrap();
    let health = a.elb.instance_health(LOAD_BALANCER).await.unwrap();
    assert!(
        health
            .iter()
            .any(|h| h.instance_id == leaving && h.state == HealthState::InService),
        "{health:?}"
    );

    let before = a.calls.total();
    a.elb.register_instances(LOAD_BALANCER, &[]).await.unwrap();
    a.elb
        .deregister_instances(LOAD_BALANCER, &[])
        .await
        .unwrap();
    assert_eq!(a.calls.total(), before, "empty lists make no call");
    assert_eq!(
        a.elb.describe_load_balancer("no-such-elb").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_elb_without_draining_or_cross_zone() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        draining: false,
        cross_zone: false,
        tasks: Some(0),
        ..SeedOptions::fast()
    });
    let a = adapters(&moto);
    let lb = a
        .elb
        .describe_load_balancer(LOAD_BALANCER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lb.connection_draining, None);
    assert!(!lb.cross_zone);
    assert_eq!(
        (lb.health_check.interval, lb.health_check.timeout),
        (Duration::from_secs(5), Duration::from_secs(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_resources_are_not_found() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::default()
    });
    let a = adapters(&moto);

    assert_kind(
        a.ecs.describe_task_definition("no-such-family:1").await,
        ApiErrorKind::NotFound,
    );
    assert_kind(
        a.ecs
            .describe_task_definition(&format!("{FAMILY}:99"))
            .await,
        ApiErrorKind::NotFound,
    );
    assert_kind(
        a.ecs
            .describe_tasks("no-such-cluster", &seeded.task_arns)
            .await,
        ApiErrorKind::NotFound,
    );
    assert_kind(
        a.ecs.family_tasks("no-such-cluster", FAMILY).await,
        ApiErrorKind::NotFound,
    );
    assert_kind(
        a.elb.instance_health("no-such-elb").await,
        ApiErrorKind::NotFound,
    );
    // (Register/DeregisterInstancesWithLoadBalancer on a missing ELB crash moto with a 500.)
    let err = a
        .ecs
        .describe_task_definition("no-such-family:1")
        .await
        .unwrap_err();
    assert_eq!(err.operation, "DescribeTaskDefinition");
    assert!(
        err.message.contains("Unable to describe task definition"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_enforcement_signature_denials_and_unknown_keys() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::default()
    });
    moto.aws("iam", "create_user", &json!({"UserName": "deployer"}));
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], "Resource": "*"}]});
    moto.aws(
        "iam",
        "put_user_policy",
        &json!({"UserName": "deployer", "PolicyName": "deploy",
        "PolicyDocument": policy.to_string()}),
    );
    let key = moto.aws("iam", "create_access_key", &json!({"UserName": "deployer"}));
    let (id, secret) = (
        key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
    );
    let (status, body) = moto.moto_api("/moto-api/reset-auth", "0");
    assert_eq!(status, 200, "{body}");

    let config = config_with(moto.endpoint(), id, secret);
    let ecs = EcsAdapter::new(&config, ApiCalls::new());
    // moto recomputes the SigV4 signature over the body it received: this passes only if the
    // body we swapped in is the one that was signed.
    let td: Value = serde_json::from_str(FIXTURE).unwrap();
    let rev = ecs
        .register_task_definition(&td, &tags(&[("by", "deployer")]))
        .await
        .unwrap();
    assert_eq!(rev.family, "web-full");

    let denied = ecs.cluster_is_active(CLUSTER).await.unwrap_err();
    assert_eq!(denied.kind, ApiErrorKind::AccessDenied, "{denied}");
    assert_eq!(denied.operation, "DescribeClusters");

    let stranger = EcsAdapter::new(
        &config_with(moto.endpoint(), "AKIAUNKNOWN0000000000", "nope"),
        ApiCalls::new(),
    );
    let err = stranger
        .describe_task_definition("web-full")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Credentials, "{err}");

    let forged = EcsAdapter::new(
        &config_with(moto.endpoint(), id, "wrong-secret"),
        ApiCalls::new(),
    );
    let err = forged
        .describe_task_definition("web-full")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Credentials, "{err}");
}

// ---------------------------------------------------------------------------------------------
// load_sdk_config, run in a child process with its own environment.

const PROBE_ARGS: &str = "ECS_ROLL_TEST_CONFIG_PROBE";

/// The name the test harness knows `config_probe` by: its path in the test binary (this
/// module's path without the crate's name).
fn probe_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::config_probe"),
        None => "config_probe".to_string(),
    }
}

/// Runs `config_probe` in a child with moto's environment plus `set`, minus `unset`.
fn probe(moto: &MotoServer, args: Value, set: &[(&str, String)], unset: &[&str]) -> Value {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        probe_test_name().as_str(),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    moto.apply_env(&mut cmd);
    for k in unset {
        cmd.env_remove(k);
    }
    cmd.envs(set.iter().map(|(k, v)| (*k, v.as_str())))
        .env(PROBE_ARGS, args.to_string());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PROBE ").map(|(_, json)| json))
        .unwrap_or_else(|| panic!("no probe output:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Not a test of its own: the `load_sdk_config_*` tests run it in a child process and check
/// what it prints. Without their arguments it has nothing to do.
#[tokio::test]
#[ignore = "helper of the load_sdk_config tests, which run it in a child process"]
async fn config_probe() {
    let Ok(args) = std::env::var(PROBE_ARGS) else {
        return;
    };
    let args: Value = serde_json::from_str(&args).unwrap();
    let config = load_sdk_config(args["profile"].as_str(), args["region"].as_str()).await;
    let retry = config.retry_config().expect("a retry config");
    let calls = ApiCalls::new();
    let started = Instant::now();
    let cluster = EcsAdapter::new(&config, calls.clone())
        .cluster_is_active(CLUSTER)
        .await;
    let ecs_ms = started.elapsed().as_millis();
    let lb = ClassicElbAdapter::new(&config, calls)
        .describe_load_balancer(LOAD_BALANCER)
        .await;
    let outcome = |r: Result<Value, ecs_roll::platform::ApiError>| match r {
        Ok(v) => json!({"ok": v}),
        Err(e) => json!({"kind": format!("{:?}", e.kind), "message": e.message}),
    };
    let report = json!({
        "region": config.region().map(ToString::to_string),
        "max_attempts": retry.max_attempts(),
        "initial_backoff_ms": retry.initial_backoff().as_millis() as u64,
        "cluster_active": outcome(cluster.map(Value::from)),
        "ecs_ms": ecs_ms as u64,
        "lb": outcome(lb.map(|lb| json!(lb.map(|l| l.name)))),
    });
    println!("PROBE {report}");
}

#[test]
fn load_sdk_config_follows_the_standard_environment() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    // moto.env(): AWS_ENDPOINT_URL, AWS_REGION, AWS_MAX_ATTEMPTS=2, backoff override 10 ms.
    let got = probe(&moto, json!({}), &[], &[]);
    assert_eq!(got["region"], "us-east-1");
    assert_eq!(
        (
            got["max_attempts"].as_u64(),
            got["initial_backoff_ms"].as_u64()
        ),
        (Some(2), Some(10))
    );
    assert_eq!(got["cluster_active"], json!({"ok": true}));
    assert_eq!(got["lb"], json!({"ok": LOAD_BALANCER}));
}

#[test]
fn per_service_endpoints_and_the_region_argument_win() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let dead = dead_endpoint();
    let set = [
        ("AWS_ENDPOINT_URL", dead),
        ("AWS_ENDPOINT_URL_ECS", moto.endpoint().to_string()),
        (
            "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
            moto.endpoint().to_string(),
        ),
        // moto keeps resources per region: the cluster is found only if the argument wins.
        ("AWS_REGION", "eu-west-1".to_string()),
    ];
    let got = probe(&moto, json!({"region": "us-east-1"}), &set, &[]);
    assert_eq!(got["region"], "us-east-1");
    assert_eq!(got["cluster_active"], json!({"ok": true}));
    assert_eq!(got["lb"], json!({"ok": LOAD_BALANCER}));
}

#[test]
fn a_named_profile_supplies_region_and_retries_and_the_backoff_override_keeps_them() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let config_file = moto.dir().join("aws-config");
    std::fs::write(
        &config_file,
        "[profile probe]\nregion = us-east-1\nmax_attempts = 4\n",
    )
    .unwrap();
    let set = [(
        "AWS_CONFIG_FILE",
        config_file.to_string_lossy().into_owned(),
    )];
    let got = probe(
        &moto,
        json!({"profile": "probe"}),
        &set,
        &["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_MAX_ATTEMPTS"],
    );
    assert_eq!(got["region"], "us-east-1");
    assert_eq!(
        (
            got["max_attempts"].as_u64(),
            got["initial_backoff_ms"].as_u64()
        ),
        (Some(4), Some(10))
    );
    assert_eq!(got["cluster_active"], json!({"ok": true}));
}

#[test]
fn an_unreachable_endpoint_is_unavailable_quickly() {
    let moto = MotoServer::start();
    let set = [
        ("AWS_ENDPOINT_URL", dead_endpoint()),
        ("AWS_MAX_ATTEMPTS", "3".to_string()),
    ];
    let got = probe(&moto, json!({}), &set, &[]);
    assert_eq!(got["cluster_active"]["kind"], "Unavailable", "{got}");
    assert_eq!(got["lb"]["kind"], "Unavailable", "{got}");
    assert!(got["ecs_ms"].as_u64().unwrap() < 3000, "{got}");
}

/// A loopback URL nothing listens on (the port was free a moment ago).
fn dead_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}
