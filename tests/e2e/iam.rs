//! Least privilege, end to end: moto_server with IAM enforcement on (`POST
//! /moto-api/reset-auth`), IAM users holding nothing but the policies of `iam/`, and the real
//! binary run as them.
//!
//! * With `iam/ecs-roll-standalone-policy.json`: deploy, rollback, status and diff of the
//!   reference setup all pass.
//! * With any one of its actions removed, some run fails (or warns) and its message names the
//!   missing permission (`ecs:StopTask`, `elasticloadbalancing:DeregisterInstancesFromLoadBalancer`,
//!   ...): the policy holds nothing ecs-roll does not need. The state left behind is one to
//!   leave a service in (every instance serving, or out of the ELB with no task).
//! * With `iam/ecs-roll-service-policy.json`: `status` and `deploy --dry-run` of a service
//!   pass; with the standalone policy they fail naming `ecs:DescribeServices`.
//!
//! moto checks actions only (resources are always `*`, conditions and iam:PassRole are not
//! evaluated): the resource scoping of iam/README.md is not tested here.
//!
//! IAM users are created before enforcement is switched on; enforcement is switched off
//! again to read the state.

use crate::harness as e2e;
use crate::support;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use e2e::deploy_args;
use e2e::proxy;
use e2e::{Pooled, Run, ecs_roll, quick_state, run, with_globals, xml_first};
use serde_json::{Value, json};
use support::{MotoServer, SeedOptions};

const STANDALONE_POLICY: &str = include_str!("../../iam/ecs-roll-standalone-policy.json");
const SERVICE_POLICY: &str = include_str!("../../iam/ecs-roll-service-policy.json");

struct Key {
    id: String,
    secret: String,
}

fn iam(moto: &MotoServer, action: &str, params: &[(&str, &str)]) -> String {
    let (status, xml) = proxy::query_call(moto.port(), "iam", "2010-05-08", action, params)
        .unwrap_or_else(|e| panic!("IAM {action} on moto: {e}"));
    assert_eq!(status, 200, "IAM {action}: HTTP {status}: {xml}");
    xml
}

/// An IAM user holding only `policy` (inline), with an access key.
fn user(moto: &MotoServer, name: &str, policy: &Value) -> Key {
    iam(moto, "CreateUser", &[("UserName", name)]);
    iam(
        moto,
        "PutUserPolicy",
        &[
            ("UserName", name),
            ("PolicyName", "ecs-roll"),
            ("PolicyDocument", &policy.to_string()),
        ],
    );
    let xml = iam(moto, "CreateAccessKey", &[("UserName", name)]);
    Key {
        id: xml_first(&xml, "AccessKeyId"),
        secret: xml_first(&xml, "SecretAccessKey"),
    }
}

/// IAM enforcement on (every call checked) or off.
fn enforce(moto: &MotoServer, on: bool) {
    let (status, body) = moto.moto_api("/moto-api/reset-auth", if on { "0" } else { "inf" });
    assert_eq!(status, 200, "reset-auth: {body}");
}

fn policy(text: &str) -> Value {
    serde_json::from_str(text).expect("the policy is JSON")
}

/// The ECS and ELB actions the policy allows (iam:PassRole left out: moto does not check it).
fn api_actions(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        })
        .filter(|a| !a.starts_with("iam:"))
        .collect()
}

/// The policy without `action`.
fn without(policy: &Value, action: &str) -> Value {
    let mut p = policy.clone();
    for s in p["Statement"].as_array_mut().unwrap() {
        if let Value::Array(a) = &mut s["Action"] {
            a.retain(|x| x != action);
        }
    }
    p
}

fn as_user(moto: &MotoServer, key: &Key) -> Command {
    let mut cmd = ecs_roll(moto);
    cmd.env("AWS_ACCESS_KEY_ID", &key.id)
        .env("AWS_SECRET_ACCESS_KEY", &key.secret)
        // A lock left behind (no UntagResource) is taken over within 8 s, not 50 s.
        .env("ECS_ROLL_LOCK_HEARTBEAT", "1s");
    cmd
}

fn assert_no_panic(r: &Run) {
    assert!(!r.stderr.contains("panicked"), "{}", r.context());
}

// ---------------------------------------------------------------------------------------
// the standalone policy is enough

