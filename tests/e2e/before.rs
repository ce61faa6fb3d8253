//! End to end: `deploy --before "CMD"` against moto over HTTP. The command runs in a one-off
//! task of the new revision (moto's ecs-one-off-exits patch ends it with the exit code its
//! command names: `sh -c 'exit 3'` exits 3); the test writes its log lines into moto's
//! CloudWatch Logs while it runs. A failing command rolls nothing out (exit 4); a succeeding
//! one is followed by the rollout.

use std::fs;
use std::time::Duration;

use serde_json::json;

use crate::harness::{RUN_LIMIT, deploy_args_with, ecs_roll, previous_tag, run, spawn};
use crate::support::{IMAGE_V2, MotoServer, SeedOptions};

const GROUP: &str = "/ecs/cb-prototype";

/// Revisions of the family's running tasks (the one-off variant's family aside), sorted.
fn running_revisions(moto: &MotoServer) -> Vec<i64> {
    let mut v: Vec<i64> = moto
        .inspect()
        .running_tasks()
        .iter()
        .map(|t| t.revision)
        .collect();
    v.sort();
    v
}

/// Writes `lines` into the log stream a running one-off task's started line names.
fn write_log(moto: &MotoServer, started: &str, lines: &[&str]) {
    let stream = started.rsplit("stream ").next().unwrap().trim().to_string();
    moto.aws(
        "logs",
        "create_log_stream",
        &json!({"logGroupName": GROUP, "logStreamName": stream}),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"timestamp": now + i as i64, "message": m}))
        .collect();
    moto.aws(
        "logs",
        "put_log_events",
        &json!({"logGroupName": GROUP, "logStreamName": stream, "logEvents": events}),
    );
}

#[test]
fn a_failing_before_command_rolls_nothing_out_and_exits_4_then_a_passing_one_deploys() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    moto.aws("logs", "create_log_group", &json!({"logGroupName": GROUP}));
    let before = running_revisions(&moto);

    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
    fs::write(&output, "").unwrap();
    fs::write(&summary, "").unwrap();
    let mut cmd = ecs_roll(&moto);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let running = spawn(cmd, &deploy_args_with(&["--before", "sh -c 'exit 3'"]));
    let started = running
        .wait_for_line("started; following its log", Duration::from_secs(90))
        .unwrap_or_else(|| panic!("never started:\n{}", running.stderr_so_far()));
    write_log(&moto, &started, &["migrating", "ERROR: column exists"]);
    let r = running.finish(RUN_LIMIT);
    r.assert_code(4);
    let doc = r.json();
    assert_eq!(doc["result"], "failed", "{doc}");
    assert_eq!(doc["exit_code"], 4, "{doc}");
    assert_eq!(doc["failure"]["kind"], "before_failed", "{doc}");
    assert_eq!(doc["failure"]["cause"], "before_failed", "{doc}");
    assert_eq!(doc["before"]["command"], "sh -c 'exit 3'", "{doc}");
    assert_eq!(doc["before"]["revision"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["before"]["exit_codes"]["cb-prototype"], 3, "{doc}");
    assert_eq!(
        doc["before"]["last_log_lines"],
        json!(["migrating", "ERROR: column exists"]),
        "{doc}"
    );
    assert!(
        doc["next_step"]
            .as_str()
            .unwrap()
            .contains("cb-prototype:1 keeps serving"),
        "{doc}"
    );
    // The log was shown as it came, and the error annotation names the command.
    assert!(
        r.stderr.contains("  | ERROR: column exists"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("::error") && l.contains("sh -c 'exit 3'")),
        "{}",
        r.stderr
    );
    let outputs = fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("before-result<<"), "{outputs}");
    assert!(outputs.contains("\nfailed\n"), "{outputs}");
    assert!(outputs.contains("{\"cb-prototype\":3}"), "{outputs}");
    let summary = fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("Before the rollout: `sh -c 'exit 3'`"),
        "{summary}"
    );
    assert!(summary.contains("ERROR: column exists"), "{summary}");
    // Nothing rolled out; the new revision is registered but carries no rollout record.
    assert_eq!(running_revisions(&moto), before);
    let state = moto.inspect();
    assert_eq!(previous_tag(&state, 2), None);

    // The fixed migration: the same revision is reused, the command passes, the rollout runs.
    let ok = run(
        ecs_roll(&moto),
        &deploy_args_with(&["--before", "./migrate up"]),
    );
    ok.assert_code(0);
    let doc = ok.json();
    assert_eq!(doc["result"], "succeeded", "{}", ok.context());
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["before"]["result"], "succeeded", "{doc}");
    assert_eq!(doc["before"]["revision"], "cb-prototype:2", "{doc}");
    assert!(running_revisions(&moto).iter().all(|r| *r == 2));
    assert!(previous_tag(&moto.inspect(), 2).is_some());
    assert!(
        ok.stderr.contains("before the rollout: `./migrate up`"),
        "{}",
        ok.stderr
    );
    let _ = IMAGE_V2;
}

