//! End to end: a failed deploy says why, in text, JSON, the `::error` annotation and the job
//! summary, for a pull failure and an OOM kill as ECS reports them (the proxy stops each new
//! task with ECS's own stopped reason). The crash with log lines is in github_actions.rs.

use crate::harness as e2e;
use crate::support;

use std::sync::Arc;

use e2e::proxy::{CrashOnStart, Interceptor, Proxy};
use e2e::{deploy_args, ecs_roll, quick_state, run};
use support::{CLUSTER, MotoServer, SeedOptions};

const PULL: &str = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref docker.io/rafabor/prototype-4-cb:v0.0.2: docker.io/rafabor/prototype-4-cb:v0.0.2: not found";
const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";

/// Deploys v0.0.2 (`--output json`) with every new task stopped with `reason`, in GitHub
/// Actions mode; returns the document, the annotation and the job summary.
fn failed_deploy(reason: &str) -> (serde_json::Value, String, String) {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let stop = CrashOnStart::stopping_with(moto.port(), CLUSTER, "cb-prototype:2", reason);
    let proxy = Proxy::start(moto.port(), stop.clone() as Arc<dyn Interceptor>);
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary) = (dir.path().join("outputs"), dir.path().join("summary"));
    std::fs::write(&outputs, "").unwrap();
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let r = run(cmd, &deploy_args());
    r.assert_code(3);
    assert_eq!(stop.errors(), Vec::<String>::new());
    quick_state(&moto).assert_converged(1, "rolled back: the old revision serves");
    let annotation = r
        .stderr
        .lines()
        .find(|l| l.starts_with("::error::ecs-roll deploy"))
        .unwrap_or_else(|| panic!("no final ::error:: line:\n{}", r.stderr))
        .to_string();
    (
        r.json(),
        annotation,
        std::fs::read_to_string(&summary).unwrap(),
    )
}

#[test]
fn a_pull_failure_says_the_tag_does_not_exist_and_what_to_do() {
    let (doc, annotation, summary) = failed_deploy(PULL);
    let f = &doc["failure"];
    assert_eq!(f["cause"], "image_pull", "{doc}");
    assert_eq!(f["diagnosis"]["problem"], "not_found", "{doc}");
    assert_eq!(f["evidence"]["stopped_reason"], PULL, "{doc}");
    let explanation = f["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("cannot be pulled: the tag or repository does not exist"),
        "{explanation}"
    );
    let hint = f["hint"].as_str().unwrap();
    assert!(hint.contains("exists in its registry"), "{hint}");
    assert!(
        annotation.contains(explanation) && annotation.contains(hint),
        "{annotation}"
    );
    assert!(
        summary.contains(&format!("**Diagnosis:** {explanation}")),
        "{summary}"
    );
}

#[test]
fn an_oom_kill_says_to_raise_the_memory() {
    let (doc, annotation, summary) = failed_deploy(OOM);
    let f = &doc["failure"];
    assert_eq!(f["cause"], "out_of_memory", "{doc}");
    let explanation = f["explanation"].as_str().unwrap();
    assert!(explanation.contains("ran out of memory"), "{explanation}");
    let hint = f["hint"].as_str().unwrap();
    assert!(hint.contains("raise `memory`"), "{hint}");
    assert!(annotation.contains(hint), "{annotation}");
    assert!(
        summary.contains("**What to do:** raise `memory`"),
        "{summary}"
    );
}
