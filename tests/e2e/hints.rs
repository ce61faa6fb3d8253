//! End to end: every command ecs-roll advises after a failure works exactly as printed.
//!
//! Each scenario ends a deploy badly (a crash under --no-rollback, a crash rolled back, an
//! interrupt), takes every backticked `ecs-roll ...` command from what the run printed (the
//! failure's `hint` and the `next_step` of its JSON document, which the text summary prints
//! alike), runs each one with the harness's global flags and environment, asserts it exits 0,
//! and then that the reference setup is whole again: the old revision on every instance,
//! every instance registered and InService, nothing registered without a task.
//!
//! Service mode cannot be run this way on moto (its service deployments never complete);
//! tests/engine/service.rs runs the service equivalents on the simulator.
//!
//! Also here: several targets in one command, where every progress line starts with the
//! name of its target.

use crate::harness as e2e;
use crate::support;

use std::sync::Arc;
use std::time::Duration;

use e2e::proxy::{CrashOnStart, Hold, Interceptor, Proxy};
use e2e::{
    Run, assert_registered_exactly, assert_runs_only, deploy_args, deploy_args_with, ecs_roll,
    globals, run, spawn,
};
use serde_json::Value;
use support::{CLUSTER, IMAGE_V1, MotoServer, SeedOptions, Seeded};

/// The backticked `ecs-roll ...` commands in `text`.
fn commands_in(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("ecs-roll "))
        .map(String::from)
        .collect()
}

/// Every hint the outcome document carries: the failure's and the rollback failure's, and
/// what to do next.
fn hinted_commands(doc: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for key in ["failure", "rollback_failure"] {
        texts.extend(doc[key]["hint"].as_str().map(String::from));
    }
    texts.extend(doc["next_step"].as_str().map(String::from));
    let mut commands: Vec<String> = texts.iter().flat_map(|t| commands_in(t)).collect();
    commands.dedup();
    commands
}

/// Runs `command` (`ecs-roll rollback`, as printed) with the harness's globals.
fn run_as_printed(moto: &MotoServer, command: &str) -> Run {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        words
            .iter()
            .all(|w| !w.chars().all(|c| c.is_ascii_uppercase())),
        "a placeholder cannot be run as printed: {command}"
    );
    let mut args = globals();
    args.extend(words[1..].iter().map(|w| w.to_string()));
    run(ecs_roll(moto), &args)
}

/// Runs every command `doc` advises, each must exit 0; then the setup must be whole again.
fn run_every_hint(moto: &MotoServer, seeded: &Seeded, doc: &Value, what: &str) -> Vec<String> {
    let commands = hinted_commands(doc);
    eprintln!("[e2e] {what}: hinted commands {commands:?}");
    for c in &commands {
        let r = run_as_printed(moto, c);
        eprintln!("[e2e] {what}: `{c}` exit {}", r.code());
        assert_eq!(
            r.code(),
            0,
            "`{c}` as hinted after {what}:\n{}",
            r.context()
        );
    }
    let state = moto.inspect();
    assert_runs_only(&state, 1, IMAGE_V1, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
    commands
}

fn failed_run(r: &Run, code: i32) -> Value {
    r.assert_code(code);
    let doc = r.json();
    assert_eq!(doc["exit_code"], code, "{}", r.context());
    doc
}

#[test]
fn every_hint_after_a_crash_under_no_rollback_works_as_printed() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let crash = CrashOnStart::new(moto.port(), CLUSTER, "cb-prototype:2");
    let proxy = Proxy::start(moto.port(), crash.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let r = run(cmd, &deploy_args_with(&["--no-rollback"]));
    let doc = failed_run(&r, 1);
    assert_eq!(doc["failure"]["cause"], "app_crashed", "{doc}");
    drop(proxy);
    let commands = run_every_hint(&moto, &seeded, &doc, "a crash under --no-rollback");
    assert!(
        commands.iter().any(|c| c == "ecs-roll rollback"),
        "a failed deploy with a revision to return to offers the rollback: {doc}"
    );
}

#[test]
fn every_hint_after_a_rolled_back_deploy_works_as_printed() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let crash = CrashOnStart::new(moto.port(), CLUSTER, "cb-prototype:2");
    let proxy = Proxy::start(moto.port(), crash.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let r = run(cmd, &deploy_args());
    let doc = failed_run(&r, 3);
    drop(proxy);
    let commands = run_every_hint(&moto, &seeded, &doc, "a deploy rolled back");
    // Rolled back already: a second rollback would leave what was just restored.
    assert!(
        !commands.iter().any(|c| c.starts_with("ecs-roll rollback")),
        "{doc}"
    );
    // The rollback was recorded: the next deploy's count and `ecs-roll rollback` go by it,
    // not by the failed deploy's record.
    let state = moto.inspect();
    let v1 = state.task_definition(1).unwrap();
    assert_eq!(
        v1.tags.get("ecs-roll:count").map(String::as_str),
        Some("3"),
        "{:?}",
        v1.tags
    );
}

/// SIGINT while step 1 is in progress (its StartTask held by the proxy until ecs-roll has
/// acknowledged the signal), as in standalone.rs.
#[test]
fn every_hint_after_an_interrupted_deploy_works_as_printed() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let hold = Hold::new("StartTask");
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let child = spawn(cmd, &deploy_args());
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "step 1 never started a task:\n{}",
        child.stderr_so_far()
    );
    child.signal("INT");
    let ack = child.wait_for_line("interrupt received", Duration::from_secs(20));
    hold.release();
    assert!(ack.is_some(), "{}", child.stderr_so_far());
    let r = child.finish(e2e::RUN_LIMIT);
    let doc = failed_run(&r, 130);
    drop(proxy);
    let commands = run_every_hint(&moto, &seeded, &doc, "an interrupted deploy");
    assert!(
        commands.iter().any(|c| c == "ecs-roll rollback"),
        "an interrupted deploy offers the rollback: {doc}"
    );
}

/// Two targets ([[app]]s in two clusters, each with its ELB) deployed at once, plain lines:
/// every progress line, the diff, the plan and the registration included, starts with the
/// name of its target.
#[test]
fn every_progress_line_of_several_targets_starts_with_its_target() {
    let moto = MotoServer::start();
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
    let taskdef = support::repo_root().join(e2e::TASKDEF);
    let mut cmd = ecs_roll(&moto);
    cmd.current_dir(dir.path());
    let args: Vec<String> = [
        "--all",
        "--region",
        support::REGION,
        "deploy",
        "--image",
        support::IMAGE_V2,
        "--task-definition",
        taskdef.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let r = run(cmd, &args);
    r.assert_code(0);
    let lines: Vec<&str> = r.stderr.lines().collect();
    for kind in [
        "task definition changes",
        "plan:",
        "registered cb-prototype:",
    ] {
        for target in ["one", "two"] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("[{target}] ")) && l.contains(kind)),
                "no {kind:?} line of {target}:\n{}",
                r.stderr
            );
        }
    }
    for l in &lines {
        assert!(
            l.starts_with("[one] ") || l.starts_with("[two] "),
            "a progress line without its target: {l:?}\n{}",
            r.stderr
        );
    }
}
