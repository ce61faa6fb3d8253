//! End to end: bad input to the real ecs-roll binary. Each case must exit 2 with one
//! `error:` line on stderr that names the problem, and leave AWS exactly as it was.
//!
//! One moto_server, seeded once, serves the whole table (every case is supposed to be
//! read-only; a case that is not is caught by the fingerprint taken after it). The
//! fingerprint after each case is read straight from moto over HTTP (task definition
//! ARNs, revision 1's tags, RUNNING and STOPPED tasks, ELB instance health); a full
//! inspection before and after the table compares everything else.

use crate::harness as e2e;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::TASKDEF;
use e2e::{Fingerprint, Run, ecs_roll, globals, quick_fingerprint, run, tail};
use support::{IMAGE_V2, MotoServer, SeedOptions};

/// Where a case runs.
enum Cwd {
    /// The repository root (its ecs-roll.toml applies).
    Repo,
    /// An empty directory: no ecs-roll.toml here or above.
    Empty,
    /// A directory holding an ecs-roll.toml with this text.
    Config(&'static str),
}

struct Case {
    name: &'static str,
    /// Arguments after the global flags; `{td}` is replaced with the task definition
    /// file of the case (or the reference one).
    args: Vec<String>,
    /// Use the reference global flags (cluster, family, load balancer, region).
    globals: bool,
    /// Extra global flags (replacing the reference one of the same name).
    flags: Vec<(&'static str, &'static str)>,
    /// The task definition file's text, for `{td}`.
    taskdef: Option<String>,
    cwd: Cwd,
    /// Unset AWS_REGION / AWS_DEFAULT_REGION.
    no_region: bool,
    /// Every one of these must be in the error line.
    expect: Vec<&'static str>,
}

impl Case {
    fn new(name: &'static str, args: &[&str], expect: &[&'static str]) -> Case {
        Case {
            name,
            args: args.iter().map(|s| s.to_string()).collect(),
            globals: true,
            flags: Vec::new(),
            taskdef: None,
            cwd: Cwd::Repo,
            no_region: false,
            expect: expect.to_vec(),
        }
    }

    fn taskdef(mut self, text: impl Into<String>) -> Case {
        self.taskdef = Some(text.into());
        self
    }

    fn flag(mut self, flag: &'static str, value: &'static str) -> Case {
        self.flags.push((flag, value));
        self
    }

    fn no_globals(mut self) -> Case {
        self.globals = false;
        self
    }

    fn cwd(mut self, cwd: Cwd) -> Case {
        self.cwd = cwd;
        self
    }

    fn no_region(mut self) -> Case {
        self.no_region = true;
        self
    }
}

fn reference_taskdef() -> String {
    std::fs::read_to_string(support::repo_root().join(TASKDEF)).unwrap()
}

