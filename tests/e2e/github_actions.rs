//! The real binary as a GitHub Actions step (GITHUB_ACTIONS=true) against moto_server:
//! step outputs parsed the way the runner parses $GITHUB_OUTPUT, the job summary, log groups,
//! annotations, secrets kept out of all of them; and action.yml itself, its steps run the way
//! the runner runs a composite action's steps (a small emulation below).

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::sync::Arc;

use crate::harness::proxy::{CRASH_REASON, CrashLog, CrashOnStart, Interceptor, Proxy};
use serde_json::Value;
use support::{CLUSTER, IMAGE_V2, MotoServer, SeedOptions};

/// Parses a $GITHUB_OUTPUT file as the runner does: `name=value` lines and the heredoc form
/// `name<<DELIMITER`, value lines, `DELIMITER`. Anything else is an error, as in the runner.
fn parse_github_output(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (eq, heredoc) = (line.find('='), line.find("<<"));
        let (key, value) = match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => (&line[..e], line[e + 1..].to_string()),
            (_, Some(h)) => {
                let delim = &line[h + 2..];
                if delim.is_empty() {
                    return Err(format!("empty heredoc delimiter: {line:?}"));
                }
                let mut value = Vec::new();
                loop {
                    match lines.next() {
                        Some(l) if l == delim => break,
                        Some(l) => value.push(l),
                        None => return Err(format!("no closing {delim:?} for {line:?}")),
                    }
                }
                (&line[..h], value.join("\n"))
            }
            _ => return Err(format!("invalid line {line:?}")),
        };
        if key.is_empty() {
            return Err(format!("empty name: {line:?}"));
        }
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    outputs_raw: String,
    summary: String,
}

/// Runs ecs-roll ARGS the way a workflow step does: GITHUB_ACTIONS=true, empty output and
/// summary files, no terminal.
fn gh_run(moto: &MotoServer, args: &[&str]) -> Run {
    gh_run_cmd(moto.ecs_roll(), args)
}

/// Like [`gh_run`], with the command prepared by the caller (e.g. through a proxy).
fn gh_run_cmd(mut cmd: Command, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
    fs::write(&output, "").unwrap();
    fs::write(&summary, "").unwrap();
    let o = cmd
        .args(args)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let outputs_raw = fs::read_to_string(&output).unwrap();
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        outputs: parse_github_output(&outputs_raw)
            .unwrap_or_else(|e| panic!("$GITHUB_OUTPUT: {e}:\n{outputs_raw}")),
        outputs_raw,
        summary: fs::read_to_string(&summary).unwrap(),
    }
}

#[test]
fn the_output_parser_follows_the_runner() {
    let o = parse_github_output("a=1\nb<<EOF\nx\ny=2\nEOF\n\nc=\n").unwrap();
    assert_eq!(o["a"], "1");
    assert_eq!(o["b"], "x\ny=2");
    assert_eq!(o["c"], "");
    assert!(parse_github_output("a<<EOF\nx\n").is_err());
    assert!(parse_github_output("just text\n").is_err());
}

