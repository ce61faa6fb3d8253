//! End to end: `deploy --alarm` of the service behind a target group, against moto's
//! CloudWatch. An alarm in ALARM, or one CloudWatch does not have, is refused before any
//! change (exit 2, the alarm named, the hint's listing command answered); an alarm in OK
//! gates the deploy: set as the deployment's alarms while it runs, none left afterwards.

use crate::harness as e2e;
use crate::support;

use e2e::{Pooled, TASKDEF, ecs_roll, run};
use serde_json::{Value, json};
use support::{CLUSTER, FAMILY, IMAGE_V2, MotoServer, REGION, SeedOptions, ServiceSeed};

const ALARM: &str = "cb-prototype-5xx";

fn deploy_with_alarms(alarms: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--cluster",
        CLUSTER,
        "--service",
        FAMILY,
        "--region",
        REGION,
        "deploy",
        "--image",
        IMAGE_V2,
        "--task-definition",
        TASKDEF,
    ]
    .map(String::from)
    .to_vec();
    for name in alarms {
        a.extend(["--alarm".to_string(), name.to_string()]);
    }
    a
}

fn seeded() -> Pooled {
    let moto = Pooled::take();
    moto.seed(&SeedOptions {
        service: Some(ServiceSeed::target_group()),
        ..SeedOptions::fast()
    });
    moto
}

fn put_alarm(moto: &MotoServer, name: &str, state: &str) {
    moto.aws(
        "cloudwatch",
        "put_metric_alarm",
        &json!({"AlarmName": name, "MetricName": "HTTPCode_Target_5XX_Count",
            "Namespace": "AWS/ApplicationELB", "Statistic": "Sum", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold"}),
    );
    moto.aws(
        "cloudwatch",
        "set_alarm_state",
        &json!({"AlarmName": name, "StateValue": state, "StateReason": "set by the test"}),
    );
}

fn service(moto: &MotoServer) -> Value {
    let out = moto.aws(
        "ecs",
        "describe_services",
        &json!({"cluster": CLUSTER, "services": [FAMILY]}),
    );
    out["services"][0].clone()
}

fn revisions(moto: &MotoServer) -> usize {
    let out = moto.aws(
        "ecs",
        "list_task_definitions",
        &json!({"familyPrefix": FAMILY}),
    );
    out["taskDefinitionArns"].as_array().map_or(0, Vec::len)
}

#[test]
fn an_alarm_in_alarm_or_missing_is_refused_before_any_change() {
    let moto = seeded();
    put_alarm(&moto, ALARM, "ALARM");
    let before = (revisions(&moto), service(&moto)["taskDefinition"].clone());
    let r = run(ecs_roll(&moto), &deploy_with_alarms(&[ALARM]));
    r.assert_refused(&format!("alarm {ALARM} (set by the test) is in ALARM already"));
    let r = run(ecs_roll(&moto), &deploy_with_alarms(&["cb-prototype-typo"]));
    r.assert_refused("CloudWatch has no alarm \"cb-prototype-typo\"");
    assert_eq!(
        (revisions(&moto), service(&moto)["taskDefinition"].clone()),
        before,
        "nothing registered, the service unchanged"
    );
    // The hint's command lists the alarms there are, as printed.
    assert!(r.stderr.contains("`aws cloudwatch describe-alarms`"), "{}", r.context());
    let listed = moto.aws("cloudwatch", "describe_alarms", &json!({}));
    assert_eq!(listed["MetricAlarms"][0]["AlarmName"], ALARM, "{listed}");
}

#[test]
fn an_alarm_in_ok_gates_the_deploy_and_none_is_left_on_the_service() {
    let moto = seeded();
    put_alarm(&moto, ALARM, "OK");
    let mut args = deploy_with_alarms(&[ALARM]);
    args.splice(0..0, ["--output".to_string(), "json-lines".to_string()]);
    let r = run(ecs_roll(&moto), &args);
    r.assert_code(0);
    assert!(
        r.stdout.contains(&format!("\"alarms\":[[\"{ALARM}\"],true]")),
        "the plan names the alarm: {}",
        r.context()
    );
    let config = &service(&moto)["deploymentConfiguration"];
    assert_eq!(
        config["alarms"]["enable"],
        json!(false),
        "the service had no alarms: none are enabled after the deploy: {config}"
    );
    assert_eq!(config["maximumPercent"], 200, "{config}");
}