/// The reference definition with a second container, `replica`, of the same image.
fn two_containers_of_one_repository(good: &str) -> String {
    let mut td: serde_json::Value = serde_json::from_str(good).unwrap();
    let mut replica = td["containerDefinitions"][0].clone();
    replica["name"] = "replica".into();
    replica["portMappings"] = serde_json::json!([]);
    td["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(replica);
    td.to_string()
}

fn deploy(extra: &[&str]) -> Vec<String> {
    let mut v = vec!["deploy", "--image", IMAGE_V2, "--task-definition", "{td}"];
    v.extend_from_slice(extra);
    v.into_iter().map(String::from).collect()
}

fn cases() -> Vec<Case> {
    let good = reference_taskdef();
    let deploy_case = |name, extra: &[&str], expect: &[&'static str]| {
        let mut c = Case::new(name, &[], expect);
        c.args = deploy(extra);
        c
    };
    let image_case = |name, image: &str, expect: &[&'static str]| {
        Case::new(
            name,
            &["deploy", "--image", image, "--task-definition", "{td}"],
            expect,
        )
    };
    vec![
        deploy_case(
            "malformed JSON task definition",
            &[],
            &["td.json", "not valid JSON"],
        )
        .taskdef(good.replacen("\"family\"", "family", 1)),
        deploy_case(
            "truncated JSON task definition",
            &[],
            &["td.json", "not valid JSON"],
        )
        .taskdef(good[..good.len() / 2].to_string()),
        deploy_case(
            "misspelt field containerDefinition",
            &[],
            &["containerDefinition", "containerDefinitions"],
        )
        .taskdef(good.replace("\"containerDefinitions\"", "\"containerDefinition\"")),
        deploy_case(
            "a container's portMappings misspelt as portBindings",
            &[],
            &[
                "containerDefinitions[0].portBindings",
                "did you mean \"portMappings\"",
            ],
        )
        .taskdef(good.replace("\"portMappings\"", "\"portBindings\"")),
        deploy_case(
            "a --container that does not exist",
            &["--container", "nope"],
            &["\"nope\"", "cb-prototype"],
        ),
        image_case(
            "an image with an uppercase repository",
            "Rafabor/app:v1",
            &["Rafabor/app:v1", "invalid image"],
        ),
        image_case(
            "an image with an empty tag",
            "app:",
            &["\"app:\"", "invalid image", "tag"],
        ),
        image_case(
            "a --image CONTAINER=IMAGE with no container",
            "=rafabor/prototype-4-cb:v0.0.2",
            &["no container name", "=rafabor/prototype-4-cb:v0.0.2"],
        ),
        image_case(
            "a --image CONTAINER=IMAGE with no image",
            "cb-prototype=",
            &["invalid image", "cb-prototype="],
        ),
        image_case(
            "a --image for a container the definition lacks",
            "nope=rafabor/prototype-4-cb:v0.0.2",
            &["\"nope\"", "cb-prototype"],
        ),
        deploy_case(
            "a container given two images",
            &["--image", "cb-prototype=rafabor/prototype-4-cb:v0.0.3"],
            &["\"cb-prototype\"", "two images"],
        ),
        // No ecs-roll.toml: its `container` would pick the container for the plain image.
        deploy_case(
            "a plain image that fits two containers",
            &[],
            &["cb-prototype, replica", "several containers"],
        )
        .taskdef(two_containers_of_one_repository(&good))
        .cwd(Cwd::Empty),
        deploy_case(
            "--env without =VALUE",
            &["--env", "LOG_LEVEL"],
            &["--env \"LOG_LEVEL\"", "=VALUE"],
        ),
        deploy_case(
            "--env for a container the definition lacks",
            &["--env", "nope:LOG_LEVEL=debug"],
            &["\"nope\"", "cb-prototype"],
        ),
        deploy_case(
            "--secret with a value that is no SSM parameter or secret ARN",
            &["--secret", "DB_PASSWORD=arn:aws:s3:::bucket/key"],
            &["--secret DB_PASSWORD", "not an SSM parameter"],
        ),
        deploy_case(
            "--unset-env with a value",
            &["--unset-env", "APP_ENV=x"],
            &["--unset-env", "takes a name"],
        ),
        deploy_case(
            "one variable set twice",
            &["--env", "APP_ENV=a", "--secret", "APP_ENV=/prod/app-env"],
            &["APP_ENV", "given twice"],
        ),
        Case::new(
            "a deploy with nothing to deploy",
            &["deploy"],
            &["nothing to deploy"],
        ),
        deploy_case(
            "a cluster that does not exist",
            &[],
            &["cluster", "\"no-such-cluster\""],
        )
        .flag("--cluster", "no-such-cluster"),
        deploy_case(
            "an ELB that does not exist",
            &[],
            &["load balancer", "\"no-such-elb\""],
        )
        .flag("--load-balancer", "no-such-elb"),
        deploy_case("--timeout 0", &["--timeout", "0"], &["--timeout", "zero"]),
        deploy_case(
            "--bake that is no duration",
            &["--bake", "soon"],
            &["--bake \"soon\"", "not a duration"],
        ),
        deploy_case(
            "--linear-step below ECS's 3%",
            &["--linear-step", "2"],
            &["--linear-step 2", "from 3 to 100"],
        ),
        deploy_case(
            "--canary-percent with two decimals",
            &["--canary-percent", "2.55"],
            &["--canary-percent 2.55", "at most one decimal"],
        ),
        deploy_case(
            "--alarm with an empty name",
            &["--alarm", " "],
            &["--alarm", "alarm name"],
        ),
        deploy_case(
            "--timeout=-5",
            &["--timeout=-5"],
            &["--timeout", "-5", "negative"],
        ),
        // A negative value given as its own argument must reach ecs-roll's own validation
        // too, not be taken for an unknown flag.
        deploy_case("--timeout -5", &["--timeout", "-5"], &["--timeout", "-5"]),
        deploy_case(
            "--count 0",
            &["--count", "0"],
            &["--count", "0", "at least 1"],
        ),
        deploy_case(
            "a config file with a misspelt key",
            &[],
            &["load_balncer", "did you mean `load_balancer`"],
        )
        .no_globals()
        .cwd(Cwd::Config(
            "cluster = \"cb-prototype\"\nfamily = \"cb-prototype\"\n\
             load_balncer = \"cb-prototype-elb\"\nregion = \"us-east-1\"\n",
        )),
        deploy_case(
            "no cluster from flag, environment or config",
            &[
                "--family",
                "cb-prototype",
                "--load-balancer",
                "cb-prototype-elb",
                "--region",
                "us-east-1",
            ],
            &["no cluster"],
        )
        .no_globals()
        .cwd(Cwd::Empty),
        deploy_case("no region", &[], &["region"])
            .no_globals()
            .flag("--cluster", "cb-prototype")
            .flag("--family", "cb-prototype")
            .flag("--load-balancer", "cb-prototype-elb")
            .cwd(Cwd::Empty)
            .no_region(),
    ]
}

/// Puts a global flag in place of the reference one of the same name.
fn set_flag(args: &mut Vec<String>, flag: &str, value: &str) {
    if let Some(i) = args.iter().position(|a| a == flag) {
        args[i + 1] = value.to_string();
    } else {
        args.insert(0, value.to_string());
        args.insert(0, flag.to_string());
    }
}

fn run_case(moto: &MotoServer, case: &Case, scratch: &Path, n: usize) -> Run {
    let dir = scratch.join(format!("case-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let td: PathBuf = match &case.taskdef {
        Some(text) => {
            let p = dir.join("td.json");
            std::fs::write(&p, text).unwrap();
            p
        }
        None => support::repo_root().join(TASKDEF),
    };
    let mut args = if case.globals { globals() } else { Vec::new() };
    for (f, v) in &case.flags {
        set_flag(&mut args, f, v);
    }
    args.extend(
        case.args
            .iter()
            .map(|a| a.replace("{td}", &td.to_string_lossy())),
    );
    let mut cmd: Command = ecs_roll(moto);
    match case.cwd {
        Cwd::Repo => {}
        Cwd::Empty => {
            cmd.current_dir(&dir);
        }
        Cwd::Config(text) => {
            std::fs::write(dir.join("ecs-roll.toml"), text).unwrap();
            cmd.current_dir(&dir);
        }
    }
    if case.no_region {
        cmd.env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION");
    }
    run(cmd, &args)
}

/// What is wrong with the run, if anything.
fn check(case: &Case, r: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if r.code() != 2 {
        problems.push(format!("exit {} (want 2)", r.code()));
    }
    let errors = r.error_lines();
    match errors.as_slice() {
        [line] => {
            for want in &case.expect {
                if !line.contains(want) {
                    problems.push(format!("the error line does not name {want:?}: {line:?}"));
                }
            }
        }
        other => problems.push(format!("want one `error:` line on stderr, got {other:?}")),
    }
    if !r.stdout.trim().is_empty() {
        problems.push(format!("unexpected stdout: {:?}", tail(&r.stdout, 5)));
    }
    problems
}

#[test]
fn bad_input_exits_2_names_the_problem_and_changes_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let scratch = tempfile::tempdir().unwrap();
    // The empty directories must not have an ecs-roll.toml above them.
    assert!(
        scratch
            .path()
            .ancestors()
            .all(|d| !d.join("ecs-roll.toml").exists()),
        "{} is under a directory with an ecs-roll.toml",
        scratch.path().display()
    );
    let before = moto.inspect();
    let quick_before = quick_fingerprint(&moto);
    let mut failures = Vec::new();
    for (n, case) in cases().iter().enumerate() {
        let r = run_case(&moto, case, scratch.path(), n);
        let mut problems = check(case, &r);
        let quick = quick_fingerprint(&moto);
        if quick != quick_before {
            problems.push(format!(
                "AWS changed:\nbefore {quick_before:#}\nafter {quick:#}"
            ));
        }
        eprintln!(
            "[e2e] {:<45} exit {:>3} in {:>9.1?}: {}",
            case.name,
            r.code(),
            r.took,
            r.error_lines()
                .first()
                .copied()
                .unwrap_or("(no error line)")
        );
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  - {}\n{}",
                case.name,
                problems.join("\n  - "),
                r.context()
            ));
        }
    }

    // With `--output json` the error is also one JSON document on stdout.
    let mut args = globals();
    args.extend(
        ["--output", "json", "deploy", "--image", "Rafabor/app:v1"]
            .iter()
            .map(|s| s.to_string()),
    );
    let r = run(ecs_roll(&moto), &args);
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["result"], "refused", "{doc}");
    assert_eq!(doc["exit_code"], 2, "{doc}");
    assert_eq!(doc["nothing_changed"], true, "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Rafabor/app:v1"),
        "{doc}"
    );

    // A check of AWS that refuses the run says which, as fields.
    let mut args = globals();
    set_flag(&mut args, "--load-balancer", "no-such-elb");
    args.extend(
        [
            "--output",
            "json",
            "deploy",
            "--image",
            "rafabor/prototype-4-cb:v0.0.2",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let r = run(ecs_roll(&moto), &args);
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["refusal"]["kind"], "load_balancer_not_found", "{doc}");
    assert_eq!(doc["refusal"]["name"], "no-such-elb", "{doc}");
    assert_eq!(doc["nothing_changed"], true, "{doc}");

    let after = moto.inspect();
    assert_eq!(after.task_definitions.len(), 1, "nothing registered");
    assert_eq!(Fingerprint::of(&before), Fingerprint::of(&after));
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n\n")
    );
}