#[test]
fn deploy_rollback_status_and_diff_pass_with_exactly_the_standalone_policy() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let key = user(&moto, "ecs-roll-deployer", &policy(STANDALONE_POLICY));
    enforce(&moto, true);

    // A key the account does not know is refused: enforcement is really on.
    let stranger = Key {
        id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
    };
    let r = run(as_user(&moto, &stranger), &with_globals(&["status"]));
    assert_eq!(r.code(), 2, "{}", r.context());

    let r = run(as_user(&moto, &key), &deploy_args());
    eprintln!(
        "[iam] deploy as ecs-roll-deployer: exit {} in {:?}",
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    r.assert_code(0);
    assert_eq!(r.json()["result"], "succeeded", "{}", r.context());

    for args in [
        with_globals(&["--output", "json", "status"]),
        with_globals(&["diff", "--image", support::IMAGE_V1]),
    ] {
        let r = run(as_user(&moto, &key), &args);
        eprintln!("[iam] {}: exit {}", args.join(" "), r.code());
        r.assert_code(0);
    }

    let r = run(
        as_user(&moto, &key),
        &with_globals(&["--output", "json", "rollback"]),
    );
    eprintln!(
        "[iam] rollback as ecs-roll-deployer: exit {} in {:?}",
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    r.assert_code(0);
    assert_eq!(
        r.json()["target"]["name"],
        "cb-prototype:1",
        "{}",
        r.context()
    );

    enforce(&moto, false);
    let state = quick_state(&moto);
    state.assert_converged(1, "after deploy and rollback as the deployer");
    assert_eq!(state.revisions, [1, 2]);
}

// ---------------------------------------------------------------------------------------
// every action of it is needed

/// What a run without `action` did.
struct Denied {
    action: String,
    codes: Vec<i32>,
    /// ecs-roll's own hint named it ("grant the permission for ecs:StopTask ...").
    hinted: bool,
    /// Some message (ecs-roll's or AWS's, passed on) named it.
    named: bool,
}

/// Actions whose denial ecs-roll reports without its IAM hint (only AWS's message, passed
/// on, names them).
const KNOWN_UNHINTED: &[&str] = &[];

/// Actions whose denial fails no run but makes each warn, naming the permission: without
/// UntagResource the deploy lock cannot be released, and the next run takes it over once it
/// is no longer renewed.
const ONLY_WARNED: &[&str] = &["ecs:UntagResource"];

/// Deploys (and, if that passes, rolls back and deploys again) as a user whose policy lacks
/// `action`; returns the exit codes and whether a failing run named the permission.
fn without_action(action: &str) -> Denied {
    let moto = Pooled::take();
    moto.seed(&SeedOptions::fast());
    let key = user(
        &moto,
        "limited",
        &without(&policy(STANDALONE_POLICY), action),
    );
    enforce(&moto, true);
    let runs = [
        deploy_args(),
        with_globals(&["--output", "json", "rollback"]),
        deploy_args(),
    ];
    let mut codes = Vec::new();
    let mut named = false;
    let mut hinted = false;
    let mut context = String::new();
    for args in &runs {
        let r = run(as_user(&moto, &key), args);
        assert_no_panic(&r);
        codes.push(r.code());
        let text = format!("{}\n{}", r.stdout, r.stderr);
        hinted |= text.contains(&format!("permission for {action}"));
        if !named && let Some(line) = text.lines().find(|l| l.contains(action)) {
            eprintln!("[iam] without {action}: exit {}: {}", r.code(), line.trim());
            named = true;
        }
        context.push_str(&r.context());
        if r.code() != 0 {
            break;
        }
    }
    enforce(&moto, false);
    quick_state(&moto).assert_safe(&format!("without {action}"));
    if !named {
        eprintln!("[iam] without {action}: no message names it:\n{context}");
    }
    Denied {
        action: action.into(),
        codes,
        hinted,
        named,
    }
}

#[test]
fn every_action_of_the_standalone_policy_is_needed_and_named_when_missing() {
    let t0 = Instant::now();
    let actions = api_actions(&policy(STANDALONE_POLICY));
    assert!(actions.len() >= 15, "{actions:?}");
    let queue = Mutex::new(actions.clone());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                while let Some(action) = queue.lock().unwrap().pop() {
                    let d = without_action(&action);
                    eprintln!(
                        "[iam] without {}: exit codes {:?}, named by ecs-roll's hint: {}",
                        d.action, d.codes, d.hinted
                    );
                    results.lock().unwrap().push(d);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    assert_eq!(results.len(), actions.len(), "a case panicked (see above)");
    let unneeded: Vec<&str> = results
        .iter()
        .filter(|d| d.codes.iter().all(|c| *c == 0))
        .map(|d| d.action.as_str())
        .filter(|a| !ONLY_WARNED.contains(a))
        .collect();
    let unhinted: Vec<&str> = results
        .iter()
        .filter(|d| !d.hinted && !KNOWN_UNHINTED.contains(&d.action.as_str()))
        .map(|d| d.action.as_str())
        .collect();
    let unnamed: Vec<&str> = results
        .iter()
        .filter(|d| !d.named)
        .map(|d| d.action.as_str())
        .collect();
    eprintln!(
        "[iam] {} actions removed one at a time in {:?}: every removal failed a run: {}; \
         named by ecs-roll's hint: {} of {}",
        results.len(),
        t0.elapsed(),
        unneeded.is_empty(),
        results.iter().filter(|d| d.hinted).count(),
        results.len()
    );
    assert!(
        unneeded.is_empty(),
        "deploy, rollback and deploy again all passed without: {unneeded:?}"
    );
    assert!(
        unhinted.is_empty(),
        "ecs-roll's hint did not name the missing permission: {unhinted:?}"
    );
    assert!(
        unnamed.is_empty(),
        "no message named the missing permission: {unnamed:?}"
    );
}

// ---------------------------------------------------------------------------------------
// service mode

const SERVICE_SETUP: &str = r#"
import json, sys
import boto3

ecs, ec2, elbv2 = boto3.client("ecs"), boto3.client("ec2"), boto3.client("elbv2")
cluster = sys.argv[1]
ecs.create_cluster(clusterName=cluster)
td = ecs.register_task_definition(family="web", containerDefinitions=[
    {"name": "web", "image": "nginx:1", "cpu": 64, "memory": 128,
     "portMappings": [{"containerPort": 80, "hostPort": 0}]}])["taskDefinition"]["taskDefinitionArn"]
vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
alb = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
tg = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc,
                               TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                      DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
image = ec2.describe_images()["Images"][0]["ImageId"]
for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]:
    ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": i["InstanceId"]}))
ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=2,
                   loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}])