#[test]
fn a_deploy_writes_outputs_summary_and_log_groups() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let r = gh_run(&moto, &["--output", "json", "deploy", "--image", IMAGE_V2]);
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr);
    // The deploy drawn: a gantt and the healthy targets, both accepted by Mermaid.
    assert_eq!(
        crate::mermaid::assert_parses("the job summary of a deploy on moto", &r.summary),
        ["gantt", "xychart"]
    );
    // ... from the same events as `timeline` in the JSON result.
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let timeline = doc["timeline"].as_array().unwrap();
    assert_eq!(timeline[0]["type"], "phase", "{doc}");
    assert!(
        timeline.iter().any(|e| e["type"] == "step_finished"),
        "{doc}"
    );
    let seconds: Vec<f64> = timeline
        .iter()
        .map(|e| e["elapsed_seconds"].as_f64().unwrap())
        .collect();
    assert!(
        seconds.windows(2).all(|w| w[0] <= w[1]),
        "in order: {seconds:?}"
    );

    // The multi-line (heredoc) form, one entry per output.
    assert!(
        r.outputs_raw.contains("result<<") && r.outputs_raw.contains("revision<<"),
        "{}",
        r.outputs_raw
    );
    let o = &r.outputs;
    assert_eq!(o.len(), 8, "{o:?}");
    assert_eq!(o["result"], "succeeded");
    assert_eq!(o["image"], IMAGE_V2, "{o:?}");
    assert_eq!(
        o["images"],
        format!("{{\"cb-prototype\":\"{IMAGE_V2}\"}}"),
        "{o:?}"
    );
    assert_eq!(o["revision"], "2");
    assert!(
        o["task-definition-arn"].starts_with("arn:aws:ecs:"),
        "{o:?}"
    );
    assert!(
        o["task-definition-arn"].ends_with("task-definition/cb-prototype:2"),
        "{o:?}"
    );
    assert!(
        o["previous-task-definition-arn"].ends_with("task-definition/cb-prototype:1"),
        "{o:?}"
    );
    o["duration-seconds"]
        .parse::<u64>()
        .expect("duration-seconds is a whole number");
    o["predicted-seconds"]
        .parse::<u64>()
        .expect("predicted-seconds is a whole number");

    let s = &r.summary;
    assert!(s.contains("ecs-roll deploy: succeeded"), "{s}");
    assert!(
        s.contains("| Step | Took | Predicted |"),
        "steps table:\n{s}"
    );
    assert!(
        s.contains("| Instance | Zone | Revision | Task | Load balancer |"),
        "{s}"
    );
    let rows: Vec<&str> = s.lines().filter(|l| l.starts_with("| `i-")).collect();
    assert_eq!(rows.len(), 3, "{s}");
    for row in rows {
        assert!(
            row.contains("cb-prototype:2") && row.contains("InService"),
            "{row}"
        );
    }

    assert!(r.stderr.contains("::group::"), "{}", r.stderr);
    assert!(!r.stderr.contains("::error::"), "{}", r.stderr);
}

#[test]
fn a_crashed_deploy_annotates_its_diagnosis_and_hint_and_summarises_them() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let crash = CrashOnStart::new(moto.port(), CLUSTER, "cb-prototype:2");
    let proxy = Proxy::start(moto.port(), crash as Arc<dyn Interceptor>);
    let mut cmd = moto.ecs_roll();
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let r = gh_run_cmd(cmd, &["deploy", "--image", IMAGE_V2]);
    assert_eq!(r.code, Some(3), "stderr:\n{}", r.stderr);
    // The final annotation (progress lines annotate the failed step before it).
    let annotation = r
        .stderr
        .lines()
        .find(|l| l.starts_with("::error::ecs-roll deploy"));
    let annotation = annotation.unwrap_or_else(|| panic!("no final ::error:: line:\n{}", r.stderr));
    assert!(annotation.contains(CRASH_REASON), "{annotation}");
    // moto's StopTask leaves the container exit code 0: the app "exited" rather than crashed.
    assert!(
        annotation.contains("diagnosis: the app ") && annotation.contains("hint: "),
        "{annotation}"
    );
    assert!(annotation.contains("--image"), "{annotation}");
    let s = &r.summary;
    assert!(s.contains("**Diagnosis:** the app "), "{s}");
    assert!(s.contains("**What to do:** "), "{s}");
}

#[test]
fn a_crashed_containers_last_log_lines_are_evidence_in_every_output() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    // The reference task definition logs to /ecs/cb-prototype with the prefix cb-prototype.
    let lines: Vec<String> = (1..=24)
        .map(|i| format!("boot step {i}"))
        .chain(["panic: DATABASE_URL is not set".to_string()])
        .collect();
    let log = CrashLog {
        group: "/ecs/cb-prototype".into(),
        prefix: "cb-prototype".into(),
        container: "cb-prototype".into(),
        lines,
    };
    let crash = CrashOnStart::logging(moto.port(), CLUSTER, "cb-prototype:2", log);
    let proxy = Proxy::start(moto.port(), crash.clone() as Arc<dyn Interceptor>);
    let mut cmd = moto.ecs_roll();
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let r = gh_run_cmd(cmd, &["--output", "json", "deploy", "--image", IMAGE_V2]);
    assert_eq!(r.code, Some(3), "stderr:\n{}", r.stderr);
    assert_eq!(crash.errors(), Vec::<String>::new());
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let log = &doc["failure"]["evidence"]["log"];
    assert_eq!(log["container"], "cb-prototype", "{doc}");
    assert_eq!(log["group"], "/ecs/cb-prototype", "{doc}");
    let task = doc["failure"]["evidence"]["task_arn"].as_str().unwrap();
    let id = task.rsplit('/').next().unwrap();
    assert_eq!(
        log["stream"],
        format!("cb-prototype/cb-prototype/{id}"),
        "{doc}"
    );
    let got: Vec<&str> = log["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(got.len(), 20, "the last 20 lines: {got:?}");
    assert_eq!(got[0], "boot step 6");
    assert_eq!(got[19], "panic: DATABASE_URL is not set");
    let annotation = r
        .stderr
        .lines()
        .find(|l| l.starts_with("::error::ecs-roll deploy"))
        .unwrap_or_else(|| panic!("no final ::error:: line:\n{}", r.stderr));
    assert!(
        annotation.contains("last log line of cb-prototype: panic: DATABASE_URL is not set"),
        "{annotation}"
    );
    let s = &r.summary;
    assert!(
        s.contains(
            "**last 20 line(s) of cb-prototype's log (/ecs/cb-prototype cb-prototype/cb-prototype/"
        ),
        "{s}"
    );
    assert!(
        s.contains("boot step 6\n") && !s.contains("boot step 5\n"),
        "{s}"
    );
}