/// `deploy --revision` and `diff --revision` of a revision they may not roll out: of
/// another family, INACTIVE, unknown, or together with --task-definition or --image. A moto
/// of their own: the revisions they name are registered (and one deregistered) before the
/// fingerprint is taken.
#[test]
fn a_revision_that_may_not_be_rolled_out_exits_2_and_changes_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let mut other: serde_json::Value = serde_json::from_str(&reference_taskdef()).unwrap();
    other["family"] = "other-app".into();
    moto.aws("ecs", "register_task_definition", &other);
    let mut v2: serde_json::Value = serde_json::from_str(&reference_taskdef()).unwrap();
    v2["containerDefinitions"][0]["image"] = IMAGE_V2.into();
    moto.aws("ecs", "register_task_definition", &v2);
    moto.aws(
        "ecs",
        "deregister_task_definition",
        &serde_json::json!({"taskDefinition": "cb-prototype:2"}),
    );
    let scratch = tempfile::tempdir().unwrap();
    let quick_before = quick_fingerprint(&moto);
    let cases = [
        Case::new(
            "deploy --revision of another family",
            &["deploy", "--revision", "other-app:1"],
            &["other-app:1", "family cb-prototype"],
        ),
        Case::new(
            "deploy --revision of an INACTIVE revision",
            &["deploy", "--revision", "2"],
            &["cb-prototype:2", "INACTIVE"],
        ),
        Case::new(
            "diff --revision of an INACTIVE revision",
            &["diff", "--revision", "cb-prototype:2"],
            &["cb-prototype:2", "INACTIVE"],
        ),
        Case::new(
            "deploy --revision that does not exist",
            &["deploy", "--revision", "9"],
            &["cb-prototype:9", "not found"],
        ),
        Case::new(
            "deploy --revision with --task-definition",
            &["deploy", "--revision", "1", "--task-definition", "{td}"],
            &["--revision and --task-definition"],
        ),
        Case::new(
            "deploy --revision with --env",
            &["deploy", "--revision", "1", "--env", "LOG_LEVEL=debug"],
            &["--revision", "takes no --env"],
        ),
        Case::new(
            "deploy --revision with --image",
            &["deploy", "--revision", "1", "--image", IMAGE_V2],
            &["--revision", "takes no --image"],
        ),
    ];
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let r = run_case(&moto, case, scratch.path(), n);
        let mut problems = check(case, &r);
        if quick_fingerprint(&moto) != quick_before {
            problems.push("AWS changed".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  - {}\n{}",
                case.name,
                problems.join("\n  - "),
                r.context()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
