//! End to end: what a release changes beside one image (issue 12, items 1-3), on the
//! reference setup (standalone tasks behind the classic ELB) and on the same app as an ECS
//! service: several images in one revision (`--image CONTAINER=IMAGE`, repeated). Each test
//! asserts the exit code, the JSON result and the revisions left in moto.

use crate::harness as e2e;
use crate::support;

use std::path::PathBuf;

use e2e::{Pooled, Run, ecs_roll, run};
use serde_json::Value;
use support::{
    CLUSTER, FAMILY, IMAGE_V1, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION, SeedOptions,
    ServiceSeed,
};

/// The app (container `cb-prototype`, the web) with a `worker` beside it.
const WEB_WORKER: &str = "tests/fixtures/web-worker.json";
const WORKER_V1: &str = "acme/worker:v1";
const WORKER_V2: &str = "acme/worker:v2";

/// Where a release goes.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Standalone,
    Service,
}

/// Seeds the fast reference setup, with `taskdef` as revision 1, as standalone tasks or
/// as service `cb-prototype`.
fn seed(moto: &MotoServer, mode: Mode, taskdef: &str) {
    moto.seed(&SeedOptions {
        task_definition: Some(PathBuf::from(taskdef)),
        service: matches!(mode, Mode::Service).then(ServiceSeed::classic),
        ..SeedOptions::fast()
    });
}

/// The global flags of the target, JSON output, then `rest`.
fn args(mode: Mode, rest: &[&str]) -> Vec<String> {
    let target = match mode {
        Mode::Standalone => ["--family", FAMILY, "--load-balancer", LOAD_BALANCER],
        Mode::Service => ["--family", FAMILY, "--service", FAMILY],
    };
    ["--cluster", CLUSTER, "--region", REGION, "--output", "json"]
        .into_iter()
        .chain(target)
        .chain(rest.iter().copied())
        .map(String::from)
        .collect()
}

fn succeeded(r: &Run) -> Value {
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(doc["result"], "succeeded", "{}", r.context());
    doc
}