print(json.dumps({"td": td, "tg": tg}))
"#;

/// The permissions `status` and `deploy --dry-run` of a service need (on moto, where the
/// service has no task and no service deployment).
const SERVICE_READS: &[&str] = &[
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:ListTasks",
    "ecs:DescribeTaskDefinition",
    "ecs:ListContainerInstances",
    "ecs:DescribeContainerInstances",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
];

/// Denials whose hint names the wrong permission (none: every hint must name the action).
const KNOWN_WRONG_HINTS: &[&str] = &[];

#[test]
fn service_status_and_dry_run_pass_with_the_service_policy() {
    let moto = MotoServer::start();
    let mut setup = Command::new(support::python());
    setup
        .arg("-c")
        .arg(SERVICE_SETUP)
        .arg("web-cluster")
        .stdin(Stdio::null());
    moto.apply_env(&mut setup);
    let out = setup.output().expect("running python3");
    assert!(
        out.status.success(),
        "service setup failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service_user = user(&moto, "ecs-roll-service", &policy(SERVICE_POLICY));
    let standalone_user = user(&moto, "ecs-roll-standalone", &policy(STANDALONE_POLICY));
    // One user per action that `status` and `deploy --dry-run` use, without it.
    let limited: Vec<(&str, Key)> = SERVICE_READS
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let key = user(
                &moto,
                &format!("limited-{i}"),
                &without(&policy(SERVICE_POLICY), a),
            );
            (*a, key)
        })
        .collect();
    enforce(&moto, true);
    let dir = tempfile::tempdir().unwrap();
    let args = |rest: &[&str]| -> Vec<String> {
        [
            "--cluster",
            "web-cluster",
            "--service",
            "web",
            "--region",
            support::REGION,
            "--output",
            "json",
        ]
        .iter()
        .chain(rest)
        .map(|s| s.to_string())
        .collect()
    };
    // The service user's calls go through the proxy, to see which permissions they used.
    let seen = proxy::Proxy::start(
        moto.port(),
        std::sync::Arc::new(proxy::PassThrough) as std::sync::Arc<dyn proxy::Interceptor>,
    );
    let in_dir = |key: &Key| {
        let mut c = as_user(&moto, key);
        c.current_dir(dir.path());
        if key.id == service_user.id {
            c.env("AWS_ENDPOINT_URL", seen.endpoint());
        }
        c
    };
    for rest in [
        &["status"][..],
        &["deploy", "--image", "nginx:1", "--dry-run"][..],
    ] {
        let r = run(in_dir(&service_user), &args(rest));
        eprintln!(
            "[iam] service policy: {}: exit {}",
            rest.join(" "),
            r.code()
        );
        assert_no_panic(&r);
        r.assert_code(0);

        let r = run(in_dir(&standalone_user), &args(rest));
        eprintln!(
            "[iam] standalone policy: {}: exit {}",
            rest.join(" "),
            r.code()
        );
        assert_no_panic(&r);
        assert_eq!(r.code(), 2, "{}", r.context());
        let doc = r.json();
        assert!(
            doc["hint"]
                .as_str()
                .unwrap_or_default()
                .contains("ecs:DescribeServices"),
            "the hint should name the missing permission: {doc}"
        );
    }
    // Without any one of them, `status` or `deploy --dry-run` (or both) fails before changing
    // anything, and names it.
    let mut wrong_hints = Vec::new();
    for (action, key) in &limited {
        let mut failed = 0;
        for rest in [
            &["status"][..],
            &["deploy", "--image", "nginx:1", "--dry-run"][..],
        ] {
            let r = run(in_dir(key), &args(rest));
            assert_no_panic(&r);
            if r.code() == 0 {
                continue;
            }
            failed += 1;
            assert_eq!(r.code(), 2, "without {action}: {}", r.context());
            let hint = r.json()["hint"].as_str().unwrap_or_default().to_string();
            if !hint.contains(&format!("permission for {action}")) {
                eprintln!(
                    "[iam] service mode without {action}: {}: hint {hint:?}",
                    rest[0]
                );
                wrong_hints.push(*action);
            }
        }
        assert!(
            failed > 0,
            "status and deploy --dry-run passed without {action}"
        );
    }
    wrong_hints.dedup();
    eprintln!(
        "[iam] service mode: {} read permissions removed one at a time; wrong hints: {wrong_hints:?}",
        limited.len()
    );
    assert_eq!(
        wrong_hints, KNOWN_WRONG_HINTS,
        "the hint should name the missing permission"
    );
    // `--alarm` needs cloudwatch:DescribeAlarms, which the policy leaves to those who use it.
    let gated = [
        "deploy",
        "--image",
        "nginx:1",
        "--dry-run",
        "--alarm",
        "web-5xx",
    ];
    let r = run(in_dir(&service_user), &args(&gated));
    assert_no_panic(&r);
    assert_eq!(r.code(), 2, "{}", r.context());
    let hint = r.json()["hint"].as_str().unwrap_or_default().to_string();
    assert!(
        hint.contains("permission for cloudwatch:DescribeAlarms"),
        "{hint}"
    );
    enforce(&moto, false);
    let mut used = seen.operations();
    used.sort();
    used.dedup();
    eprintln!("[iam] service mode used: {used:?}");
    for op in [
        "DescribeClusters",
        "DescribeServices",
        "ListTasks",
        "DescribeTaskDefinition",
        "DescribeTargetGroups",
        "DescribeTargetGroupAttributes",
        "ListContainerInstances",
        "DescribeContainerInstances",
    ] {
        assert!(used.iter().any(|u| u == op), "{op} not used: {used:?}");
    }
}

