//! End to end: old revisions (`deploy --keep-revisions`, `ecs-roll prune`) against moto, with
//! which revisions are ACTIVE and INACTIVE in AWS afterwards.

use crate::harness as e2e;
use crate::support;

use e2e::{TASKDEF, ecs_roll, proxy, quick_fingerprint, run, with_globals};
use serde_json::{Value, json};
use support::{FAMILY, IMAGE_V2, MotoServer, SeedOptions};

const IMAGE_V3: &str = "rafabor/prototype-4-cb:v0.0.3";
const IMAGE_V4: &str = "rafabor/prototype-4-cb:v0.0.4";

/// The family's revision numbers with `status` (ACTIVE or INACTIVE) in moto, ascending.
pub(crate) fn revisions_with(moto: &MotoServer, status: &str) -> Vec<i64> {
    let (code, v) = proxy::ecs_call(
        moto.port(),
        "ListTaskDefinitions",
        &json!({"familyPrefix": FAMILY, "status": status}),
    )
    .unwrap();
    assert_eq!(code, 200, "{v}");
    let mut n: Vec<i64> = v["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    n.sort_unstable();
    n
}

fn deploy(moto: &MotoServer, image: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--output", "json", "deploy", "--image", image];
    args.extend(["--task-definition", TASKDEF]);
    args.extend(extra);
    let r = run(ecs_roll(moto), &with_globals(&args));
    r.assert_code(0);
    r.json()
}

/// A revision registered by someone else (another pipeline): newer, never rolled out.
fn register_elsewhere(moto: &MotoServer) {
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(TASKDEF).unwrap()).unwrap();
    body["containerDefinitions"][0]["image"] = "rafabor/prototype-4-cb:elsewhere".into();
    let (code, v) = proxy::ecs_call(moto.port(), "RegisterTaskDefinition", &body).unwrap();
    assert_eq!(code, 200, "{v}");
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn deploys_keeping_two_revisions_deregister_the_old_ones_but_never_the_rollback_target() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 2,
        ..SeedOptions::fast()
    });
    deploy(&moto, IMAGE_V2, &[]);
    deploy(&moto, IMAGE_V3, &[]);
    assert_eq!(revisions_with(&moto, "ACTIVE"), [1, 2, 3]);

    // A dry run lists what would go and changes nothing.
    let before = quick_fingerprint(&moto);
    let dry = run(
        ecs_roll(&moto),
        &with_globals(&["--output", "json", "prune", "--keep", "2", "--dry-run"]),
    );
    dry.assert_code(0);
    let doc = dry.json();
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(strings(&doc["deregistered"]), ["cb-prototype:1"], "{doc}");
    assert_eq!(doc["kept"][0]["reason"], "newest", "{doc}");
    let text = run(
        ecs_roll(&moto),
        &with_globals(&["prune", "--keep", "2", "--dry-run"]),
    );
    text.assert_code(0);
    assert!(
        text.stdout.contains("would deregister cb-prototype:1"),
        "{}",
        text.context()
    );
    // Keeping fewer than two: exit 2, nothing changed.
    let one = run(ecs_roll(&moto), &with_globals(&["prune", "--keep", "1"]));
    one.assert_code(2);
    assert!(
        one.stderr.contains("--keep 1 is below 2"),
        "{}",
        one.context()
    );
    let bad = run(
        ecs_roll(&moto),
        &with_globals(&["deploy", "--image", IMAGE_V4, "--keep-revisions", "1"]),
    );
    bad.assert_code(2);
    assert_eq!(quick_fingerprint(&moto), before);

    // Revision 4 comes from elsewhere; the deploy registers 5 and records 3 as previous:
    // the newest two are 5 and 4, and 3 stays as the rollback target.
    register_elsewhere(&moto);
    let doc = deploy(&moto, IMAGE_V4, &["--keep-revisions", "2"]);
    assert_eq!(doc["target"]["name"], "cb-prototype:5", "{doc}");
    assert_eq!(doc["previous"]["name"], "cb-prototype:3", "{doc}");
    assert_eq!(
        strings(&doc["pruned"]["deregistered"]),
        ["cb-prototype:2", "cb-prototype:1"],
        "{doc}"
    );
    assert_eq!(
        doc["pruned"]["kept"],
        json!([
            {"revision": "cb-prototype:5", "reason": "newest"},
            {"revision": "cb-prototype:4", "reason": "newest"},
            {"revision": "cb-prototype:3", "reason": "rollback-target"},
        ]),
        "{doc}"
    );
    assert_eq!(revisions_with(&moto, "ACTIVE"), [3, 4, 5]);
    assert_eq!(revisions_with(&moto, "INACTIVE"), [1, 2]);

    // And the rollback target is still there to return to.
    let back = run(
        ecs_roll(&moto),
        &with_globals(&["--output", "json", "rollback"]),
    );
    back.assert_code(0);
    assert_eq!(back.json()["target"]["name"], "cb-prototype:3");
}