fn revisions(moto: &MotoServer) -> Vec<i64> {
    moto.inspect()
        .task_definitions
        .iter()
        .map(|t| t.revision)
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. several images

fn a_web_and_worker_release(mode: Mode) {
    let moto = Pooled::take();
    seed(&moto, mode, WEB_WORKER);
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let mut cmd = ecs_roll(&moto);
    let summary = dir.path().join("step_summary");
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let r = run(
        cmd,
        &args(
            mode,
            &[
                "deploy",
                "--task-definition",
                WEB_WORKER,
                "--image",
                &format!("cb-prototype={IMAGE_V2}"),
                "--image",
                &format!("worker={WORKER_V2}"),
            ],
        ),
    );
    let doc = succeeded(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    // The reported image is the changed container's, and each change is listed.
    assert_eq!(doc["target"]["image"], IMAGE_V2, "{doc}");
    assert_eq!(doc["target"]["images"]["worker"], WORKER_V2, "{doc}");
    assert_eq!(doc["previous"]["images"]["worker"], WORKER_V1, "{doc}");
    assert_eq!(
        doc["images"],
        serde_json::json!([
            {"container": "cb-prototype", "old": IMAGE_V1, "new": IMAGE_V2},
            {"container": "worker", "old": WORKER_V1, "new": WORKER_V2},
        ]),
        "{doc}"
    );
    // The step outputs: the changed container's image, and each change by container.
    let written = std::fs::read_to_string(&outputs).unwrap();
    let images = serde_json::json!({"cb-prototype": IMAGE_V2, "worker": WORKER_V2}).to_string();
    assert!(
        written.contains(&format!("images<<ECS_ROLL_EOF\n{images}\n")),
        "{written}"
    );
    assert!(
        written.contains(&format!("image<<ECS_ROLL_EOF\n{IMAGE_V2}\n")),
        "{written}"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    for row in [
        format!("| Image `cb-prototype` | `{IMAGE_V1}` → `{IMAGE_V2}` |"),
        format!("| Image `worker` | `{WORKER_V1}` → `{WORKER_V2}` |"),
    ] {
        assert!(summary.contains(&row), "{row} missing:\n{summary}");
    }
    let state = moto.inspect();
    assert_eq!(revisions(&moto), [1, 2], "one new revision for both images");
    let rev2 = state.task_definition(2).unwrap();
    assert_eq!(rev2.images["cb-prototype"], IMAGE_V2, "{rev2:?}");
    assert_eq!(rev2.images["worker"], WORKER_V2, "{rev2:?}");
}

#[test]
fn a_web_and_worker_release_registers_both_images_in_one_revision_on_the_reference_setup() {
    a_web_and_worker_release(Mode::Standalone);
}

#[test]
fn a_web_and_worker_release_registers_both_images_in_one_revision_on_a_service() {
    a_web_and_worker_release(Mode::Service);
}

#[test]
fn the_text_summary_and_the_dry_run_list_each_changed_container() {
    let moto = Pooled::take();
    seed(&moto, Mode::Standalone, WEB_WORKER);
    let mut a = args(
        Mode::Standalone,
        &[
            "deploy",
            "--task-definition",
            WEB_WORKER,
            "--image",
            &format!("worker={WORKER_V2}"),
            "--image",
            IMAGE_V2,
            "--dry-run",
        ],
    );
    a.retain(|x| x != "--output" && x != "json");
    let r = run(ecs_roll(&moto), &a);
    r.assert_code(0);
    for line in [
        format!("image cb-prototype: {IMAGE_V1} -> {IMAGE_V2}"),
        format!("image worker: {WORKER_V1} -> {WORKER_V2}"),
        format!("cb-prototype={IMAGE_V2}, worker={WORKER_V2}"),
    ] {
        assert!(
            r.stdout.contains(&line),
            "{line:?} missing\n{}",
            r.context()
        );
    }
    assert!(
        r.stderr.contains(&format!("\"image\": \"{WORKER_V2}\"")),
        "the diff shows the worker's new image\n{}",
        r.context()
    );
    // The progress log lists each change with the diff, before the plan.
    let worker_line = format!("image worker: {WORKER_V1} -> {WORKER_V2}");
    let listed = r.stderr.find(&worker_line).expect("the change in the log");
    assert!(listed < r.stderr.find("plan:").unwrap(), "{}", r.context());

    // `diff` with the same flags prints the same changes.
    let mut d = args(
        Mode::Standalone,
        &[
            "diff",
            "--task-definition",
            WEB_WORKER,
            "--image",
            &format!("worker={WORKER_V2}"),
            "--image",
            IMAGE_V2,
        ],
    );
    d.retain(|x| x != "--output" && x != "json");
    let diff = run(ecs_roll(&moto), &d);
    diff.assert_code(0);
    for line in [
        format!("image cb-prototype: {IMAGE_V1} -> {IMAGE_V2}"),
        worker_line,
    ] {
        assert!(
            diff.stdout.contains(&line),
            "{line:?} missing\n{}",
            diff.context()
        );
    }
    assert_eq!(
        revisions(&moto),
        [1],
        "a dry run and a diff register nothing"
    );
}

// ---------------------------------------------------------------------------------------
// 2. a file or an existing revision as it is

/// The reference task definition with `image`, as register-task-definition input.
fn reference_with(image: &str) -> Value {
    let text = std::fs::read_to_string(support::repo_root().join(e2e::TASKDEF)).unwrap();
    let mut td: Value = serde_json::from_str(&text).unwrap();
    td["containerDefinitions"][0]["image"] = image.into();
    td
}

/// The revision every running task of the family runs (None: several, or none).
fn running_revision(moto: &MotoServer) -> Option<i64> {
    let state = moto.inspect();
    let mut running: Vec<i64> = state
        .tasks
        .iter()
        .filter(|t| t.last_status.as_deref() == Some("RUNNING"))
        .map(|t| t.revision)
        .collect();
    running.sort_unstable();
    running.dedup();
    match running.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

fn a_file_deployed_as_it_is(mode: Mode) {
    let moto = Pooled::take();
    seed(&moto, mode, e2e::TASKDEF);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("td.json");
    std::fs::write(&file, reference_with(IMAGE_V2).to_string()).unwrap();
    let r = run(
        ecs_roll(&moto),
        &args(
            mode,
            &["deploy", "--task-definition", file.to_str().unwrap()],
        ),
    );
    let doc = succeeded(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["target"]["image"], IMAGE_V2, "{doc}");
    assert_eq!(
        doc["images"],
        serde_json::json!([{"container": "cb-prototype", "old": IMAGE_V1, "new": IMAGE_V2}]),
        "{doc}"
    );
    assert_eq!(revisions(&moto), [1, 2]);
    let state = moto.inspect();
    assert_eq!(
        state.task_definition(2).unwrap().image.as_deref(),
        Some(IMAGE_V2)
    );
    assert_eq!(running_revision(&moto), Some(2), "{:?}", state.tasks);
}

#[test]
fn a_task_definition_file_without_an_image_is_deployed_as_it_is_on_the_reference_setup() {
    a_file_deployed_as_it_is(Mode::Standalone);
}

#[test]
fn a_task_definition_file_without_an_image_is_deployed_as_it_is_on_a_service() {
    a_file_deployed_as_it_is(Mode::Service);
}

fn a_revision_rolled_out_then_rolled_back(mode: Mode) {
    let moto = Pooled::take();
    seed(&moto, mode, e2e::TASKDEF);
    // Revision 2 registered elsewhere (Terraform, another pipeline).
    moto.aws("ecs", "register_task_definition", &reference_with(IMAGE_V2));
    let r = run(
        ecs_roll(&moto),
        &args(mode, &["deploy", "--revision", "cb-prototype:2"]),
    );
    let doc = succeeded(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["previous"]["name"], "cb-prototype:1", "{doc}");
    assert_eq!(e2e::api_calls(&doc, "RegisterTaskDefinition"), 0, "{doc}");
    assert_eq!(revisions(&moto), [1, 2], "nothing registered");
    assert_eq!(running_revision(&moto), Some(2));
    let state = moto.inspect();
    assert_eq!(
        e2e::previous_tag(&state, 2),
        Some(e2e::arn_of(&state, 1)),
        "the revision it replaced is recorded"
    );

    let back = run(ecs_roll(&moto), &args(mode, &["rollback"]));
    let doc = succeeded(&back);
    assert_eq!(doc["target"]["name"], "cb-prototype:1", "{doc}");
    assert_eq!(revisions(&moto), [1, 2]);
    assert_eq!(running_revision(&moto), Some(1));
}

#[test]
fn a_revision_rolled_out_as_it_is_is_rolled_back_to_the_one_before_on_the_reference_setup() {
    a_revision_rolled_out_then_rolled_back(Mode::Standalone);
}

#[test]
fn a_revision_rolled_out_as_it_is_is_rolled_back_to_the_one_before_on_a_service() {
    a_revision_rolled_out_then_rolled_back(Mode::Service);
}

#[test]
fn a_revision_of_another_family_than_the_service_runs_is_refused() {
    let moto = Pooled::take();
    seed(&moto, Mode::Service, e2e::TASKDEF);
    let mut other = reference_with(IMAGE_V2);
    other["family"] = "other-app".into();
    moto.aws("ecs", "register_task_definition", &other);
    let before = e2e::quick_fingerprint(&moto);
    let r = run(
        ecs_roll(&moto),
        &args(Mode::Service, &["deploy", "--revision", "other-app:1"]),
    );
    r.assert_code(2);
    assert!(
        r.stderr
            .contains("other-app:1 is not of family cb-prototype"),
        "{}",
        r.context()
    );
    assert_eq!(e2e::quick_fingerprint(&moto), before, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// 3. env and secrets by flag

const DB_SECRET: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db-password";

/// (name, value) of the first container's `environment`, or of its `secrets` (valueFrom).
fn variables(moto: &MotoServer, revision: i64, list: &str) -> Vec<(String, String)> {
    let td = moto.aws(
        "ecs",
        "describe_task_definition",
        &serde_json::json!({"taskDefinition": format!("{FAMILY}:{revision}")}),
    );
    let key = if list == "secrets" {
        "valueFrom"
    } else {
        "value"
    };
    let mut v: Vec<(String, String)> = td["taskDefinition"]["containerDefinitions"][0][list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("name"), text(key))
        })
        .collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn an_env_change(mode: Mode) {
    let moto = Pooled::take();
    seed(&moto, mode, e2e::TASKDEF);
    let r = run(
        ecs_roll(&moto),
        &args(
            mode,
            &[
                "deploy",
                "--env",
                "LOG_LEVEL=debug",
                "--env",
                "PORT=5555",
                "--unset-env",
                "APP_ENV",
                "--secret",
                &format!("DB_PASSWORD={DB_SECRET}"),
            ],
        ),
    );
    let doc = succeeded(&r);
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(
        doc["images"],
        serde_json::json!([]),
        "no image changes: {doc}"
    );
    assert_eq!(revisions(&moto), [1, 2]);
    assert_eq!(
        variables(&moto, 2, "environment"),
        pairs(&[("LOG_LEVEL", "debug"), ("PORT", "5555")])
    );
    assert_eq!(
        variables(&moto, 2, "secrets"),
        pairs(&[("DB_PASSWORD", DB_SECRET)])
    );
    assert_eq!(
        variables(&moto, 1, "environment"),
        pairs(&[("APP_ENV", "prototype"), ("PORT", "5555")]),
        "revision 1 is untouched"
    );
    assert_eq!(running_revision(&moto), Some(2));
    assert!(
        !r.stderr.contains(DB_SECRET),
        "the secret's reference is masked in the diff\n{}",
        r.context()
    );
}

#[test]
fn an_env_and_secret_change_without_an_image_registers_the_new_environment_on_the_reference_setup()
{
    an_env_change(Mode::Standalone);
}

#[test]
fn an_env_and_secret_change_without_an_image_registers_the_new_environment_on_a_service() {
    an_env_change(Mode::Service);
}

#[test]
fn in_github_actions_every_masked_value_is_registered_before_the_diff_and_masked_inside_others() {
    let moto = Pooled::take();
    seed(&moto, Mode::Standalone, e2e::TASKDEF);
    let password = "hunter2-correct-horse";
    let mut a = args(
        Mode::Standalone,
        &[
            "deploy",
            "--image",
            IMAGE_V2,
            "--env",
            &format!("DB_PASSWORD={password}"),
            "--env",
            &format!("DATABASE_URL=postgres://app:{password}@db:5432/app"),
            "--secret",
            &format!("API_KEY={DB_SECRET}"),
            "--dry-run",
        ],
    );
    a.retain(|x| x != "--output" && x != "json");
    let mut cmd = ecs_roll(&moto);
    cmd.env("GITHUB_ACTIONS", "true");
    let r = run(cmd, &a);
    r.assert_code(0);
    let lines: Vec<&str> = r.stderr.lines().collect();
    let first_mention = |needle: &str| lines.iter().position(|l| l.contains(needle));
    for value in [password, DB_SECRET] {
        let mask = first_mention(&format!("::add-mask::{value}"))
            .unwrap_or_else(|| panic!("{value} not registered\n{}", r.context()));
        let other = lines
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains(value) && !l.starts_with("::add-mask::"));
        assert_eq!(other, None, "{value} printed\n{}", r.context());
        let diff = first_mention("task definition changes").expect("a diff");
        assert!(mask < diff, "registered after the diff\n{}", r.context());
    }
    assert!(
        r.stderr.contains("postgres://app:****@db:5432/app"),
        "the password inside DATABASE_URL is masked\n{}",
        r.context()
    );
    assert!(!r.stdout.contains(password), "{}", r.context());
    assert_eq!(revisions(&moto), [1], "a dry run registers nothing");
}