// ---------------------------------------------------------------------------------------
// the policies' shape

#[test]
fn the_policies_are_valid_and_pass_roles_only_to_ecs_tasks() {
    for (name, text) in [
        ("standalone", STANDALONE_POLICY),
        ("service", SERVICE_POLICY),
    ] {
        let p = policy(text);
        assert_eq!(p["Version"], "2012-10-17", "{name}");
        let actions = api_actions(&p);
        let mut sorted = actions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), actions.len(), "{name}: duplicate actions");
        assert!(
            actions
                .iter()
                .all(|a| a.starts_with("ecs:") || a.starts_with("elasticloadbalancing:")),
            "{name}: {actions:?}"
        );
        assert!(
            !actions.iter().any(|a| a.contains('*')),
            "{name}: wildcard actions {actions:?}"
        );
        let pass = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == "iam:PassRole")
            .unwrap_or_else(|| panic!("{name}: no iam:PassRole statement"));
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            json!("ecs-tasks.amazonaws.com"),
            "{name}"
        );
    }
    // Standalone tasks are started and stopped by ecs-roll; a service's by ECS.
    let standalone = api_actions(&policy(STANDALONE_POLICY));
    let service = api_actions(&policy(SERVICE_POLICY));
    for a in ["ecs:StartTask", "ecs:StopTask"] {
        assert!(standalone.contains(&a.to_string()) && !service.contains(&a.to_string()));
    }
    assert!(service.contains(&"ecs:UpdateService".to_string()));
    assert!(!standalone.contains(&"ecs:UpdateService".to_string()));
}
