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
