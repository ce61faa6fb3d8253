//! End to end: `ecs-roll run` against moto over HTTP, on the reference setup (every instance
//! runs the app on static host port 5555). moto runs no containers: its ecs-one-off-exits
//! patch ends a one-off task a few seconds after RunTask with the exit code its command names
//! (`sh -c 'exit 3'`: 3). The log lines are written into moto's CloudWatch Logs by the test,
//! into the stream the task's awslogs options name, while the task runs.

use std::time::Duration;

use serde_json::json;

use crate::harness::{RUN_LIMIT, ecs_roll, run, spawn, with_globals};
use crate::support::{FAMILY, MotoServer, SeedOptions};

const GROUP: &str = "/ecs/cb-prototype";

fn running_app_tasks(moto: &MotoServer) -> Vec<String> {
    let state = moto.inspect();
    let mut v: Vec<String> = state
        .running_tasks()
        .iter()
        .map(|t| {
            t.task_definition_arn
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

fn one_off_family_exists(moto: &MotoServer) -> bool {
    moto.try_aws(
        "ecs",
        "describe_task_definition",
        &json!({"taskDefinition": format!("{FAMILY}-one-off")}),
    )
    .is_ok()
}

#[test]
fn run_follows_the_log_in_order_and_exits_4_when_the_command_fails_then_0_when_it_succeeds() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let before = running_app_tasks(&moto);
    moto.aws("logs", "create_log_group", &json!({"logGroupName": GROUP}));

    let args = with_globals(&["--output", "json", "run", "--command", "sh -c 'exit 3'"]);
    let running = spawn(ecs_roll(&moto), &args);
    let started = running
        .wait_for_line("one-off task ", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("never started:\n{}", running.stderr_so_far()));
    // `one-off task ID of cb-prototype:1 started; following its log: ... stream S`
    let stream = started.rsplit("stream ").next().unwrap().trim().to_string();
    assert!(
        stream.starts_with("cb-prototype/cb-prototype/"),
        "{started}"
    );
    moto.aws(
        "logs",
        "create_log_stream",
        &json!({"logGroupName": GROUP, "logStreamName": stream}),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let events: Vec<_> = ["migrating", "step 1 of 2", "step 2 failed"]
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"timestamp": now + i as i64, "message": m}))
        .collect();
    moto.aws(
        "logs",
        "put_log_events",
        &json!({"logGroupName": GROUP, "logStreamName": stream, "logEvents": events}),
    );
    let r = running.finish(RUN_LIMIT);
    r.assert_code(4);
    let doc = r.json();
    assert_eq!(doc["result"], "failed", "{doc}");
    assert_eq!(doc["exit_codes"]["cb-prototype"], 3, "{doc}");
    assert_eq!(
        doc["failed_containers"][0]["why"], "exited_non_zero",
        "{doc}"
    );
    assert_eq!(doc["stop_code"], "EssentialContainerExited", "{doc}");
    assert_eq!(
        doc["last_log_lines"],
        json!(["migrating", "step 1 of 2", "step 2 failed"]),
        "{doc}"
    );
    // Each line once, in order, on stderr.
    let shown: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  | "))
        .collect();
    assert_eq!(
        shown,
        ["migrating", "step 1 of 2", "step 2 failed"],
        "{}",
        r.stderr
    );
    // It ran as the one-off variant, beside the app's tasks, which still run.
    assert!(one_off_family_exists(&moto));
    assert_eq!(running_app_tasks(&moto), before);

    let ok = run(
        ecs_roll(&moto),
        &with_globals(&["--output", "json", "run", "--command", "./migrate up"]),
    );
    ok.assert_code(0);
    assert_eq!(ok.json()["result"], "succeeded", "{}", ok.context());
    // The identical variant was reused: still one revision in its family.
    let listed = moto.aws(
        "ecs",
        "list_task_definitions",
        &json!({"familyPrefix": format!("{FAMILY}-one-off")}),
    );
    assert_eq!(
        listed["taskDefinitionArns"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[test]
fn run_with_bad_input_exits_2_and_starts_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    moto.aws(
        "ecs",
        "register_task_definition",
        &json!({"family": "other", "containerDefinitions": [
            {"name": "other", "image": "busybox", "memory": 32}]}),
    );
    let before = running_app_tasks(&moto);
    let cases: [(&[&str], &str); 4] = [
        (&["run", "--command", ""], "the command to run is empty"),
        (&["run", "--command", "   "], "the command to run is empty"),
        (
            &["run", "--command", "./migrate up", "--container", "nope"],
            "has no container \"nope\"",
        ),
        (
            &["run", "--command", "./migrate up", "--revision", "other:1"],
            "other:1 is not of family cb-prototype",
        ),
    ];
    for (args, expect) in cases {
        let r = run(ecs_roll(&moto), &with_globals(args));
        r.assert_refused(expect);
    }
    assert!(!one_off_family_exists(&moto));
    assert_eq!(running_app_tasks(&moto), before);
}

/// A Fargate service `web` in cluster `prod` (revision web:1, awsvpc in a subnet of its own,
/// no load balancer); returns the subnet's id.
pub(crate) fn fargate_service(moto: &MotoServer) -> String {
    let vpc = moto.aws("ec2", "create_vpc", &json!({"CidrBlock": "10.1.0.0/16"}));
    let vpc_id = vpc["Vpc"]["VpcId"].as_str().unwrap().to_string();
    let subnet = moto.aws(
        "ec2",
        "create_subnet",
        &json!({"VpcId": vpc_id, "CidrBlock": "10.1.1.0/24"}),
    );
    let subnet_id = subnet["Subnet"]["SubnetId"].as_str().unwrap().to_string();
    let sg = moto.aws(
        "ec2",
        "create_security_group",
        &json!({"GroupName": "web", "Description": "web", "VpcId": vpc_id}),
    );
    let sg_id = sg["GroupId"].as_str().unwrap().to_string();
    moto.aws("ecs", "create_cluster", &json!({"clusterName": "prod"}));
    moto.aws(
        "ecs",
        "register_task_definition",
        &json!({"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": "web", "image": "acme/web:v1", "essential": true, "memory": 512,
                "portMappings": [{"containerPort": 8080}]}]}),
    );
    let network = json!({"awsvpcConfiguration": {
        "subnets": [subnet_id], "securityGroups": [sg_id], "assignPublicIp": "DISABLED"}});
    moto.aws(
        "ecs",
        "create_service",
        &json!({"cluster": "prod", "serviceName": "web", "taskDefinition": "web:1",
            "desiredCount": 1, "launchType": "FARGATE", "networkConfiguration": network}),
    );
    subnet_id
}

