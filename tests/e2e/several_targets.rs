//! End to end: several targets in one command (`[[app]]`s with `--all`). Every target's
//! preflight passes before anything changes in any of them: one refused target and none is
//! deployed.

use crate::harness as e2e;
use crate::support;

use e2e::{TASKDEF, ecs_roll, quick_fingerprint, quick_state, run};
use support::{CLUSTER, FAMILY, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION, SeedOptions};

/// A config with the reference app and a second app whose load balancer is misspelt.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let taskdef = support::repo_root().join(TASKDEF);
    let text = format!(
        r#"cluster = "{CLUSTER}"
region = "{REGION}"
family = "{FAMILY}"
task_definition = "{}"

[[app]]
name = "web"
load_balancer = "{LOAD_BALANCER}"

[[app]]
name = "typo"
load_balancer = "{LOAD_BALANCER}x"
"#,
        taskdef.display()
    );
    let path = dir.join("ecs-roll.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn one_refused_target_keeps_every_target_of_the_command_unchanged() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let before = quick_fingerprint(&moto);
    let args = |rest: &[&str]| -> Vec<String> {
        ["--config", cfg.to_str().unwrap()]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let r = run(
        ecs_roll(&moto),
        &args(&["--all", "deploy", "--image", IMAGE_V2]),
    );
    eprintln!(
        "[several] --all with one refused target: exit {}\n{}",
        r.code(),
        r.stdout
    );
    r.assert_code(2);
    let line = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("typo").contains("cb-prototype-elbx"),
        "the refused target says why:\n{}",
        r.stdout
    );
    assert!(
        line("web").contains("not started: the preflight of typo failed"),
        "the other target says why it did not start:\n{}",
        r.stdout
    );
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed anywhere");

    // Left out, the same deploy goes ahead.
    let r = run(
        ecs_roll(&moto),
        &args(&["--app", "web", "deploy", "--image", IMAGE_V2]),
    );
    r.assert_code(0);
    quick_state(&moto).assert_converged(2, "the web app alone");
}
