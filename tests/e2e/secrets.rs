//! Secret values never leave ecs-roll in its output. The running revision and the file being
//! deployed both carry secrets: environment variables named like `DB_PASSWORD`, `API_TOKEN`
//! and `AWS_SECRET_ACCESS_KEY`, and a `secrets` entry (`valueFrom`), with different values in
//! each, so any diff would show them. Every way ecs-roll prints something runs against
//! moto_server: `deploy --dry-run` (text and JSON), `diff` (text and JSON), a real deploy in
//! GitHub Actions mode (step outputs and job summary in files), `status` (text and JSON), a
//! rollback, a deploy that clones the running revision, and a failing deploy. No value appears
//! in stdout, stderr, $GITHUB_OUTPUT or $GITHUB_STEP_SUMMARY, while the values did reach AWS
//! (the test would otherwise prove nothing).

use crate::harness as e2e;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{Run, ecs_roll, run, with_globals};
use serde_json::{Value, json};
use support::{IMAGE_V1, IMAGE_V2, MotoServer, SeedOptions};

/// Secret values of revision 1 (seeded) and of the file deployed as revision 2.
const V1: Secrets = Secrets {
    version: "1",
    db_password: "pw1-Zq8xK2mW9vLr",
    api_token: "tok1-7HcYpA3nB5dQ",
    aws_secret: "aws1-wJalrXUtnFEMIK7MDENG",
    secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-v1-AbCdEf",
};
const V2: Secrets = Secrets {
    version: "2",
    db_password: "pw2-Rt4uJ8kLm1Xs",
    api_token: "tok2-9GfWqE2rT6yU",
    aws_secret: "aws2-bPxRfiCYEXAMPLEKEYzz",
    secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-v2-GhIjKl",
};

struct Secrets {
    /// Not a secret: it differs between the two, so the diff has a hunk among the secrets.
    version: &'static str,
    db_password: &'static str,
    api_token: &'static str,
    aws_secret: &'static str,
    secret_arn: &'static str,
}

impl Secrets {
    fn values(&self) -> [&'static str; 4] {
        [
            self.db_password,
            self.api_token,
            self.aws_secret,
            self.secret_arn,
        ]
    }
}

