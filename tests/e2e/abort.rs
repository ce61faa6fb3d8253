//! End to end: `ecs-roll abort` of the real binary against moto_server. moto has no service
//! deployments, so ECS cannot be asked to stop one there: with nothing in flight, and with a
//! deployment in progress, the command is refused (exit 2) naming why, asks nothing of ECS
//! that changes anything, and its hint runs as printed. The rollback itself is tested on the
//! simulator (tests/engine/service/abort.rs), StopServiceDeployment's request against a stub
//! (tests/contract/aws_services.rs).

use crate::harness as e2e;
use crate::support;

use std::sync::Arc;

use e2e::proxy::{self, Interceptor, PassThrough, Proxy};
use e2e::{Pooled, ecs_roll, run};
use serde_json::{Value, json};
use support::{CLUSTER, FAMILY, MotoServer, REGION, SeedOptions, ServiceSeed};

const SERVICE: &str = FAMILY;

fn service_globals() -> Vec<String> {
    [
        "--cluster",
        CLUSTER,
        "--service",
        SERVICE,
        "--region",
        REGION,
    ]
    .map(String::from)
    .to_vec()
}

fn ecs(moto: &MotoServer, op: &str, body: Value) -> Value {
    let (status, v) =
        proxy::ecs_call(moto.port(), op, &body).unwrap_or_else(|e| panic!("{op} on moto: {e}"));
    assert_eq!(status, 200, "{op}: HTTP {status}: {v}");
    v
}

/// `abort --output json` through a proxy that lists the calls: the document and the calls.
fn abort(moto: &MotoServer) -> (e2e::Run, Vec<String>) {
    let calls = Proxy::start(moto.port(), Arc::new(PassThrough) as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(moto);
    cmd.env("AWS_ENDPOINT_URL", calls.endpoint());
    let mut args = service_globals();
    args.extend(["--output", "json", "abort"].map(String::from));
    let r = run(cmd, &args);
    (r, calls.operations())
}

/// What may change something in AWS.
fn changes(ops: &[String]) -> Vec<&String> {
    ops.iter()
        .filter(|o| !o.starts_with("Describe") && !o.starts_with("List"))
        .collect()
}

/// The backticked command of the refusal's hint, run as printed with the service's flags.
fn hint_runs(moto: &MotoServer, doc: &Value) {
    let hint = doc["hint"].as_str().unwrap_or_default();
    let commands: Vec<&str> = hint
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("ecs-roll "))
        .collect();
    assert!(!commands.is_empty(), "a command to run: {doc}");
    for c in commands {
        let mut args = service_globals();
        args.extend(c.split_whitespace().skip(1).map(String::from));
        let r = run(ecs_roll(moto), &args);
        assert_eq!(r.code(), 0, "`{c}` as hinted:\n{}", r.context());
    }
}

#[test]
fn an_abort_with_nothing_in_flight_or_no_service_deployments_is_refused_and_changes_nothing() {
    let moto = Pooled::take();
    moto.seed(&SeedOptions {
        service: Some(ServiceSeed::classic()),
        ..SeedOptions::fast()
    });

    let (r, ops) = abort(&moto);
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["refusal"]["kind"], "cannot_abort", "{doc}");
    assert_eq!(doc["refusal"]["why"]["reason"], "no_deployment", "{doc}");
    assert_eq!(doc["nothing_changed"], true, "{doc}");
    assert!(changes(&ops).is_empty(), "{ops:?}");
    hint_runs(&moto, &doc);

    // Someone else's deployment in progress: moto cannot be asked to stop it.
    let described = ecs(
        &moto,
        "DescribeServices",
        json!({"cluster": CLUSTER, "services": [SERVICE]}),
    );
    let current = described["services"][0]["taskDefinition"].as_str().unwrap();
    let td = ecs(
        &moto,
        "DescribeTaskDefinition",
        json!({"taskDefinition": current}),
    );
    let mut containers = td["taskDefinition"]["containerDefinitions"].clone();
    containers[0]["image"] = json!("rafabor/prototype-4-cb:v0.0.2");
    let registered = ecs(
        &moto,
        "RegisterTaskDefinition",
        json!({"family": FAMILY, "containerDefinitions": containers}),
    );
    let v2 = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap();
    ecs(
        &moto,
        "UpdateService",
        json!({"cluster": CLUSTER, "service": SERVICE, "taskDefinition": v2}),
    );
    let (r, ops) = abort(&moto);
    eprintln!(
        "[abort] in flight on moto: exit {}; calls {ops:?}",
        r.code()
    );
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["refusal"]["why"]["reason"], "unsupported", "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no service deployments"),
        "{doc}"
    );
    assert!(changes(&ops).is_empty(), "{ops:?}");
    hint_runs(&moto, &doc);
}

#[test]
fn an_abort_of_standalone_tasks_is_a_usage_error_naming_service_mode() {
    let moto = Pooled::take();
    moto.seed(&SeedOptions::fast());
    let mut args = e2e::globals();
    args.extend(["--output", "json", "abort"].map(String::from));
    let r = run(ecs_roll(&moto), &args);
    r.assert_code(2);
    let doc = r.json();
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("abort stops an ECS service deployment"),
        "{doc}"
    );
}
