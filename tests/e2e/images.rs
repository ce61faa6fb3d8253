//! End to end: images checked before any change, against a real registry on loopback
//! (Debian's docker-registry, as the mirror of docker.io) and moto's ECR. A tag or
//! repository the registry lacks refuses the deploy with nothing changed; a rollback target
//! whose image is gone warns, or refuses under --require-rollback; an unreachable registry
//! warns, or refuses under --image-check require. Nothing is sent to any other registry.

use crate::harness as e2e;
use crate::support;

use e2e::registry::Registry;
use e2e::{ecs_roll, quick_fingerprint, quick_state, run};
use serde_json::json;
use support::{IMAGE_V2, MotoServer, SeedOptions};

const REPO: &str = "rafabor/prototype-4-cb";
const V2_MISSING: &str = "image not found: rafabor/prototype-4-cb:v0.0.2: the repository is in docker.io, but not this tag";

/// ecs-roll with docker.io mirrored by `registry`.
fn mirrored(moto: &MotoServer, registry: &str) -> std::process::Command {
    let mut cmd = ecs_roll(moto);
    cmd.env("ECS_ROLL_REGISTRY_MIRRORS", format!("docker.io={registry}"));
    cmd
}

fn args(rest: &[&str]) -> Vec<String> {
    rest.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_image_missing_from_its_registry_refuses_the_deploy_and_changes_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let registry = Registry::start();
    registry.push(REPO, &["v0.0.1"]);
    let before = quick_fingerprint(&moto);

    let r = run(
        mirrored(&moto, &registry.url()),
        &args(&["deploy", "--image", IMAGE_V2]),
    );
    eprintln!("[images] missing tag: exit {}\n{}", r.code(), r.stderr);
    r.assert_refused(V2_MISSING);
    assert!(r.stderr.contains("push the image first"), "{}", r.stderr);
    let r = run(
        mirrored(&moto, &registry.url()),
        &args(&["deploy", "--image", "cb-prototype=rafabor/nope:1"]),
    );
    r.assert_refused("rafabor/nope:1: docker.io has no such repository");
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");

    // Pushed, the same deploy goes ahead, with nothing to warn about.
    registry.push(REPO, &["v0.0.2"]);
    let r = run(
        mirrored(&moto, &registry.url()),
        &args(&["deploy", "--image", IMAGE_V2]),
    );
    r.assert_code(0);
    assert!(!r.stderr.contains("warning: "), "{}", r.stderr);
    quick_state(&moto).assert_converged(2, "after the push");
}

