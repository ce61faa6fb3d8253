//! Contract tests of the service-mode adapters (`EcsServices` on `EcsAdapter`, and
//! `TargetGroupsAdapter`) against a moto_server of each test's own, plus a canned-reply stub for
//! what moto does not implement (service deployments, events, rollout states as ECS sends them)
//! and for error replies moto cannot produce.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
use ecs_roll::aws::{ApiCalls, EcsAdapter, TargetGroupsAdapter};
use ecs_roll::platform::{
    ApiErrorKind, ApiResult, BreakerThreshold, DeploymentConfiguration, EcsServices,
    ServiceDeployment, ServiceUpdate, TargetGroups,
};
use serde_json::{Value, json};
use support::MotoServer;

const CLUSTER: &str = "svc-cluster";
const SERVICE: &str = "web";

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
    tgs: TargetGroupsAdapter,
    calls: ApiCalls,
}

fn adapters_at(endpoint: &str) -> Adapters {
    let config = config_with(endpoint, "testing", "testing");
    let calls = ApiCalls::new();
    Adapters {
        ecs: EcsAdapter::new(&config, calls.clone()),
        tgs: TargetGroupsAdapter::new(&config, calls.clone()),
        calls,
    }
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(r: ApiResult<T>, want: ApiErrorKind) {
    let err = r.expect_err("should fail");
    assert_eq!(err.kind, want, "{err}");
}

// ---------------------------------------------------------------------------------------------
// The world in moto, built by one boto3 process (each moto.aws() call would cost a Python start).

const SETUP: &str = r#"
import json, sys
import boto3

opts = json.loads(sys.argv[1])
ecs, ec2, elbv2 = boto3.client("ecs"), boto3.client("ec2"), boto3.client("elbv2")
cluster = opts["cluster"]
ecs.create_cluster(clusterName=cluster)

def container(image):
    return [{"name": "web", "image": image, "cpu": 64, "memory": 128}]

td1 = ecs.register_task_definition(family="web", containerDefinitions=container("nginx:1"))
td2 = ecs.register_task_definition(family="web", containerDefinitions=container("nginx:2"))
out = {
    "td1": td1["taskDefinition"]["taskDefinitionArn"],
    "td2": td2["taskDefinition"]["taskDefinitionArn"],
}

vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
alb = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
tg = elbv2.create_target_group(
    Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance",
    HealthCheckIntervalSeconds=10, HealthyThresholdCount=3, UnhealthyThresholdCount=4,
)["TargetGroups"][0]["TargetGroupArn"]
elbv2.modify_target_group_attributes(
    TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "17"}])
elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                      DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
# A target group no load balancer uses, with ELB's defaults.
spare = elbv2.create_target_group(Name="spare-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
out.update(alb=alb, tg=tg, spare_tg=spare["TargetGroups"][0]["TargetGroupArn"])

svc = ecs.create_service(
    cluster=cluster, serviceName="web", taskDefinition=out["td1"], desiredCount=2,
    loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}])
out["service_arn"] = svc["service"]["serviceArn"]
out["deployment_id"] = svc["service"]["deployments"][0]["id"]