#[test]
fn run_on_a_fargate_service_uses_the_service_network_configuration() {
    let moto = MotoServer::start();
    let subnet_id = fargate_service(&moto);
    let args = [
        "--cluster",
        "prod",
        "--service",
        "web",
        "--region",
        crate::support::REGION,
        "--output",
        "json",
        "run",
        "--command",
        "./migrate up",
        // The repository's ecs-roll.toml names the reference setup's container.
        "--container",
        "web",
    ]
    .map(String::from);
    let r = run(ecs_roll(&moto), &args);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(doc["result"], "succeeded", "{doc}");
    assert_eq!(doc["revision"], "web:1", "{doc}");
    // What moto stored of the RunTask: Fargate, in the service's subnet, no variant needed.
    let task = moto.aws(
        "ecs",
        "describe_tasks",
        &json!({"cluster": "prod", "tasks": [doc["task_arn"]]}),
    );
    let t = &task["tasks"][0];
    assert_eq!(t["launchType"], "FARGATE", "{task}");
    let details = t["attachments"][0]["details"].as_array().unwrap();
    let stored = details.iter().find(|d| d["name"] == "subnetId").unwrap();
    assert_eq!(stored["value"], subnet_id, "{task}");
    assert!(
        moto.try_aws(
            "ecs",
            "describe_task_definition",
            &json!({"taskDefinition": "web-one-off"})
        )
        .is_err()
    );
}
