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
    r.assert_refused(&format!(
        "alarm {ALARM} (set by the test) is in ALARM already"
    ));
    let r = run(ecs_roll(&moto), &deploy_with_alarms(&["cb-prototype-typo"]));
    r.assert_refused("CloudWatch has no alarm \"cb-prototype-typo\"");
    assert_eq!(
        (revisions(&moto), service(&moto)["taskDefinition"].clone()),
        before,
        "nothing registered, the service unchanged"
    );
    // The hint's command lists the alarms there are, as printed.
    assert!(
        r.stderr.contains("`aws cloudwatch describe-alarms`"),
        "{}",
        r.context()
    );
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
        r.stdout
            .contains(&format!("\"alarms\":[[\"{ALARM}\"],true]")),
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

/// The reference setup (standalone, classic ELB): ecs-roll reads the alarm itself. It goes
/// into ALARM during the bake after the last step, and the whole deploy is rolled back.
#[test]
fn standalone_an_alarm_firing_during_the_bake_rolls_the_deploy_back() {
    let moto = Pooled::take();
    moto.seed(&SeedOptions::fast());
    put_alarm(&moto, ALARM, "OK");
    let args = e2e::deploy_args_with(&["--alarm", ALARM, "--bake", "2m"]);
    let running = e2e::spawn(ecs_roll(&moto), &args);
    let line = running.wait_for_line("waiting for bake", std::time::Duration::from_secs(240));
    assert!(
        line.is_some(),
        "no bake started:\n{}",
        running.stderr_so_far()
    );
    let fired = std::time::Instant::now();
    moto.aws(
        "cloudwatch",
        "set_alarm_state",
        &json!({"AlarmName": ALARM, "StateValue": "ALARM", "StateReason": "5xx up"}),
    );
    let r = running.finish(std::time::Duration::from_secs(600));
    eprintln!(
        "[alarms] standalone: exit {} after {:?}, {:?} after the alarm fired",
        r.code(),
        r.took,
        fired.elapsed()
    );
    r.assert_code(3);
    let doc = r.json();
    assert_eq!(doc["result"], "rolled-back", "{}", r.context());
    assert_eq!(doc["failure"]["cause"], "alarm_fired", "{doc}");
    assert_eq!(doc["failure"]["step"], "bake for 2m", "{doc}");
    assert!(
        doc["failure"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(ALARM),
        "{doc}"
    );
    let state = e2e::quick_state(&moto);
    for (id, i) in &state.instances {
        assert!(
            i.running == [1] && i.registered,
            "{id} serves revision 1 again: {i:?}"
        );
    }
}