if opts.get("instances"):
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instances = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]
    out["instance_ids"] = [i["InstanceId"] for i in instances]
    for i in out["instance_ids"]:
        ecs.register_container_instance(
            cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": i}))
    elbv2.register_targets(TargetGroupArn=tg, Targets=[
        {"Id": out["instance_ids"][0], "Port": 32768}, {"Id": out["instance_ids"][1], "Port": 32769}])
    # moto reports a target on a stopped instance as unused (Target.InvalidState).
    ec2.stop_instances(InstanceIds=[out["instance_ids"][1]])

    def run(count, **kw):
        tasks = ecs.run_task(cluster=cluster, taskDefinition=out["td1"], count=count, **kw)["tasks"]
        return [t["taskArn"] for t in tasks]

    out["service_tasks"] = run(2, group="service:web", startedBy=out["deployment_id"])
    # Groups that must not count as the service's: a name sharing the prefix, and the default
    # `family:web` of a standalone task.
    out["other_tasks"] = run(1, group="service:web-canary") + run(1)
    stopped = run(1, group="service:web")
    ecs.stop_task(cluster=cluster, task=stopped[0], reason="scaled in")
    out["stopped_task"] = stopped[0]
    out["groups"] = {t["taskArn"]: t.get("group") for t in ecs.describe_tasks(
        cluster=cluster, tasks=out["service_tasks"] + out["other_tasks"] + stopped)["tasks"]}

print(json.dumps(out))
"#;

fn setup(moto: &MotoServer, instances: bool) -> Value {
    let mut cmd = Command::new(support::python());
    cmd.arg("-c")
        .arg(SETUP)
        .arg(json!({"cluster": CLUSTER, "instances": instances}).to_string())
        .stdin(Stdio::null());
    moto.apply_env(&mut cmd);
    let out = cmd.output().expect("running python3");
    assert!(
        out.status.success(),
        "setup failed:\n{}\n--- moto log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        moto.log()
    );
    serde_json::from_slice(&out.stdout).expect("setup prints JSON")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

// ---------------------------------------------------------------------------------------------
// moto

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_described_and_updated() {
    let moto = MotoServer::start();
    let world = setup(&moto, false);
    let a = adapters_at(moto.endpoint());

    let svc = a
        .ecs
        .describe_service(CLUSTER, SERVICE)
        .await
        .unwrap()
        .expect("the service");
    assert_eq!(svc.arn, s(&world, "service_arn"));
    assert_eq!(
        (svc.name.as_str(), svc.status.as_str()),
        (SERVICE, "ACTIVE")
    );
    assert_eq!(svc.task_definition, s(&world, "td1"));
    // moto starts no task for a service: everything desired is pending forever.
    assert_eq!(
        (svc.desired_count, svc.running_count, svc.pending_count),
        (2, 0, 2)
    );
    assert_eq!(svc.launch_type.as_deref(), Some("EC2"));
    assert!(svc.capacity_providers.is_empty());
    assert_eq!(svc.deployment_controller, "ECS");
    // moto's CreateService ignores deploymentConfiguration and reports none.
    assert_eq!(
        svc.deployment_configuration,
        DeploymentConfiguration::default()
    );
    assert_eq!(svc.deployments.len(), 1);
    let d = &svc.deployments[0];
    assert_eq!(d.id, s(&world, "deployment_id"));
    assert!(d.id.starts_with("ecs-svc/"), "{d:?}");
    assert_eq!(
        (d.status.as_str(), d.task_definition.as_str()),
        ("PRIMARY", s(&world, "td1"))
    );
    assert_eq!(
        (
            d.desired_count,
            d.running_count,
            d.pending_count,
            d.failed_tasks
        ),
        (2, 0, 2, 0)
    );
    assert_eq!(
        d.rollout_state.as_ref().map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    assert!(
        d.rollout_state_reason
            .as_deref()
            .is_some_and(|r| r.contains(&d.id)),
        "{d:?}"
    );
    let created = d.created_at.as_deref().expect("createdAt");
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    assert!(d.updated_at.is_some());
    assert_eq!(svc.load_balancers.len(), 1);
    let lb = &svc.load_balancers[0];
    assert_eq!(lb.target_group_arn.as_deref(), Some(s(&world, "tg")));
    assert_eq!(
        (
            lb.container_name.as_deref(),
            lb.container_port,
            lb.load_balancer_name.as_deref()
        ),
        (Some("web"), Some(80), None)
    );
    assert!(svc.events.is_empty(), "moto records no service events");

    // By ARN too; missing services are None, a missing cluster is an error.
    let by_arn = a
        .ecs
        .describe_service(CLUSTER, s(&world, "service_arn"))
        .await
        .unwrap();
    assert_eq!(by_arn.as_ref(), Some(&svc));
    assert_eq!(
        a.ecs.describe_service(CLUSTER, "no-such-service").await,
        Ok(None)
    );
    assert_kind(
        a.ecs.describe_service("no-such-cluster", SERVICE).await,
        ApiErrorKind::NotFound,
    );

    // Only the task definition: no DescribeServices beforehand.
    let before = a.calls.snapshot();
    let updated = a
        .ecs
        .update_service(
            CLUSTER,
            SERVICE,
            &ServiceUpdate {
                task_definition: Some(s(&world, "td2").to_string()),
                deployment_configuration: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.task_definition, s(&world, "td2"));
    let after = a.calls.snapshot();
    assert_eq!(after["UpdateService"], 1);
    assert_eq!(after["DescribeServices"], before["DescribeServices"]);

    let first = DeploymentConfiguration {
        maximum_percent: Some(150),
        minimum_healthy_percent: Some(50),
        circuit_breaker: Some((true, true)),
        strategy: Some("ROLLING".into()),
        bake_time_minutes: Some(3),
        alarms: Some((vec!["web-5xx".into()], true, false)),
        ..DeploymentConfiguration::default()
    };
    let updated = a
        .ecs
        .update_service(
            CLUSTER,
            SERVICE,
            &ServiceUpdate {
                task_definition: None,
                deployment_configuration: Some(first.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.deployment_configuration, first);
    assert_eq!(updated.task_definition, s(&world, "td2"), "left as it was");

    // A partial configuration changes only what it names; the rest survives even though moto
    // replaces the stored configuration whole.
    let second = DeploymentConfiguration {
        minimum_healthy_percent: Some(100),
        circuit_breaker: Some((true, false)),
        ..DeploymentConfiguration::default()
    };
    a.ecs
        .update_service(
            CLUSTER,
            SERVICE,
            &ServiceUpdate {
                task_definition: Some(s(&world, "td1").to_string()),
                deployment_configuration: Some(second),
            },
        )
        .await
        .unwrap();
    let again = a
        .ecs
        .describe_service(CLUSTER, SERVICE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.task_definition, s(&world, "td1"));
    assert_eq!(
        again.deployment_configuration,
        DeploymentConfiguration {
            minimum_healthy_percent: Some(100),
            circuit_breaker: Some((true, false)),
            ..first
        }
    );
    // moto's UpdateService makes no new deployment and leaves the old one's task definition.
    assert_eq!(again.deployments.len(), 1);
    assert_eq!(again.deployments[0].task_definition, s(&world, "td1"));

    assert_kind(
        a.ecs
            .update_service(
                CLUSTER,
                "no-such-service",
                &ServiceUpdate {
                    task_definition: Some(s(&world, "td2").to_string()),
                    deployment_configuration: None,
                },
            )
            .await,
        ApiErrorKind::NotFound,
    );
    assert_kind(
        a.ecs
            .update_service(
                CLUSTER,
                "no-such-service",
                &ServiceUpdate {
                    task_definition: None,
                    deployment_configuration: Some(DeploymentConfiguration {
                        maximum_percent: Some(200),
                        ..DeploymentConfiguration::default()
                    }),
                },
            )
            .await,
        ApiErrorKind::NotFound,
    );

    // moto has no service deployments: the call is answered with an HTML 500 page.
    let t0 = Instant::now();
    let deployment = a
        .ecs
        .service_deployment(CLUSTER, SERVICE, &again.deployments[0].id)
        .await;
    assert_eq!(deployment, Ok(None));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(a.calls.snapshot()["ListServiceDeployments"], 1);
    assert_kind(
        a.ecs
            .service_deployment(CLUSTER, "no-such-service", "ecs-svc/1")
            .await,
        ApiErrorKind::NotFound,
    );

    // A deleted service stays describable for a while, as INACTIVE.
    moto.aws(
        "ecs",
        "delete_service",
        &json!({"cluster": CLUSTER, "service": SERVICE, "force": true}),
    );
    let gone = a
        .ecs
        .describe_service(CLUSTER, SERVICE)
        .await
        .unwrap()
        .expect("still listed");
    assert_eq!(gone.status, "INACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_are_the_tasks_of_the_service_group() {
    let moto = MotoServer::start();
    let world = setup(&moto, true);
    let a = adapters_at(moto.endpoint());
    let arns = |key: &str| -> BTreeSet<String> {
        world[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // What moto itself reports as the tasks' groups: run_task's `group`, else `family:NAME`.
    let groups: BTreeSet<&str> = world["groups"]
        .as_object()
        .unwrap()
        .values()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["service:web", "service:web-canary", "family:web"])
    );

    let running = a
        .ecs
        .service_tasks(CLUSTER, SERVICE, "RUNNING".into())
        .await
        .unwrap();
    let got: BTreeSet<String> = running.iter().map(|t| t.arn.clone()).collect();
    assert_eq!(got, arns("service_tasks"));
    for t in &running {
        assert!(t.is_running(), "{t:?}");
        assert_eq!(t.group.as_deref(), Some("service:web"));
        assert_eq!(t.started_by.as_deref(), Some(s(&world, "deployment_id")));
        assert_eq!(t.task_definition_arn, s(&world, "td1"));
        assert!(t.container_instance_arn.is_some());
    }
    let calls = a.calls.snapshot();
    assert_eq!(
        (calls["ListTasks"], calls["DescribeTasks"]),
        (1, 1),
        "{calls:?}"
    );

    // By ARN, the same tasks.
    let by_arn = a
        .ecs
        .service_tasks(CLUSTER, s(&world, "service_arn"), "RUNNING".into())
        .await
        .unwrap();
    assert_eq!(by_arn.len(), 2);

    let stopped = a
        .ecs
        .service_tasks(CLUSTER, SERVICE, "STOPPED".into())
        .await
        .unwrap();
    assert_eq!(
        stopped.iter().map(|t| t.arn.as_str()).collect::<Vec<_>>(),
        [s(&world, "stopped_task")]
    );
    assert!(stopped[0].is_stopping());
    assert_eq!(stopped[0].stopped_reason.as_deref(), Some("scaled in"));

    assert!(
        a.ecs
            .service_tasks(CLUSTER, "no-such-service", "RUNNING".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert_kind(
        a.ecs
            .service_tasks("no-such-cluster", SERVICE, "RUNNING".into())
            .await,
        ApiErrorKind::NotFound,
    );

    // Target health, with instances behind the target group.
    let ids: Vec<&str> = world["instance_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut health = a.tgs.target_health(s(&world, "tg")).await.unwrap();
    health.sort_by_key(|h| h.port);
    assert_eq!(health.len(), 2, "{health:?}");
    assert_eq!(
        (
            health[0].id.as_str(),
            health[0].port,
            health[0].state.as_str()
        ),
        (ids[0], Some(32768), "healthy")
    );
    assert_eq!(
        (
            health[0].reason.as_deref(),
            health[0].description.as_deref()
        ),
        (None, None)
    );
    assert_eq!(
        (
            health[1].id.as_str(),
            health[1].port,
            health[1].state.as_str(),
            health[1].reason.as_deref()
        ),
        (ids[1], Some(32769), "unused", Some("Target.InvalidState"))
    );
    assert!(health[1].description.is_some());
    assert!(
        a.tgs
            .target_health(s(&world, "spare_tg"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_groups_are_described_with_their_deregistration_delay() {
    let moto = MotoServer::start();
    let world = setup(&moto, false);
    let a = adapters_at(moto.endpoint());

    let tg = a
        .tgs
        .describe_target_group(s(&world, "tg"))
        .await
        .unwrap()
        .expect("the target group");
    assert_eq!(tg.arn, s(&world, "tg"));
    assert_eq!(
        (tg.name.as_str(), tg.target_type.as_str()),
        ("web-tg", "instance")
    );
    assert_eq!((tg.port, tg.protocol.as_deref()), (Some(80), Some("HTTP")));
    assert_eq!(tg.health_check_interval, Duration::from_secs(10));
    assert_eq!((tg.healthy_threshold, tg.unhealthy_threshold), (3, 4));
    assert_eq!(tg.deregistration_delay, Duration::from_secs(17));
    assert_eq!(tg.load_balancer_arns, [s(&world, "alb")]);

    let spare = a
        .tgs
        .describe_target_group(s(&world, "spare_tg"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((spare.target_type.as_str(), spare.port), ("ip", Some(8080)));
    // ELB's defaults.
    assert_eq!(spare.deregistration_delay, Duration::from_secs(300));
    assert_eq!(spare.health_check_interval, Duration::from_secs(30));
    assert_eq!((spare.healthy_threshold, spare.unhealthy_threshold), (5, 2));
    assert!(spare.load_balancer_arns.is_empty());

    let calls = a.calls.snapshot();
    assert_eq!(
        (
            calls["DescribeTargetGroups"],
            calls["DescribeTargetGroupAttributes"]
        ),
        (2, 2)
    );

    // TargetGroupNotFound.
    let missing = format!("{}0", s(&world, "tg"));
    assert_eq!(a.tgs.describe_target_group(&missing).await, Ok(None));
    assert_eq!(
        a.calls.snapshot()["DescribeTargetGroupAttributes"],
        2,
        "no attributes asked for a missing group"
    );
    assert_kind(a.tgs.target_health(&missing).await, ApiErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_stay_errors_even_for_the_optional_operations() {
    let moto = MotoServer::start();
    let world = setup(&moto, false);
    moto.aws("iam", "create_user", &json!({"UserName": "watcher"}));
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["ecs:DescribeServices", "elasticloadbalancing:DescribeTargetHealth"],
        "Resource": "*"}]});
    moto.aws(
        "iam",
        "put_user_policy",
        &json!({"UserName": "watcher", "PolicyName": "watch",
        "PolicyDocument": policy.to_string()}),
    );
    let key = moto.aws("iam", "create_access_key", &json!({"UserName": "watcher"}));
    let (status, body) = moto.moto_api("/moto-api/reset-auth", "0");
    assert_eq!(status, 200, "{body}");

    let config = config_with(
        moto.endpoint(),
        key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
    );
    let ecs = EcsAdapter::new(&config, ApiCalls::new());
    let tgs = TargetGroupsAdapter::new(&config, ApiCalls::new());

    assert!(
        ecs.describe_service(CLUSTER, SERVICE)
            .await
            .unwrap()
            .is_some()
    );
    // Allowed DescribeServices, denied ListServiceDeployments: a denial, not "unsupported".
    let denied = ecs
        .service_deployment(CLUSTER, SERVICE, "ecs-svc/1")
        .await
        .unwrap_err();
    assert_eq!(
        (denied.kind, denied.operation),
        (ApiErrorKind::AccessDenied, "ListServiceDeployments"),
        "{denied}"
    );
    let denied = ecs
        .update_service(CLUSTER, SERVICE, &ServiceUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(denied.kind, ApiErrorKind::AccessDenied, "{denied}");
    assert_kind(
        ecs.service_tasks(CLUSTER, SERVICE, "RUNNING".into()).await,
        ApiErrorKind::AccessDenied,
    );
    assert_kind(
        tgs.describe_target_group(s(&world, "tg")).await,
        ApiErrorKind::AccessDenied,
    );
    assert!(tgs.target_health(s(&world, "tg")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_unavailable() {
    let a = adapters_at(&dead_endpoint());
    let t0 = Instant::now();
    assert_kind(
        a.ecs.describe_service(CLUSTER, SERVICE).await,
        ApiErrorKind::Unavailable,
    );
    assert_kind(
        a.ecs
            .service_deployment(CLUSTER, SERVICE, "ecs-svc/1")
            .await,
        ApiErrorKind::Unavailable,
    );
    assert_kind(
        a.ecs
            .service_tasks(CLUSTER, SERVICE, "RUNNING".into())
            .await,
        ApiErrorKind::Unavailable,
    );
    assert_kind(
        a.tgs.describe_target_group("arn:tg/web").await,
        ApiErrorKind::Unavailable,
    );
    assert_kind(
        a.tgs.target_health("arn:tg/web").await,
        ApiErrorKind::Unavailable,
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// A loopback URL nothing listens on (the port was free a moment ago).
fn dead_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------------
// A stub ECS endpoint with canned replies per operation, for what moto cannot show.

#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    Raw(u16, &'static str, &'static str),
    /// Close the connection without answering.
    HangUp,
}

struct Stub {
    url: String,
    /// (operation, request body) in arrival order.
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Stub {
    /// Serves `routes` by X-Amz-Target operation; an operation listed more than once gets its
    /// replies in order, the last repeating. The thread ends with the test binary.
    fn start(routes: Vec<(&'static str, Reply)>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        thread::spawn(move || {
            let mut served: BTreeMap<String, usize> = BTreeMap::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some((op, body)) = read_request(&stream) else {
                    continue;
                };
                log.lock().unwrap().push((op.clone(), body));
                let mine: Vec<&Reply> = routes
                    .iter()
                    .filter(|(o, _)| *o == op)
                    .map(|(_, r)| r)
                    .collect();
                let n = served.entry(op).or_default();
                let reply = mine
                    .get((*n).min(mine.len().saturating_sub(1)))
                    .map(|r| (*r).clone())
                    .unwrap_or(Reply::Json(
                        400,
                        json!({"__type": "UnknownOperationException"}),
                    ));
                *n += 1;
                write_reply(stream, &reply);
            }
        });
        Stub { url, requests }
    }

    fn operations(&self) -> Vec<String> {
        let log = self.requests.lock().unwrap();
        log.iter().map(|(op, _)| op.clone()).collect()
    }

    fn body_of(&self, op: &str) -> Value {
        let log = self.requests.lock().unwrap();
        log.iter()
            .find(|(o, _)| o == op)
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| panic!("no {op} request"))
    }
}

fn read_request(stream: &TcpStream) -> Option<(String, Value)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut op = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => op = value.trim().rsplit('.').next()?.to_string(),
                "content-length" => length = value.trim().parse().ok()?,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((op, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

fn write_reply(mut stream: TcpStream, reply: &Reply) {
    let (status, content_type, body) = match reply {
        Reply::Json(status, body) => (*status, "application/x-amz-json-1.1", body.to_string()),
        Reply::Raw(status, content_type, body) => (*status, *content_type, body.to_string()),
        Reply::HangUp => return,
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
}

const SD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/Xyz";
const REV_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/111";
const REV_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/222";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";

/// A DescribeServices reply as ECS sends it mid-rollout.
fn ecs_service(current_service_deployment: Option<&str>) -> Value {
    let mut service = json!({
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "serviceName": "web", "status": "ACTIVE", "taskDefinition": TD_NEW,
        "desiredCount": 4, "runningCount": 3, "pendingCount": 1,
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0},
                                     {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}],
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": true,
                "thresholdConfiguration": {"type": "COUNT", "value": 5}},
            "maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING",
            "bakeTimeInMinutes": 0},
        "deployments": [
            {"id": "ecs-svc/222", "status": "PRIMARY", "taskDefinition": TD_NEW, "desiredCount": 4,
             "pendingCount": 1, "runningCount": 3, "failedTasks": 1, "createdAt": 1700000000.5,
             "updatedAt": 1700000030, "rolloutState": "IN_PROGRESS",
             "rolloutStateReason": "ECS deployment ecs-svc/222 in progress."},
            {"id": "ecs-svc/111", "status": "ACTIVE", "taskDefinition": TD_OLD, "desiredCount": 0,
             "pendingCount": 0, "runningCount": 1, "failedTasks": 0, "createdAt": 1690000000,
             "updatedAt": 1700000030, "rolloutState": "COMPLETED",
             "rolloutStateReason": "ECS deployment ecs-svc/111 completed."}],
        "loadBalancers": [{"targetGroupArn": "arn:tg/web", "containerName": "web", "containerPort": 8080}],
        "events": [
            {"id": "ev2", "createdAt": 1700000040, "message": "(service web) has started 1 tasks: (task abc)."},
            {"id": "ev1", "createdAt": 1700000000, "message": "(service web) has reached a steady state."}]
    });
    if let Some(arn) = current_service_deployment {
        service["currentServiceDeployment"] = json!(arn);
    }
    json!({"services": [service], "failures": []})
}

fn ecs_service_deployment(arn: &str, status: &str) -> Value {
    json!({"serviceDeployments": [{
        "serviceDeploymentArn": arn,
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "createdAt": 1700000000, "startedAt": 1700000001, "status": status,
        "statusReason": "circuit breaker: 3 tasks failed to start",
        "targetServiceRevision": {"arn": REV_NEW, "requestedTaskCount": 4, "runningTaskCount": 3, "pendingTaskCount": 1},
        "sourceServiceRevisions": [{"arn": REV_OLD, "requestedTaskCount": 0, "runningTaskCount": 1, "pendingTaskCount": 0}],
        "rollback": {"reason": "circuit breaker", "startedAt": 1700000050, "serviceRevisionArn": REV_OLD},
        "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
        "alarms": {"status": "TRIGGERED", "alarmNames": ["web-5xx", "web-p99"], "triggeredAlarmNames": ["web-5xx"]}}],
        "failures": []})
}

fn ecs_revisions() -> Value {
    json!({"serviceRevisions": [
        {"serviceRevisionArn": REV_OLD, "taskDefinition": TD_OLD},
        {"serviceRevisionArn": REV_NEW, "taskDefinition": TD_NEW}], "failures": []})
}

#[tokio::test]
async fn a_service_as_ecs_describes_it_mid_rollout() {
    let stub = Stub::start(vec![(
        "DescribeServices",
        Reply::Json(200, ecs_service(Some(SD_ARN))),
    )]);
    let a = adapters_at(&stub.url);
    let svc = a
        .ecs
        .describe_service("prod", "web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(svc.launch_type, None);
    assert_eq!(svc.capacity_providers, ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(
        svc.deployment_configuration,
        DeploymentConfiguration {
            maximum_percent: Some(200),
            minimum_healthy_percent: Some(100),
            circuit_breaker: Some((true, true)),
            breaker_threshold: Some(BreakerThreshold::Count(5)),
            strategy: Some("ROLLING".into()),
            bake_time_minutes: Some(0),
            alarms: None,
            linear: None,
            canary: None,
        }
    );
    let ids: Vec<&str> = svc.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["ecs-svc/222", "ecs-svc/111"]);
    assert_eq!(svc.deployments[0].failed_tasks, 1);
    assert_eq!(
        svc.deployments[0].created_at.as_deref(),
        Some("2023-11-14T22:13:20.5Z")
    );
    assert_eq!(
        svc.deployments[1]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("COMPLETED")
    );
    let events: Vec<(&str, Option<&str>)> = svc
        .events
        .iter()
        .map(|e| (e.id.as_str(), e.created_at.as_deref()))
        .collect();
    assert_eq!(
        events,
        [
            ("ev2", Some("2023-11-14T22:14:00Z")),
            ("ev1", Some("2023-11-14T22:13:20Z"))
        ],
        "newest first, as ECS sends them"
    );
    assert!(svc.events[1].message.contains("steady state"));
    assert_eq!(svc.load_balancers[0].container_port, Some(8080));
    assert_eq!(
        stub.body_of("DescribeServices"),
        json!({"cluster": "prod", "services": ["web"]})
    );

    let failures = Stub::start(vec![(
        "DescribeServices",
        Reply::Json(
            200,
            json!({"services": [], "failures": [{"arn": "arn:svc/web", "reason": "MISSING"}]}),
        ),
    )]);
    let a = adapters_at(&failures.url);
    assert_eq!(a.ecs.describe_service("prod", "web").await, Ok(None));
}

#[tokio::test]
async fn the_current_service_deployment_is_described_with_its_task_definitions() {
    let stub = Stub::start(vec![
        (
            "DescribeServices",
            Reply::Json(200, ecs_service(Some(SD_ARN))),
        ),
        (
            "DescribeServiceDeployments",
            Reply::Json(200, ecs_service_deployment(SD_ARN, "ROLLBACK_IN_PROGRESS")),
        ),
        (
            "DescribeServiceRevisions",
            Reply::Json(200, ecs_revisions()),
        ),
    ]);
    let a = adapters_at(&stub.url);
    let got = a
        .ecs
        .service_deployment("prod", "web", "ecs-svc/222")
        .await
        .unwrap();
    assert_eq!(
        got,
        Some(ServiceDeployment {
            arn: SD_ARN.into(),
            status: "ROLLBACK_IN_PROGRESS".into(),
            status_reason: Some("circuit breaker: 3 tasks failed to start".into()),
            lifecycle_stage: None,
            target_task_definition: Some(TD_NEW.into()),
            source_task_definitions: vec![TD_OLD.into()],
            rollback: true,
            triggered_alarms: vec!["web-5xx".into()],
        })
    );
    assert_eq!(
        stub.operations(),
        [
            "DescribeServices",
            "DescribeServiceDeployments",
            "DescribeServiceRevisions"
        ]
    );
    assert_eq!(
        stub.body_of("DescribeServiceDeployments"),
        json!({"serviceDeploymentArns": [SD_ARN]})
    );
    assert_eq!(
        stub.body_of("DescribeServiceRevisions"),
        json!({"serviceRevisionArns": [REV_OLD, REV_NEW]})
    );
}

#[tokio::test]
async fn without_a_current_one_the_listed_deployment_with_the_same_number_is_taken() {
    let other = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/Newer";
    let briefs = json!({"serviceDeployments": [
        {"serviceDeploymentArn": other, "targetServiceRevisionArn": REV_NEW,
         "createdAt": 1700000100, "status": "IN_PROGRESS"},
        {"serviceDeploymentArn": SD_ARN, "targetServiceRevisionArn": REV_OLD,
         "createdAt": 1690000000, "status": "SUCCESSFUL"}]});
    let stub = Stub::start(vec![
        ("DescribeServices", Reply::Json(200, ecs_service(None))),
        ("ListServiceDeployments", Reply::Json(200, briefs)),
        (
            "DescribeServiceDeployments",
            Reply::Json(200, ecs_service_deployment(SD_ARN, "SUCCESSFUL")),
        ),
        // An endpoint without service revisions: the task definitions stay unknown.
        (
            "DescribeServiceRevisions",
            Reply::Json(400, json!({"__type": "UnknownOperationException"})),
        ),
    ]);
    let a = adapters_at(&stub.url);
    let got = a
        .ecs
        .service_deployment("prod", "web", "ecs-svc/111")
        .await
        .unwrap()
        .expect("a service deployment");
    assert_eq!(got.arn, SD_ARN);
    assert_eq!(got.status, "SUCCESSFUL");
    assert_eq!(
        (got.target_task_definition, got.source_task_definitions),
        (None, vec![])
    );
    assert_eq!(
        stub.body_of("ListServiceDeployments"),
        json!({"cluster": "prod", "service": "web"})
    );
    assert_eq!(
        stub.body_of("DescribeServiceDeployments"),
        json!({"serviceDeploymentArns": [SD_ARN]})
    );

    // No number matches: the newest.
    let stub2 = Stub::start(vec![
        ("DescribeServices", Reply::Json(200, ecs_service(None))),
        (
            "ListServiceDeployments",
            Reply::Json(
                200,
                json!({"serviceDeployments": [
                {"serviceDeploymentArn": SD_ARN, "targetServiceRevisionArn": REV_OLD, "createdAt": 1690000000},
                {"serviceDeploymentArn": other, "targetServiceRevisionArn": REV_NEW, "createdAt": 1700000100}]}),
            ),
        ),
        (
            "DescribeServiceDeployments",
            Reply::Json(200, ecs_service_deployment(other, "IN_PROGRESS")),
        ),
        (
            "DescribeServiceRevisions",
            Reply::Json(200, ecs_revisions()),
        ),
    ]);
    let a = adapters_at(&stub2.url);
    let got = a
        .ecs
        .service_deployment("prod", "web", "ecs-svc/999")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.arn, other);
    assert_eq!(
        stub2.body_of("DescribeServiceDeployments"),
        json!({"serviceDeploymentArns": [other]})
    );

    // None listed (a service with no deployment since service deployments exist).
    let stub3 = Stub::start(vec![
        ("DescribeServices", Reply::Json(200, ecs_service(None))),
        (
            "ListServiceDeployments",
            Reply::Json(200, json!({"serviceDeployments": []})),
        ),
    ]);
    let a = adapters_at(&stub3.url);
    assert_eq!(
        a.ecs.service_deployment("prod", "web", "ecs-svc/1").await,
        Ok(None)
    );
}

#[tokio::test]
async fn unsupported_operations_are_none_and_real_failures_are_errors() {
    const HTML_500: &str =
        "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n";
    let unsupported = [
        Reply::Json(400, json!({"__type": "UnknownOperationException"})),
        Reply::Json(
            400,
            json!({"__type": "com.amazonaws.ecs#UnsupportedFeatureException",
                   "message": "not available in this Region"}),
        ),
        Reply::Json(
            501,
            json!({"__type": "InternalFailure", "message": "API action not yet implemented"}),
        ),
        Reply::Raw(500, "text/html; charset=utf-8", HTML_500),
        Reply::Raw(404, "text/html", "<html>Not Found</html>"),
    ];
    for reply in unsupported {
        let stub = Stub::start(vec![
            ("DescribeServices", Reply::Json(200, ecs_service(None))),
            ("ListServiceDeployments", reply),
        ]);
        let a = adapters_at(&stub.url);
        assert_eq!(
            a.ecs.service_deployment("prod", "web", "ecs-svc/1").await,
            Ok(None),
            "{:?}",
            stub.operations()
        );
    }
    // The same for DescribeServiceDeployments, after a current deployment was named.
    let stub = Stub::start(vec![
        (
            "DescribeServices",
            Reply::Json(200, ecs_service(Some(SD_ARN))),
        ),
        (
            "DescribeServiceDeployments",
            Reply::Json(400, json!({"__type": "UnknownOperationException"})),
        ),
    ]);
    let a = adapters_at(&stub.url);
    assert_eq!(
        a.ecs.service_deployment("prod", "web", "ecs-svc/222").await,
        Ok(None)
    );

    let failing = [
        (
            Reply::Json(
                400,
                json!({"__type": "AccessDeniedException", "message": "not authorized to perform: ecs:ListServiceDeployments"}),
            ),
            ApiErrorKind::AccessDenied,
        ),
        (
            Reply::Json(
                400,
                json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
            ),
            ApiErrorKind::Throttled,
        ),
        (
            Reply::Json(
                500,
                json!({"__type": "ServerException", "message": "internal"}),
            ),
            ApiErrorKind::Unavailable,
        ),
        (
            Reply::Json(
                400,
                json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."}),
            ),
            ApiErrorKind::NotFound,
        ),
        // A JSON 500 without a code is AWS-like, not moto's "no such action" page.
        (
            Reply::Raw(500, "application/x-amz-json-1.1", "{}"),
            ApiErrorKind::Unavailable,
        ),
        (Reply::HangUp, ApiErrorKind::Unavailable),
    ];
    for (reply, kind) in failing {
        let stub = Stub::start(vec![
            ("DescribeServices", Reply::Json(200, ecs_service(None))),
            ("ListServiceDeployments", reply),
        ]);
        let a = adapters_at(&stub.url);
        let err = a
            .ecs
            .service_deployment("prod", "web", "ecs-svc/1")
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.operation),
            (kind, "ListServiceDeployments"),
            "{err}"
        );
    }

    // ECS names failures it cannot describe; anything but MISSING is an error.
    let stub = Stub::start(vec![
        (
            "DescribeServices",
            Reply::Json(200, ecs_service(Some(SD_ARN))),
        ),
        (
            "DescribeServiceDeployments",
            Reply::Json(
                200,
                json!({"serviceDeployments": [], "failures": [{"arn": SD_ARN, "reason": "INVALID", "detail": "bad arn"}]}),
            ),
        ),
    ]);
    let a = adapters_at(&stub.url);
    let err = a
        .ecs
        .service_deployment("prod", "web", "ecs-svc/222")
        .await
        .unwrap_err();
    assert!(err.message.contains("INVALID (bad arn)"), "{err}");
}

#[tokio::test]
async fn a_stop_asks_ecs_to_roll_the_service_deployment_back_and_maps_its_errors() {
    let stub = Stub::start(vec![(
        "StopServiceDeployment",
        Reply::Json(200, json!({"serviceDeploymentArn": SD_ARN})),
    )]);
    let a = adapters_at(&stub.url);
    a.ecs
        .stop_service_deployment("prod", "web", SD_ARN)
        .await
        .unwrap();
    assert_eq!(
        stub.body_of("StopServiceDeployment"),
        json!({"serviceDeploymentArn": SD_ARN, "stopType": "ROLLBACK"})
    );
    assert_eq!(a.calls.snapshot().get("StopServiceDeployment"), Some(&1));

    let failing = [
        (
            Reply::Json(
                400,
                json!({"__type": "ConflictException", "message": "The service deployment is not in a stoppable state."}),
            ),
            ApiErrorKind::InvalidRequest,
        ),
        (
            Reply::Json(
                400,
                json!({"__type": "ServiceDeploymentNotFoundException", "message": "not found"}),
            ),
            ApiErrorKind::NotFound,
        ),
        (
            Reply::Json(
                400,
                json!({"__type": "AccessDeniedException", "message": "not authorized to perform: ecs:StopServiceDeployment"}),
            ),
            ApiErrorKind::AccessDenied,
        ),
        // An endpoint without the call (moto's HTML page) says so.
        (
            Reply::Raw(500, "text/html", "<!doctype html><title>500</title>"),
            ApiErrorKind::InvalidRequest,
        ),
    ];
    for (reply, kind) in failing {
        let stub = Stub::start(vec![("StopServiceDeployment", reply)]);
        let a = adapters_at(&stub.url);
        let err = a
            .ecs
            .stop_service_deployment("prod", "web", SD_ARN)
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.operation),
            (kind, "StopServiceDeployment"),
            "{err}"
        );
    }
}
