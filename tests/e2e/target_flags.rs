//! End to end: every command names its target with the flags `deploy` took. A deploy made with
//! `--cluster --load-balancer --task-definition FILE` (no --family, no ecs-roll.toml) is
//! followed by `status`, `diff`, `unlock` and `rollback` with the same flags, then by a
//! `rollback` with only --cluster and --load-balancer (the family found behind the ELB); two
//! families behind one ELB are refused (exit 2, both named, nothing changed).

use crate::harness as e2e;
use crate::support;

use e2e::{quick_fingerprint, run};
use serde_json::{Value, json};
use support::{CLUSTER, FAMILY, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION, SeedOptions};

/// A directory without ecs-roll.toml, holding the reference task definition file.
fn bare_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taskdefs")).unwrap();
    std::fs::copy(
        support::repo_root().join(e2e::TASKDEF),
        dir.path().join(e2e::TASKDEF),
    )
    .unwrap();
    dir
}

/// `--cluster C --load-balancer L --region R` followed by `rest`: no family anywhere.
fn target(rest: &[&str]) -> Vec<String> {
    [
        "--cluster",
        CLUSTER,
        "--load-balancer",
        LOAD_BALANCER,
        "--region",
        REGION,
    ]
    .iter()
    .chain(rest)
    .map(|s| s.to_string())
    .collect()
}

fn in_dir(moto: &MotoServer, dir: &tempfile::TempDir) -> std::process::Command {
    let mut cmd = e2e::ecs_roll(moto);
    cmd.current_dir(dir.path());
    cmd
}

fn ok(r: &e2e::Run) -> Value {
    r.assert_code(0);
    r.json()
}

#[test]
fn every_command_takes_the_flags_the_deploy_took_and_finds_the_family_behind_the_elb() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let dir = bare_dir();
    let file = e2e::TASKDEF;

    let r = run(
        in_dir(&moto, &dir),
        &target(&[
            "--output",
            "json",
            "deploy",
            "--image",
            IMAGE_V2,
            "--task-definition",
            file,
        ]),
    );
    assert_eq!(ok(&r)["result"], "succeeded", "{}", r.context());

    let r = run(
        in_dir(&moto, &dir),
        &target(&["--output", "json", "status", "--task-definition", file]),
    );
    let doc = ok(&r);
    assert_eq!(doc["family"], FAMILY, "{doc}");
    assert_eq!(doc["running"][0]["revision"]["name"], "cb-prototype:2");

    let r = run(
        in_dir(&moto, &dir),
        &target(&["diff", "--image", IMAGE_V2, "--task-definition", file]),
    );
    r.assert_code(0);
    assert!(
        r.stdout.contains("no change to the task definition"),
        "{}",
        r.context()
    );

    let r = run(
        in_dir(&moto, &dir),
        &target(&["unlock", "--task-definition", file]),
    );
    r.assert_code(0);
    assert!(
        r.stdout.contains("no deploy lock is held"),
        "{}",
        r.context()
    );

    let r = run(
        in_dir(&moto, &dir),
        &target(&["--output", "json", "rollback", "--task-definition", file]),
    );
    let doc = ok(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:1", "{}", r.context());

    // Nothing names the family: the one whose tasks run on the ELB's instances.
    let r = run(
        in_dir(&moto, &dir),
        &target(&["--output", "json", "rollback"]),
    );
    let doc = ok(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{}", r.context());
    let r = run(
        in_dir(&moto, &dir),
        &target(&["--output", "json", "status"]),
    );
    assert_eq!(ok(&r)["family"], FAMILY, "{}", r.context());
    e2e::assert_runs_only(&moto.inspect(), 2, IMAGE_V2, &seeded.instance_ids);
}

#[test]
fn two_families_behind_one_elb_are_refused_naming_both_and_the_flag_to_pass() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    moto.aws(
        "ecs",
        "register_task_definition",
        &json!({
            "family": "worker",
            "containerDefinitions": [{
                "name": "worker", "image": "busybox:1", "memory": 16, "cpu": 16, "essential": true
            }]
        }),
    );
    moto.aws(
        "ecs",
        "start_task",
        &json!({
            "cluster": CLUSTER,
            "taskDefinition": "worker",
            "containerInstances": [seeded.container_instance_arns[0]]
        }),
    );
    let dir = bare_dir();
    let before = quick_fingerprint(&moto);
    let r = run(in_dir(&moto, &dir), &target(&["rollback"]));
    r.assert_code(2);
    assert!(
        r.stderr.contains("several families") && r.stderr.contains("cb-prototype, worker"),
        "{}",
        r.context()
    );
    assert!(
        r.stderr.contains("pass --family cb-prototype"),
        "{}",
        r.context()
    );
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");

    // The hint, as printed, names the target.
    let r = run(
        in_dir(&moto, &dir),
        &target(&["--family", "cb-prototype", "--output", "json", "status"]),
    );
    assert_eq!(ok(&r)["family"], FAMILY, "{}", r.context());
}
