//! End to end: the result document of every way a run ends, as the real binary prints it
//! against moto, is valid under schema/result.schema.json, and every --output json-lines
//! line under schema/json-lines.schema.json (scripts/check_schema.py, python's jsonschema).
//! Mutated documents (a required member missing, a wrong result word, an unknown member) are
//! rejected, so the check can fail.

use crate::harness as e2e;
use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use e2e::proxy::{CrashLog, CrashOnStart, Hold, Interceptor, Proxy};
use e2e::{Run, TASKDEF, deploy_args, deploy_args_with, ecs_roll, run, spawn, with_globals};
use serde_json::Value;
use support::{CLUSTER, IMAGE_V2, MotoServer, SeedOptions};

/// Runs scripts/check_schema.py KIND on `text` (a document, or a json-lines stream); returns
/// whether it is valid and what the script said.
fn check(kind: &str, what: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{}.json", what.replace(' ', "-")));
    std::fs::write(&file, text).unwrap();
    let out = Command::new("python3")
        .arg(support::repo_root().join("scripts/check_schema.py"))
        .arg(kind)
        .arg(&file)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => (true, said),
        Some(1) => (false, said),
        other => panic!("check_schema.py {kind} {what}: exit {other:?}\n{said}"),
    }
}

/// `r`'s stdout is one valid result document whose `result` is `word`; returns it.
fn valid_result(r: &Run, code: i32, word: &str, what: &str) -> Value {
    r.assert_code(code);
    let doc = r.json();
    assert_eq!(doc["result"], word, "{what}: {}", r.context());
    let (ok, said) = check("result", what, &r.stdout);
    assert!(
        ok,
        "{what}: not valid under result.schema.json:\n{said}\n{doc:#}"
    );
    doc
}

/// The document with `change` applied is rejected.
fn rejected(doc: &Value, what: &str, change: impl FnOnce(&mut Value)) {
    let mut bad = doc.clone();
    change(&mut bad);
    let (ok, said) = check("result", what, &bad.to_string());
    assert!(!ok, "{what} was accepted: {bad}");
    assert!(!said.trim().is_empty(), "{what}: no error named");
}

#[test]
fn success_dry_run_refusal_and_their_json_lines_match_the_schema_and_mutations_do_not() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let r = run(ecs_roll(&moto), &deploy_args_with(&["--dry-run"]));
    valid_result(&r, 0, "planned", "a dry run");

    let r = run(ecs_roll(&moto), &deploy_args());
    let doc = valid_result(&r, 0, "succeeded", "a successful deploy");
    rejected(&doc, "no result", |d| {
        d.as_object_mut().unwrap().remove("result");
    });
    rejected(&doc, "result word of the outputs", |d| {
        d["result"] = "success".into()
    });
    rejected(&doc, "succeeded with exit 3", |d| d["exit_code"] = 3.into());
    rejected(&doc, "an unknown member", |d| {
        d["resutl"] = "succeeded".into()
    });
    rejected(&doc, "no steps", |d| {
        d.as_object_mut().unwrap().remove("steps");
    });

    // The same run's stream: every line valid, and a broken line is not.
    let r = run(
        ecs_roll(&moto),
        &with_globals(&[
            "--output",
            "json-lines",
            "rollback",
            "--task-definition",
            TASKDEF,
        ]),
    );
    r.assert_code(0);
    let (ok, said) = check("json-lines", "a rollback's stream", &r.stdout);
    assert!(ok, "{said}\n{}", r.context());
    let last: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    let mut broken = last.clone();
    broken.as_object_mut().unwrap().remove("at");
    assert!(!check("json-lines", "a line without at", &broken.to_string()).0);
    let mut broken = last;
    broken["document"]["result"] = "ok".into();
    assert!(
        !check(
            "json-lines",
            "a result line with a wrong word",
            &broken.to_string()
        )
        .0
    );

    // Refused by the preflight (every instance would leave service at once), and by the
    // command line (no AWS at all).
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let r = run(ecs_roll(&moto), &deploy_args());
    let doc = valid_result(&r, 2, "refused", "a refused deploy");
    rejected(&doc, "refused but something changed", |d| {
        d["nothing_changed"] = false.into()
    });
    rejected(&doc, "no hint", |d| {
        d.as_object_mut().unwrap().remove("hint");
    });
    let nowhere = tempfile::tempdir().unwrap();
    let mut cmd = ecs_roll(&moto);
    cmd.current_dir(nowhere.path());
    let r = run(
        cmd,
        &["--output", "json", "deploy", "--image", IMAGE_V2].map(String::from),
    );
    valid_result(&r, 2, "refused", "a deploy with no target");
}