#[test]
fn a_refused_deploy_is_an_error_annotation_and_exit_2() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let r = gh_run(&moto, &["deploy", "--image", IMAGE_V2]);
    assert_eq!(r.code, Some(2), "stderr:\n{}", r.stderr);
    let annotation = r.stderr.lines().find(|l| l.starts_with("::error::"));
    let annotation = annotation.unwrap_or_else(|| panic!("no ::error:: line:\n{}", r.stderr));
    assert!(annotation.contains("downtime"), "{annotation}");
    // Nothing changed: still only revision 1.
    assert_eq!(moto.inspect().task_definitions.len(), 1);
}

#[test]
fn a_secret_in_the_task_definition_appears_nowhere() {
    const SECRET: &str = "hunter2-secret";
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let path = support::repo_root().join("taskdefs/cb-prototype.json");
    let mut td: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    td["containerDefinitions"][0]["environment"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "DB_PASSWORD", "value": SECRET}));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taskdef.json");
    fs::write(&file, td.to_string()).unwrap();

    let r = gh_run(
        &moto,
        &[
            "deploy",
            "--dry-run",
            "--image",
            IMAGE_V2,
            "--task-definition",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr);
    assert_eq!(r.outputs["result"], "planned");
    // The diff did show the new variable (so the check below is not vacuous) ...
    assert!(r.stderr.contains("DB_PASSWORD"), "{}", r.stderr);
    // ... but its value nowhere, once registered as a mask before the diff.
    let mask = format!("::add-mask::{SECRET}");
    let registered = r
        .stderr
        .find(&mask)
        .expect("the secret is registered as a mask");
    assert!(
        registered < r.stderr.find("DB_PASSWORD").unwrap(),
        "{}",
        r.stderr
    );
    let stderr = r.stderr.replace(&mask, "");
    for (what, text) in [
        ("stdout", &r.stdout),
        ("stderr", &stderr),
        ("outputs", &r.outputs_raw),
        ("summary", &r.summary),
    ] {
        assert!(!text.contains(SECRET), "{what} has the secret:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// action.yml, run the way the runner runs a composite action.

/// Runs action.yml's steps with `with` as inputs; returns the action's outputs and the log.
/// Supports exactly the expressions action.yml uses (anything else fails the test).
/// Installs from a local "release": the real binary behind a wrapper, with its SHA256SUMS.
fn run_action(
    moto: &MotoServer,
    with: &[(&str, &str)],
) -> (bool, BTreeMap<String, String>, String) {
    let root = support::repo_root();
    let json = Command::new(support::python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(root.join("action.yml"))
        .output()
        .unwrap();
    assert!(json.status.success(), "{json:?}");
    let action: Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_string()))
        .collect();
    for (k, v) in with {
        assert!(inputs.contains_key(*k), "action.yml has no input {k}");
        inputs.insert(k.to_string(), v.to_string());
    }

    let tmp = tempfile::tempdir().unwrap();
    let release = tmp.path().join("release");
    let pkg = tmp.path().join("pkg");
    fs::create_dir_all(&release).unwrap();
    fs::create_dir_all(&pkg).unwrap();
    let wrapper = format!(
        "#!/bin/sh\nexec '{}' \"$@\"\n",
        env!("CARGO_BIN_EXE_ecs-roll")
    );
    fs::write(pkg.join("ecs-roll"), wrapper).unwrap();
    let sh = |cmd: &str, dir: &Path| {
        let o = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{cmd}: {o:?}");
    };
    sh(
        "chmod +x ecs-roll && tar -czf ../release/ecs-roll-x86_64-unknown-linux-gnu.tar.gz ecs-roll",
        &pkg,
    );
    sh(
        "(sha256sum *.tar.gz || shasum -a 256 *.tar.gz) > SHA256SUMS",
        &release,
    );

    let mut steps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let eval = |text: &str, steps: &BTreeMap<String, BTreeMap<String, String>>| -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("unclosed ${{") + start;
            let expr = rest[start + 3..end].trim();
            let parts: Vec<&str> = expr.split('.').collect();
            out.push_str(&match parts.as_slice() {
                ["inputs", name] => inputs[*name].clone(),
                ["github", "action_ref" | "action_repository"] => String::new(), // empty in composites
                ["github", "action_path" | "workspace"] => root.display().to_string(),
                ["steps", id, "outputs", name] => steps
                    .get(*id)
                    .and_then(|o| o.get(*name))
                    .cloned()
                    .unwrap_or_default(),
                _ => panic!("run_action does not know the expression {expr:?}"),
            });
            rest = &rest[end + 2..];
        }
        out + rest
    };

    let mut log = String::new();
    for (i, step) in action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(step["shell"], "bash");
        let output_file = tmp.path().join(format!("output-{i}"));
        fs::write(&output_file, "").unwrap();
        let script = tmp.path().join(format!("step-{i}.sh"));
        fs::write(&script, step["run"].as_str().unwrap()).unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script);
        moto.apply_env(&mut cmd);
        cmd.current_dir(
            step["working-directory"]
                .as_str()
                .map_or(root.clone(), |d| PathBuf::from(eval(d, &steps))),
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION_PATH", &root)
        .env("GITHUB_WORKSPACE", &root)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", tmp.path().join("summary"))
        .env("GITHUB_PATH", tmp.path().join("path"))
        .env("RUNNER_TEMP", tmp.path())
        .env("ECS_ROLL_RELEASE_BASE_URL", &release)
        .env("ECS_ROLL_INSTALL_OS", "Linux")
        .env("ECS_ROLL_INSTALL_ARCH", "x86_64");
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            cmd.env(k, eval(v.as_str().unwrap(), &steps));
        }
        let o: Output = cmd.output().unwrap();
        log.push_str(&String::from_utf8_lossy(&o.stdout));
        log.push_str(&String::from_utf8_lossy(&o.stderr));
        let outputs = parse_github_output(&fs::read_to_string(&output_file).unwrap())
            .unwrap_or_else(|e| panic!("step {i}: $GITHUB_OUTPUT: {e}"));
        if let Some(id) = step["id"].as_str() {
            steps.insert(id.to_string(), outputs);
        }
        if !o.status.success() {
            return (false, BTreeMap::new(), log);
        }
    }
    let outputs = action["outputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), eval(v["value"].as_str().unwrap(), &steps)))
        .collect();
    (true, outputs, log)
}