/// The reference task definition with `image` and the secrets of `s`.
fn task_definition(image: &str, s: &Secrets) -> Value {
    let text = std::fs::read_to_string(support::repo_root().join("taskdefs/cb-prototype.json"))
        .expect("the reference task definition");
    let mut td: Value = serde_json::from_str(&text).unwrap();
    let c = &mut td["containerDefinitions"][0];
    c["image"] = json!(image);
    c["environment"] = json!([
        {"name": "PORT", "value": "5555"},
        {"name": "DB_PASSWORD", "value": s.db_password},
        {"name": "APP_VERSION", "value": s.version},
        {"name": "API_TOKEN", "value": s.api_token},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": s.aws_secret},
    ]);
    c["secrets"] = json!([{"name": "DATABASE_URL", "valueFrom": s.secret_arn}]);
    td
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

/// Everything a run printed or wrote, named for messages.
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: &str, r: &Run) {
        eprintln!("[secrets] {what}: exit {}", r.code());
        self.texts
            .push((format!("{what}: stdout"), r.stdout.clone()));
        self.texts
            .push((format!("{what}: stderr"), r.stderr.clone()));
    }

    fn add_file(&mut self, what: &str, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        self.texts.push((what.to_string(), text));
    }

    fn all(&self) -> String {
        self.texts
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn secret_values_appear_in_no_output() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let v1 = write(dir.path(), "v1.json", &task_definition(IMAGE_V1, &V1));
    let v2 = write(dir.path(), "v2.json", &task_definition(IMAGE_V2, &V2));
    moto.seed(&SeedOptions {
        task_definition: Some(v1),
        ..SeedOptions::fast()
    });
    let v2 = v2.to_string_lossy().into_owned();
    let github = |cmd: &mut Command, tag: &str| -> (PathBuf, PathBuf) {
        let (out, summary) = (
            dir.path().join(format!("{tag}-output")),
            dir.path().join(format!("{tag}-summary.md")),
        );
        cmd.env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_OUTPUT", &out)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_REPOSITORY", "octo/app")
            .env("GITHUB_RUN_ID", "42");
        (out, summary)
    };
    let mut seen = Seen { texts: Vec::new() };
    let deploy = |extra: &[&str]| -> Vec<String> {
        let mut a = with_globals(extra);
        a.extend(
            ["deploy", "--image", IMAGE_V2, "--task-definition", &v2]
                .iter()
                .map(|s| s.to_string()),
        );
        a
    };

    // Dry runs and diffs: the task definition diff is printed.
    let mut dry = deploy(&[]);
    dry.push("--dry-run".into());
    let r = run(ecs_roll(&moto), &dry);
    r.assert_code(0);
    seen.add("deploy --dry-run", &r);
    // Not vacuous: the diff shows the environment around the secrets, masked.
    assert!(
        r.stderr.contains("APP_VERSION"),
        "the diff should show the environment:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("****"), "{}", r.stderr);

    let mut dry_json = deploy(&["--output", "json"]);
    dry_json.push("--dry-run".into());
    let r = run(ecs_roll(&moto), &dry_json);
    r.assert_code(0);
    seen.add("deploy --dry-run --output json", &r);

    for output in [&[][..], &["--output", "json"][..]] {
        let mut a = with_globals(output);
        a.extend(
            ["diff", "--image", IMAGE_V2, "--task-definition", &v2]
                .iter()
                .map(|s| s.to_string()),
        );
        let r = run(ecs_roll(&moto), &a);
        r.assert_code(0);
        seen.add(&format!("diff {}", output.join(" ")), &r);
    }
    let r = run(
        ecs_roll(&moto),
        &with_globals(&["diff", "--image", IMAGE_V2, "--task-definition", &v2]),
    );
    assert!(
        r.stdout.contains("APP_VERSION") && r.stdout.contains("****"),
        "{}",
        r.stdout
    );

    // The real deploy, in GitHub Actions mode.
    let mut cmd = ecs_roll(&moto);
    let (out, summary) = github(&mut cmd, "deploy");
    let r = run(cmd, &deploy(&["--output", "json"]));
    r.assert_code(0);
    seen.add("deploy (GitHub Actions)", &r);
    seen.add_file("deploy: $GITHUB_OUTPUT", &out);
    seen.add_file("deploy: $GITHUB_STEP_SUMMARY", &summary);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("task-definition-arn"),
        "the step outputs were written"
    );

    // Status, text and JSON.
    for output in [&[][..], &["--output", "json"][..]] {
        let mut a = with_globals(output);
        a.push("status".into());
        let r = run(ecs_roll(&moto), &a);
        r.assert_code(0);
        seen.add(&format!("status {}", output.join(" ")), &r);
    }

    // A rollback in GitHub Actions mode (its diff goes from V2's secrets back to V1's).
    let mut cmd = ecs_roll(&moto);
    let (out, summary) = github(&mut cmd, "rollback");
    let r = run(cmd, &with_globals(&["rollback"]));
    r.assert_code(0);
    seen.add("rollback (GitHub Actions)", &r);
    seen.add_file("rollback: $GITHUB_OUTPUT", &out);
    seen.add_file("rollback: $GITHUB_STEP_SUMMARY", &summary);

    // A deploy that clones the running revision (no file): the diff comes from AWS's copy.
    let mut cmd = ecs_roll(&moto);
    let (out, summary) = github(&mut cmd, "clone");
    let r = run(
        cmd,
        &with_globals(&[
            "deploy",
            "--image",
            "rafabor/prototype-4-cb:v0.0.3",
            "--dry-run",
        ]),
    );
    r.assert_code(0);
    seen.add("deploy without a file --dry-run (GitHub Actions)", &r);
    seen.add_file("clone: $GITHUB_OUTPUT", &out);
    seen.add_file("clone: $GITHUB_STEP_SUMMARY", &summary);

    // A deploy that fails before changing anything (a misspelt top-level field next to the
    // secrets), in GitHub Actions mode: errors go to the outputs and the summary too.
    let mut bad = task_definition(IMAGE_V2, &V2);
    bad["networkMod"] = json!("bridge");
    let bad = write(dir.path(), "bad.json", &bad);
    let mut cmd = ecs_roll(&moto);
    let (out, summary) = github(&mut cmd, "bad");
    let r = run(
        cmd,
        &with_globals(&[
            "--output",
            "json",
            "deploy",
            "--image",
            IMAGE_V2,
            "--task-definition",
            &bad.to_string_lossy(),
        ]),
    );
    assert_eq!(r.code(), 2, "{}", r.context());
    seen.add("failing deploy (GitHub Actions)", &r);
    seen.add_file("failing deploy: $GITHUB_OUTPUT", &out);
    seen.add_file("failing deploy: $GITHUB_STEP_SUMMARY", &summary);

    // The values did reach AWS: revision 2 carries V2's, revision 1 V1's.
    let registered = |rev: i64| -> String {
        let (status, v) = e2e::proxy::ecs_call(
            moto.port(),
            "DescribeTaskDefinition",
            &json!({"taskDefinition": format!("cb-prototype:{rev}")}),
        )
        .unwrap();
        assert_eq!(status, 200, "{v}");
        v.to_string()
    };
    for (rev, s) in [(1, &V1), (2, &V2)] {
        let body = registered(rev);
        for v in s.values() {
            assert!(body.contains(v), "revision {rev} lacks {v}: {body}");
        }
    }

    // And no output holds any of them, but for the `::add-mask::` commands that register
    // them with the runner (which shows those lines to no one).
    let mut leaks = Vec::new();
    for (what, text) in &seen.texts {
        for v in V1.values().iter().chain(V2.values().iter()) {
            let shown = text
                .lines()
                .find(|l| l.contains(v) && !l.starts_with("::add-mask::"));
            if let Some(line) = shown {
                leaks.push(format!("{what}: {v} in {line:?}"));
            }
        }
    }
    eprintln!(
        "[secrets] {} outputs checked ({} bytes), {} secret values, leaks: {}",
        seen.texts.len(),
        seen.all().len(),
        V1.values().len() + V2.values().len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "secret values leaked:\n{}",
        leaks.join("\n")
    );
}

/// Secret references outside `secrets[]` are shown in diffs: `logConfiguration.secretOptions
/// [].valueFrom` and `repositoryCredentials.credentialsParameter` name secrets just as
/// `secrets[].valueFrom` does, which is masked (src/secrets.rs `mask_task_definition` looks at
/// `environment` and `secrets` only).
#[test]
fn secret_references_outside_secrets_are_masked_too() {
    let mut td = task_definition(IMAGE_V2, &V2);
    let c = &mut td["containerDefinitions"][0];
    c["logConfiguration"]["secretOptions"] = json!([{"name": "token", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/log-token"}]);
    c["repositoryCredentials"] = json!({"credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry"});
    let shown = ecs_roll::taskdef::TaskDefinition::parse(&td.to_string(), "td")
        .unwrap()
        .display_json();
    for reference in ["parameter/log-token", "secret:registry"] {
        assert!(!shown.contains(reference), "{reference} shown:\n{shown}");
    }
}