#[test]
fn rolled_back_and_failed_deploys_match_the_schema() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    // The crashed container leaves log lines: the evidence carries them.
    let log = CrashLog {
        group: "/ecs/cb-prototype".into(),
        prefix: "cb-prototype".into(),
        container: "cb-prototype".into(),
        lines: vec!["listening on :5555".into(), "panic: out of cheese".into()],
    };
    let crash = CrashOnStart::logging(moto.port(), CLUSTER, "cb-prototype:2", log);
    let proxy = Proxy::start(moto.port(), crash.clone() as Arc<dyn Interceptor>);
    let through_proxy = || {
        let mut cmd = ecs_roll(&moto);
        cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
        cmd
    };
    let r = run(through_proxy(), &deploy_args());
    let doc = valid_result(&r, 3, "rolled-back", "a deploy rolled back");
    assert_eq!(
        doc["failure"]["evidence"]["log"]["lines"][1], "panic: out of cheese",
        "{doc}"
    );
    rejected(&doc, "log lines that are not strings", |d| {
        d["failure"]["evidence"]["log"]["lines"] = serde_json::json!([1, 2]);
    });
    rejected(&doc, "rolled back without its failure", |d| {
        d["failure"] = Value::Null
    });
    rejected(&doc, "a failure without its cause", |d| {
        d["failure"].as_object_mut().unwrap().remove("cause");
    });
    let r = run(through_proxy(), &deploy_args_with(&["--no-rollback"]));
    valid_result(&r, 1, "failed", "a failure under --no-rollback");
}

/// SIGINT while step 1's StartTask is held, as in hints.rs.
#[test]
fn an_interrupted_deploy_and_several_targets_match_the_schema() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let hold = Hold::new("StartTask");
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let child = spawn(cmd, &deploy_args());
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{}",
        child.stderr_so_far()
    );
    child.signal("INT");
    let ack = child.wait_for_line("interrupt received", Duration::from_secs(20));
    hold.release();
    assert!(ack.is_some(), "{}", child.stderr_so_far());
    let r = child.finish(e2e::RUN_LIMIT);
    valid_result(&r, 130, "interrupted", "an interrupted deploy");
    drop(proxy);

    moto.seed(&SeedOptions {
        cluster: "one".into(),
        load_balancer: "one-elb".into(),
        ..SeedOptions::fast()
    });
    moto.seed(&SeedOptions {
        cluster: "two".into(),
        load_balancer: "two-elb".into(),
        extra_args: vec!["--no-reset".into()],
        ..SeedOptions::fast()
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ecs-roll.toml"),
        "family = \"cb-prototype\"\n\
         [[app]]\nname = \"one\"\ncluster = \"one\"\nload_balancer = \"one-elb\"\n\
         [[app]]\nname = \"two\"\ncluster = \"two\"\nload_balancer = \"two-elb\"\n",
    )
    .unwrap();
    let taskdef = support::repo_root().join(TASKDEF);
    let several = |output: &str| {
        let mut cmd = ecs_roll(&moto);
        cmd.current_dir(dir.path());
        let args = [
            "--all",
            "--region",
            support::REGION,
            "--output",
            output,
            "deploy",
            "--image",
            IMAGE_V2,
            "--task-definition",
            path_str(&taskdef),
        ]
        .map(String::from);
        run(cmd, &args)
    };
    let r = several("json");
    let doc = valid_result(&r, 0, "succeeded", "two targets");
    rejected(&doc, "a target without its name", |d| {
        d["targets"][0].as_object_mut().unwrap().remove("name");
    });
    rejected(&doc, "a target with an unknown member", |d| {
        d["targets"][1]["colour"] = "blue".into();
    });
    // The same again as a stream: each event line names its target.
    let r = several("json-lines");
    r.assert_code(0);
    let (ok, said) = check("json-lines", "two targets' stream", &r.stdout);
    assert!(ok, "{said}\n{}", r.context());
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for name in ["one", "two"] {
        assert!(
            lines
                .iter()
                .any(|l| l["target"] == name && l["phase"] == "verify"),
            "no verify phase of {name}: {}",
            r.stdout
        );
    }
    let (last, events) = lines.split_last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(
        last["document"]["targets"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(
        events.iter().all(|l| l["target"].is_string()),
        "{}",
        r.stdout
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn deploys_with_a_failing_and_a_passing_before_command_match_the_schema() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let r = run(
        ecs_roll(&moto),
        &deploy_args_with(&["--before", "sh -c 'exit 3'"]),
    );
    let doc = valid_result(&r, 4, "failed", "a deploy whose --before failed");
    rejected(&doc, "--before without its task", |d| {
        d["before"].as_object_mut().unwrap().remove("task_arn");
    });
    let r = run(
        ecs_roll(&moto),
        &deploy_args_with(&["--before", "./migrate up"]),
    );
    valid_result(&r, 0, "succeeded", "a deploy after its --before passed");
    let mut a = deploy_args_with(&["--before", "./migrate up", "--dry-run"]);
    let at = a.iter().position(|x| x == "json").unwrap();
    a[at] = "json-lines".into();
    let r = run(ecs_roll(&moto), &a);
    r.assert_code(0);
    let (ok, said) = check("json-lines", "a dry run with --before", &r.stdout);
    assert!(ok, "{said}\n{}", r.stdout);
    assert!(
        r.stdout.contains("\"type\":\"before_planned\""),
        "{}",
        r.stdout
    );
}