#[test]
fn the_action_installs_ecs_roll_maps_inputs_to_flags_and_outputs() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let (ok, out, log) = run_action(
        &moto,
        &[
            ("image", IMAGE_V2),
            ("cluster", "cb-prototype"),
            ("count", "3"),
            ("timeout", "10m"),
            ("version", "v9.9.9"),
            ("extra-args", "--health-timeout 2m"),
        ],
    );
    assert!(ok, "{log}");
    assert!(
        log.contains("verified"),
        "installed from the release: {log}"
    );
    assert!(
        log.contains("+ ecs-roll deploy --cluster cb-prototype --image rafabor/prototype-4-cb:v0.0.2 --count 3 --timeout 10m --health-timeout 2m"),
        "{log}"
    );
    assert_eq!(out["result"], "succeeded", "{log}");
    assert_eq!(out["revision"], "2");
    assert!(
        out["task-definition-arn"].ends_with("cb-prototype:2"),
        "{out:?}"
    );
    assert!(
        out["previous-task-definition-arn"].ends_with("cb-prototype:1"),
        "{out:?}"
    );
    assert!(!out["duration-seconds"].is_empty());

    // Inputs are data, never shell code.
    let marker = moto.dir().join("injected");
    let evil = format!(
        "$(touch {0}) `touch {0}`\n::warning::injected",
        marker.display()
    );
    let (ok, _, log) = run_action(
        &moto,
        &[("image", &evil), ("dry-run", "true"), ("version", "v9.9.9")],
    );
    assert!(!ok, "an image like {evil:?} must be refused:\n{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("::warning::injected")),
        "{log}"
    );
    let (ok, _, log) = run_action(
        &moto,
        &[
            ("command", "status"),
            ("extra-args", &evil),
            ("version", "v9.9.9"),
        ],
    );
    assert!(!ok, "{log}");
    assert!(!marker.exists(), "an input was run as shell code");
    assert!(
        !log.lines().any(|l| l.starts_with("::warning::injected")),
        "an input started a workflow command:\n{log}"
    );

    // Inputs that do not apply, or bad values, are refused before ecs-roll runs.
    for (with, says) in [
        (
            &[("command", "status"), ("image", IMAGE_V2)][..],
            "input 'image' does not apply to command 'status'",
        ),
        (
            &[("command", "redeploy")][..],
            "command must be deploy, rollback, status, diff or matrix",
        ),
        (
            &[("command", "rollback"), ("dry-run", "yes")][..],
            "input 'dry-run' must be true or false",
        ),
    ] {
        let mut with = with.to_vec();
        with.push(("version", "v9.9.9"));
        let (ok, _, log) = run_action(&moto, &with);
        assert!(
            !ok && log.contains(&format!("::error::ecs-roll action: {says}")),
            "{with:?}:\n{log}"
        );
    }
}