#[test]
fn bad_before_input_exits_2_and_changes_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let before = crate::harness::quick_fingerprint(&moto);
    let cases: [(&[&str], &str); 4] = [
        (&["--before", ""], "the command to run is empty"),
        (&["--before", "sh -c 'exit"], "has an unclosed quote"),
        (
            &["--before", "./migrate up", "--before-container", "nope"],
            "has no container \"nope\"",
        ),
        (
            &["--before", "./migrate up", "--run-timeout", "soon"],
            "--run-timeout",
        ),
    ];
    for (extra, expect) in cases {
        let r = run(ecs_roll(&moto), &deploy_args_with(extra));
        r.assert_refused(expect);
    }
    assert_eq!(crate::harness::quick_fingerprint(&moto), before);
}

#[test]
fn a_fargate_service_runs_its_before_command_on_its_network_and_deploys_only_once_it_passes() {
    let moto = MotoServer::start();
    let subnet_id = crate::oneoff::fargate_service(&moto);
    // moto starts no Fargate tasks: with its service scheduler on, a service of none is one
    // whose deployment completed.
    moto.aws(
        "ecs",
        "update_service",
        &json!({"cluster": "prod", "service": "web", "desiredCount": 0}),
    );
    let (status, body) = moto.moto_api(
        "/moto-api/state-manager/set-transition",
        &json!({"model_name": crate::support::SCHEDULER_MODEL,
            "transition": {"progression": "time", "seconds": 1}})
        .to_string(),
    );
    assert!((200..300).contains(&status), "{body}");
    std::thread::sleep(Duration::from_secs(2));
    // Not the repository's ecs-roll.toml, which names the reference setup's file and container.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ecs-roll.toml");
    fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap().to_string();
    let args = |before: &str| {
        [
            "--config",
            &config,
            "--cluster",
            "prod",
            "--service",
            "web",
            "--region",
            crate::support::REGION,
            "--output",
            "json",
            "deploy",
            "--image",
            "web=acme/web:v2",
            "--before",
            before,
        ]
        .map(String::from)
    };
    let r = run(ecs_roll(&moto), &args("sh -c 'exit 5'"));
    r.assert_code(4);
    let doc = r.json();
    assert_eq!(doc["before"]["exit_codes"]["web"], 5, "{doc}");
    // The one-off ran the new revision itself (awsvpc needs no variant) in the service's subnet.
    assert_eq!(doc["before"]["revision"], "web:2", "{doc}");
    let task = moto.aws(
        "ecs",
        "describe_tasks",
        &json!({"cluster": "prod", "tasks": [doc["before"]["task_arn"]]}),
    );
    let t = &task["tasks"][0];
    assert_eq!(t["launchType"], "FARGATE", "{task}");
    let details = t["attachments"][0]["details"].as_array().unwrap();
    let stored = details.iter().find(|d| d["name"] == "subnetId").unwrap();
    assert_eq!(stored["value"], subnet_id, "{task}");
    let svc = moto.aws(
        "ecs",
        "describe_services",
        &json!({"cluster": "prod", "services": ["web"]}),
    );
    let td = svc["services"][0]["taskDefinition"].as_str().unwrap();
    assert!(
        td.ends_with("/web:1"),
        "the service keeps its revision: {svc}"
    );
}
