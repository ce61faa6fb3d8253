//! End to end: several targets in one command (`[[app]]`s with `--all`). Every target's
//! preflight passes before anything changes in any of them: one refused target and none is
//! deployed.

use crate::harness as e2e;
use crate::support;

use e2e::{TASKDEF, ecs_roll, quick_fingerprint, quick_state, run};
use support::{CLUSTER, FAMILY, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION, SeedOptions};

/// ecs-roll.toml in `dir`: the reference target's cluster, region, family and task
/// definition at the top level, then `rest` (keys and `[[app]]`s).
fn write_config(dir: &std::path::Path, rest: &str) -> std::path::PathBuf {
    let taskdef = support::repo_root().join(TASKDEF);
    let text = format!(
        "cluster = \"{CLUSTER}\"\nregion = \"{REGION}\"\nfamily = \"{FAMILY}\"\ntask_definition = \"{}\"\n{rest}",
        taskdef.display()
    );
    let path = dir.join("ecs-roll.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A config with the reference app and a second app whose load balancer is misspelt.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "\n[[app]]\nname = \"web\"\nload_balancer = \"{LOAD_BALANCER}\"\n\n[[app]]\nname = \"typo\"\nload_balancer = \"{LOAD_BALANCER}x\"\n"
        ),
    )
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

    // The same as one JSON document, and in GitHub Actions as step outputs and one summary.
    let outputs = dir.path().join("outputs");
    let summary = dir.path().join("summary");
    std::fs::write(&outputs, "").unwrap();
    let mut gh = ecs_roll(&moto);
    gh.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let r = run(
        gh,
        &args(&["--all", "--output", "json", "deploy", "--image", IMAGE_V2]),
    );
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["result"], "refused", "{doc}");
    assert_eq!(doc["exit_code"], 2, "{doc}");
    let names: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "typo"], "{doc}");
    assert_eq!(
        doc["targets"][0]["refusal"]["kind"], "other_target_refused",
        "{doc}"
    );
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.contains("results<<"), "{written}");
    assert!(
        written.contains("\"typo\":{"),
        "per-target results: {written}"
    );
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(
        table.contains("| web | refused |") && table.contains("| typo | refused |"),
        "{table}"
    );
    assert!(
        r.stderr.lines().any(|l| l.starts_with("::error::typo: ")),
        "{}",
        r.stderr
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

/// The reference app in us-east-1 and the same app in eu-west-1, one `[[app]]` each.
fn two_regions_config(dir: &std::path::Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "load_balancer = \"{LOAD_BALANCER}\"\n\n[[app]]\nname = \"us\"\n\n[[app]]\nname = \"eu\"\nregion = \"eu-west-1\"\n"
        ),
    )
}

#[test]
fn apps_in_two_regions_are_deployed_each_in_its_own_region() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    moto.seed(&SeedOptions {
        extra_args: [
            "--region",
            "eu-west-1",
            "--azs",
            "eu-west-1a,eu-west-1b,eu-west-1c",
            "--no-reset",
        ]
        .map(String::from)
        .to_vec(),
        ..SeedOptions::fast()
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_regions_config(dir.path());
    let args = |rest: &[&str]| -> Vec<String> {
        ["--config", cfg.to_str().unwrap()]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };
    let r = run(
        ecs_roll(&moto),
        &args(&["--all", "--output", "json", "deploy", "--image", IMAGE_V2]),
    );
    eprintln!("[several] two regions: exit {}\n{}", r.code(), r.stderr);
    r.assert_code(0);
    let doc = r.json();
    let revision = |i: usize| {
        let t = &doc["targets"][i];
        assert_eq!(t["result"], "succeeded", "{doc}");
        t["target"]["arn"].as_str().unwrap_or_default().to_string()
    };
    assert!(revision(0).contains(":us-east-1:"), "{doc}");
    assert!(revision(1).contains(":eu-west-1:"), "{doc}");
    quick_state(&moto).assert_converged(2, "the app in us-east-1");

    // Each region now runs the new revision: the status of each says so.
    for (app, region) in [("us", "us-east-1"), ("eu", "eu-west-1")] {
        let r = run(
            ecs_roll(&moto),
            &args(&["--app", app, "--output", "json", "status"]),
        );
        r.assert_code(0);
        let status = r.json();
        let arn = status["running"][0]["revision"]["arn"]
            .as_str()
            .unwrap_or_default();
        assert!(
            arn.starts_with(&format!("arn:aws:ecs:{region}:")) && arn.ends_with(":2"),
            "{region}: {status}"
        );
        let zones: Vec<&str> = status["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["availability_zone"].as_str())
            .collect();
        assert!(zones.iter().all(|z| z.starts_with(region)), "{status}");
    }

    // A command of one target says which to pick instead of taking the first.
    let r = run(ecs_roll(&moto), &args(&["--all", "status"]));
    r.assert_code(2);
    assert!(
        r.stderr
            .contains("status works on one target, but 2 are selected: us, eu")
            && r.stderr.contains("--app NAME"),
        "{}",
        r.stderr
    );
}
