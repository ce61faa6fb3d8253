//! End to end: `--output json-lines` streams the engine's events on stdout as they happen, one
//! JSON object a line (`type`, `at`, `target`, the event's fields), the result document the
//! last line; a refused deploy ends its stream with a valid result line too.

use crate::harness as e2e;
use crate::support;

use e2e::{TASKDEF, ecs_roll, run, with_globals};
use serde_json::Value;
use support::{IMAGE_V2, MotoServer, SeedOptions};

fn json_lines_deploy() -> Vec<String> {
    with_globals(&[
        "--output",
        "json-lines",
        "deploy",
        "--image",
        IMAGE_V2,
        "--task-definition",
        TASKDEF,
    ])
}

/// Every stdout line as JSON, each with its `type`, an RFC 3339 `at` no earlier than the
/// line's before, and `target`.
pub fn lines(r: &e2e::Run) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for l in r.stdout.lines() {
        let v: Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", r.context()));
        assert!(v["type"].is_string(), "{l}");
        assert!(v.get("target").is_some(), "{l}");
        let at = v["at"].as_str().unwrap_or_else(|| panic!("no at: {l}"));
        let t = humantime::parse_rfc3339(at).unwrap_or_else(|e| panic!("{at}: {e}"));
        if let Some(prev) = out.last() {
            let p = humantime::parse_rfc3339(prev["at"].as_str().unwrap()).unwrap();
            assert!(t >= p, "out of order: {prev} then {v}");
        }
        out.push(v);
    }
    assert!(!out.is_empty(), "no lines\n{}", r.context());
    out
}

fn types(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["type"].as_str().unwrap()).collect()
}

#[test]
fn a_deploy_streams_its_events_in_order_as_json_lines_ending_with_the_result() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let r = run(ecs_roll(&moto), &json_lines_deploy());
    r.assert_code(0);
    let lines = lines(&r);
    let kinds = types(&lines);
    let phases: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "phase")
        .map(|l| l["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["preflight", "register", "rollout", "verify"],
        "{kinds:?}"
    );
    for kind in [
        "plan",
        "revision",
        "step_started",
        "action",
        "wait_started",
        "step_finished",
    ] {
        assert!(kinds.contains(&kind), "no {kind} line: {kinds:?}");
    }
    let step = lines.iter().position(|l| l["type"] == "step_started");
    let rollout = lines.iter().position(|l| l["phase"] == "rollout");
    assert!(rollout < step, "steps start within the rollout: {kinds:?}");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "result", "{last}");
    assert_eq!(kinds.iter().filter(|k| **k == "result").count(), 1);
    assert_eq!(last["document"]["result"], "succeeded", "{last}");
    assert_eq!(last["document"]["exit_code"], 0);
    assert_eq!(last["document"]["target"]["name"], "cb-prototype:2");
}

#[test]
fn a_refused_deploy_ends_its_json_lines_with_a_refused_result() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let r = run(ecs_roll(&moto), &json_lines_deploy());
    r.assert_code(2);
    let lines = lines(&r);
    assert_eq!(lines[0]["type"], "phase", "{}", r.context());
    assert_eq!(lines[0]["phase"], "preflight");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "result", "{last}");
    assert_eq!(last["document"]["result"], "refused", "{last}");
    assert_eq!(last["document"]["exit_code"], 2);
    assert_eq!(last["document"]["nothing_changed"], true);
    assert!(
        last["document"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("downtime")),
        "{last}"
    );
}