/// `command: matrix` turns the [[app]]s of ecs-roll.toml into a job matrix; each job deploys
/// its app with the `app` input.
#[test]
fn the_action_fans_out_over_the_apps_of_the_config() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ecs-roll.toml");
    fs::write(
        &config,
        format!(
            "cluster = \"cb-prototype\"\nfamily = \"cb-prototype\"\ntask_definition = \"{}\"\n\n[[app]]\nname = \"web\"\nload_balancer = \"cb-prototype-elb\"\n\n[[app]]\nname = \"api\"\nservice = \"api\"\n",
            support::repo_root().join("taskdefs/cb-prototype.json").display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let (ok, out, log) = run_action(
        &moto,
        &[
            ("command", "matrix"),
            ("config", &config),
            ("version", "v9.9.9"),
        ],
    );
    assert!(ok, "{log}");
    let matrix: Value = serde_json::from_str(&out["matrix"]).unwrap();
    let apps: Vec<&str> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["app"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["web", "api"], "{matrix}");
    assert_eq!(matrix["include"][1]["service"], "api");

    // One job of that matrix: the web app.
    let (ok, out, log) = run_action(
        &moto,
        &[
            ("app", "web"),
            ("config", &config),
            ("image", IMAGE_V2),
            ("version", "v9.9.9"),
        ],
    );
    assert!(ok, "{log}");
    assert!(log.contains("--app web"), "{log}");
    assert_eq!(out["result"], "succeeded", "{log}");
    assert_eq!(out["revision"], "2", "{out:?}");
}

/// A refused deploy (exit 2) ends like any other in a workflow: the step outputs say
/// `result=refused` with the error, and the job summary says why and that nothing changed.
#[test]
fn a_refused_deploy_writes_outputs_and_a_summary_too() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let r = gh_run(
        &moto,
        &[
            "--load-balancer",
            "no-such-elb",
            "deploy",
            "--image",
            IMAGE_V2,
        ],
    );
    assert_eq!(r.code, Some(2), "stderr:\n{}", r.stderr);
    let o = &r.outputs;
    assert_eq!(o["result"], "refused", "{o:?}");
    assert_eq!(o["exit-code"], "2", "{o:?}");
    assert!(o["error"].contains("no-such-elb"), "{o:?}");
    assert!(
        r.summary.contains("no-such-elb") && r.summary.contains("Nothing was changed in AWS"),
        "{}",
        r.summary
    );
    assert!(
        r.stderr.lines().any(|l| l.starts_with("::error::")),
        "{}",
        r.stderr
    );
}