#[test]
fn history_from_another_directory_lists_the_deploy_and_the_rollback_with_who_when_and_result() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 2,
        ..SeedOptions::fast()
    });
    let mut cmd = ecs_roll(&moto);
    cmd.env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
    let args = with_globals(&["deploy", "--image", IMAGE_V2, "--task-definition", TASKDEF]);
    run(cmd, &args).assert_code(0);
    run(ecs_roll(&moto), &with_globals(&["rollback"])).assert_code(0);

    // Another machine: a directory with no ecs-roll.toml and nothing but the flags.
    let elsewhere = tempfile::tempdir().unwrap();
    let history = |extra: &[&str]| {
        let mut cmd = ecs_roll(&moto);
        cmd.current_dir(elsewhere.path());
        let mut args = with_globals(extra);
        args.push("history".into());
        let r = run(cmd, &args);
        r.assert_code(0);
        r
    };
    let doc = history(&["--output", "json"]).json();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{doc}");
    let (back, forward) = (&entries[0], &entries[1]);
    assert_eq!(back["command"], "rollback", "{doc}");
    assert_eq!(back["revision"], "cb-prototype:1", "{doc}");
    assert_eq!(back["result"], "succeeded", "{doc}");
    assert_eq!(back["commit"], Value::Null, "{doc}");
    assert_eq!(forward["command"], "deploy", "{doc}");
    assert_eq!(forward["revision"], "cb-prototype:2", "{doc}");
    assert_eq!(forward["result"], "succeeded", "{doc}");
    assert_eq!(forward["strategy"], "rolling", "{doc}");
    assert_eq!(forward["images"]["cb-prototype"], IMAGE_V2, "{doc}");
    assert_eq!(
        forward["commit"], "0123456789abcdef0123456789abcdef01234567",
        "{doc}"
    );
    for e in entries {
        assert!(e["by"].as_str().is_some_and(|b| b.contains('@')), "{doc}");
        assert!(
            e["at"].as_str().is_some_and(|a| a.starts_with("20")),
            "{doc}"
        );
        assert!(e["duration_seconds"].is_u64(), "{doc}");
    }

    let text = history(&[]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("WHEN"), "{text}");
    assert!(
        lines[2].contains("rollback") && lines[2].contains("cb-prototype:1"),
        "{text}"
    );
    assert!(
        lines[3].contains("deploy")
            && lines[3].contains("cb-prototype:2")
            && lines[3].contains("succeeded")
            && lines[3].contains("0123456789ab"),
        "{text}"
    );
    let mut cmd = ecs_roll(&moto);
    cmd.current_dir(elsewhere.path());
    let limited = run(
        cmd,
        &with_globals(&["--output", "json", "history", "--limit", "1"]),
    );
    limited.assert_code(0);
    assert_eq!(limited.json()["entries"][0]["command"], "rollback");
    assert_eq!(limited.json()["entries"].as_array().unwrap().len(), 1);
}