#[test]
fn a_rollback_target_whose_image_is_gone_warns_and_require_rollback_refuses() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let registry = Registry::start();
    // v0.0.1, which runs now, is gone (a lifecycle policy deleted it).
    registry.push(REPO, &["v0.0.2"]);
    let before = quick_fingerprint(&moto);
    let r = run(
        mirrored(&moto, &registry.url()),
        &args(&["deploy", "--image", IMAGE_V2, "--require-rollback"]),
    );
    r.assert_refused("rollback target cb-prototype:1 is not ready: rafabor/prototype-4-cb:v0.0.1: the repository is in docker.io, but not this tag");
    assert!(
        r.stderr.contains("without --require-rollback"),
        "{}",
        r.stderr
    );
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");

    // The hint as printed: without the flag the deploy goes on, and says so.
    let r = run(
        mirrored(&moto, &registry.url()),
        &args(&["deploy", "--image", IMAGE_V2]),
    );
    r.assert_code(0);
    assert!(
        r.stderr
            .contains("warning: rollback target cb-prototype:1 is not ready")
            && r.stderr.contains("the deploy goes on"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unreachable_registry_warns_under_auto_and_refuses_under_require() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    // Nothing listens there.
    let closed = format!("http://127.0.0.1:{}", support::moto::free_port());
    let before = quick_fingerprint(&moto);
    let r = run(
        mirrored(&moto, &closed),
        &args(&["deploy", "--image", IMAGE_V2, "--image-check", "require"]),
    );
    r.assert_refused("docker.io could not be asked");
    assert!(r.stderr.contains("--image-check auto"), "{}", r.stderr);
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");
    let r = run(
        mirrored(&moto, &closed),
        &args(&["deploy", "--image", IMAGE_V2, "--image-check", "auto"]),
    );
    r.assert_code(0);
    assert!(
        r.stderr
            .contains("warning: rafabor/prototype-4-cb:v0.0.2: docker.io could not be asked"),
        "{}",
        r.stderr
    );
    // Off: no registry asked, no warning.
    let mut off = mirrored(&moto, &closed);
    off.env("ECS_ROLL_IMAGE_CHECK", "off");
    let r = run(
        off,
        &args(&["deploy", "--image", "rafabor/prototype-4-cb:v0.0.3"]),
    );
    r.assert_code(0);
    assert!(!r.stderr.contains("could not be asked"), "{}", r.stderr);
}

#[test]
fn ecr_images_are_checked_through_ecrs_api() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    moto.aws("ecr", "create_repository", &json!({"repositoryName": "cb"}));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": format!("sha256:{}", "1".repeat(64)), "size": 1},
        "layers": []
    });
    moto.aws(
        "ecr",
        "put_image",
        &json!({"repositoryName": "cb", "imageTag": "v2", "imageManifest": manifest.to_string()}),
    );
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let before = quick_fingerprint(&moto);
    let r = run(
        ecs_roll(&moto),
        &args(&["deploy", "--image", &format!("cb-prototype={ecr}/cb:v3")]),
    );
    r.assert_refused(&format!(
        "{ecr}/cb:v3: the repository is in {ecr}, but not this tag"
    ));
    let r = run(
        ecs_roll(&moto),
        &args(&["deploy", "--image", &format!("cb-prototype={ecr}/gone:1")]),
    );
    r.assert_refused("has no such repository");
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");

    let r = run(
        ecs_roll(&moto),
        &args(&["deploy", "--image", &format!("cb-prototype={ecr}/cb:v2")]),
    );
    r.assert_code(0);
    // The rollback target's image is on docker.io, which a local AWS does not ask: said once.
    let notes = r
        .stderr
        .lines()
        .filter(|l| l.contains("images not checked in docker.io"))
        .count();
    assert_eq!(notes, 1, "{}", r.stderr);
}

#[test]
fn bad_image_check_settings_are_refused_before_any_aws_call() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let before = quick_fingerprint(&moto);
    let mut cmd = ecs_roll(&moto);
    cmd.env("ECS_ROLL_REGISTRY_MIRRORS", "docker.io");
    let r = run(cmd, &args(&["deploy", "--image", IMAGE_V2]));
    r.assert_refused("ECS_ROLL_REGISTRY_MIRRORS: \"docker.io\" is not HOST=URL");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ecs-roll.toml");
    std::fs::write(
        &cfg,
        "cluster = \"cb-prototype\"\nload_balancer = \"cb-prototype-elb\"\nimage_check = \"sometimes\"\n",
    )
    .unwrap();
    let r = run(
        ecs_roll(&moto),
        &args(&[
            "--config",
            cfg.to_str().unwrap(),
            "deploy",
            "--image",
            IMAGE_V2,
        ]),
    );
    r.assert_refused("image_check = \"sometimes\"");
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");
}

#[test]
fn a_service_deploy_is_checked_alike() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        service: Some(support::ServiceSeed::classic()),
        ..SeedOptions::fast()
    });
    let registry = Registry::start();
    registry.push(REPO, &["v0.0.1"]);
    let service = ["--service", "cb-prototype", "--family", "cb-prototype"];
    let with = |rest: &[&str]| -> Vec<String> { args(&[&service[..], rest].concat()) };
    let before = quick_fingerprint(&moto);
    let r = run(
        mirrored(&moto, &registry.url()),
        &with(&["deploy", "--image", IMAGE_V2]),
    );
    r.assert_refused(V2_MISSING);
    assert_eq!(quick_fingerprint(&moto), before, "nothing changed");
    registry.push(REPO, &["v0.0.2"]);
    let r = run(
        mirrored(&moto, &registry.url()),
        &with(&["deploy", "--image", IMAGE_V2]),
    );
    r.assert_code(0);
}
