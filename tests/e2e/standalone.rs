//! End to end: the real ecs-roll binary over real HTTP against a moto_server of the test's
//! own on 127.0.0.1, seeded with the reference setup (standalone tasks behind a classic
//! ELB). Each test asserts the exit code, the JSON result, the AWS state left behind (via
//! scripts/inspect_state.py) and, for anything that moves tasks, that the load balancer
//! never ran out of InService instances (a background sampler of DescribeInstanceHealth
//! and of the tasks behind it, every ~50 ms).
//!
//! The ELBs are seeded with the fast timings (`SeedOptions::fast()`: health check every
//! 5 s, connection draining 1 s): the patched moto holds a deregistered instance in
//! "deregistration in progress" for the whole draining timeout, as AWS does at worst, so
//! the reference 60 s would cost a minute per instance.

use crate::harness as e2e;
use crate::support;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use e2e::proxy::{CRASH_REASON, CrashOnStart, Hold, Interceptor, Proxy};
use e2e::{
    Fingerprint, Run, api_calls, arn_of, assert_registered_exactly, assert_runs_only,
    assert_safe_resting_state, ecs_roll, previous_tag, run, spawn, with_globals,
};
use e2e::{TASKDEF, deploy_args};
use serde_json::Value;
use support::{
    AwsState, CLUSTER, FAMILY, HealthReport, IMAGE_V1, IMAGE_V2, MotoServer, SeedOptions, Seeded,
};

/// Asserts the sampler saw the load balancer serve throughout: at least `min` instances
/// InService (draining ones not counted) and serving with a RUNNING task, and no
/// connection cut by a task stopped while its instance was still draining.
pub(crate) fn assert_served_throughout(report: &HealthReport, min: usize, what: &str) {
    eprintln!("[e2e] {what}: health {}", report.summary());
    assert!(
        report.samples >= 5,
        "{what}: too few health samples: {}",
        report.summary()
    );
    assert!(
        report.errors * 10 <= report.samples,
        "{what}: too many failed samples: {}",
        report.summary()
    );
    assert!(
        report.min_in_service >= min,
        "{what}: InService dropped to {} (want >= {min}): {}\n{:?}",
        report.min_in_service,
        report.summary(),
        report.dips_below(min)
    );
    assert!(
        report.min_serving.unwrap_or(0) >= min,
        "{what}: serving dropped below {min}: {}",
        report.summary()
    );
    assert!(
        report.cut_instances.is_empty(),
        "{what}: tasks stopped while their instance was still draining: {:?}",
        report.cut_instances
    );
}

fn report_run(what: &str, r: &Run) {
    eprintln!("[e2e] {what}: exit {} in {:?}", r.code(), r.took);
}

/// The outcome document of a run, with its exit code checked against `exit_code` in it.
fn outcome(r: &Run, code: i32, result: &str) -> Value {
    r.assert_code(code);
    let doc = r.json();
    assert_eq!(doc["result"], result, "{}", r.context());
    assert_eq!(doc["exit_code"], code, "{}", r.context());
    doc
}

/// Per-instance lines of the outcome: id -> (revisions, health).
fn instances_of(doc: &Value) -> Vec<(String, Vec<String>, Option<String>)> {
    doc["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances[] in {doc}"))
        .iter()
        .map(|i| {
            (
                i["ec2_instance_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                i["revisions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(String::from))
                    .collect(),
                i["health"].as_str().map(String::from),
            )
        })
        .collect()
}

fn assert_outcome_instances(doc: &Value, on: &[String], revision: &str) {
    let got = instances_of(doc);
    for id in on {
        let line = got
            .iter()
            .find(|(i, _, _)| i == id)
            .unwrap_or_else(|| panic!("{id} missing from instances[]: {got:?}"));
        assert_eq!(line.1, [revision], "{id}: {got:?}");
        assert_eq!(line.2.as_deref(), Some("InService"), "{id}: {got:?}");
    }
}

fn stopped_tasks_of(state: &AwsState, revision: i64) -> Vec<&support::TaskInfo> {
    state
        .tasks
        .iter()
        .filter(|t| t.revision == revision && t.last_status.as_deref() == Some("STOPPED"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. rolling

#[test]
fn rolling_deploy_of_the_reference_setup() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let sampler = moto.health_sampler();
    let r = run(ecs_roll(&moto), &deploy_args());
    let health = sampler.stop();
    report_run("rolling deploy", &r);

    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["plan"]["strategy"], "rolling", "{}", r.context());
    assert_eq!(doc["plan"]["count"], 3);
    assert_eq!(doc["target"]["name"], "cb-prototype:2");
    assert_eq!(doc["target"]["image"], IMAGE_V2);
    assert_eq!(doc["previous"]["name"], "cb-prototype:1");
    assert_eq!(doc["steps"].as_array().map(Vec::len), Some(3), "{doc}");
    assert_outcome_instances(&doc, &seeded.instance_ids, "cb-prototype:2");
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 1, "{doc}");
    assert_eq!(api_calls(&doc, "StartTask"), 3, "{doc}");
    assert_eq!(api_calls(&doc, "StopTask"), 3, "{doc}");

    let state = moto.inspect();
    assert_eq!(
        state.task_definitions.len(),
        2,
        "{:?}",
        state.task_definitions
    );
    let rev2 = state.task_definition(2).unwrap();
    assert_eq!(rev2.image.as_deref(), Some(IMAGE_V2));
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));
    assert!(
        rev2.tags.contains_key("ecs-roll:deployed-at"),
        "{:?}",
        rev2.tags
    );
    assert!(
        rev2.tags.contains_key("ecs-roll:deployed-by"),
        "{:?}",
        rev2.tags
    );
    assert_eq!(previous_tag(&state, 1), None);
    assert_runs_only(&state, 2, IMAGE_V2, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
    let old: BTreeSet<&str> = stopped_tasks_of(&state, 1)
        .iter()
        .map(|t| t.arn.as_str())
        .collect();
    let seeded_tasks: BTreeSet<&str> = seeded.task_arns.iter().map(String::as_str).collect();
    assert_eq!(old, seeded_tasks, "the seeded tasks are the ones stopped");

    assert_served_throughout(&health, 2, "rolling deploy");

    // `status` now shows the new revision and what a rollback would return to.
    let st = run(
        ecs_roll(&moto),
        &with_globals(&["--output", "json", "status"]),
    );
    st.assert_code(0);
    let st = st.json();
    assert_eq!(st["running"].as_array().map(Vec::len), Some(1), "{st}");
    assert_eq!(st["running"][0]["revision"]["name"], "cb-prototype:2");
    assert_eq!(st["running"][0]["revision"]["image"], IMAGE_V2);
    assert_eq!(st["running"][0]["tasks"], 3);
    assert_eq!(st["running"][0]["previous"], "cb-prototype:1");
    assert!(st["running"][0]["deployed_at"].is_string(), "{st}");
    assert!(st["running"][0]["deployed_by"].is_string(), "{st}");
}

// ---------------------------------------------------------------------------------------
// 2. blue/green

#[test]
fn blue_green_when_enough_instances_are_free() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        instances: 6,
        tasks: Some(3),
        ..SeedOptions::fast()
    });
    let (old, free): (Vec<String>, Vec<String>) = (
        seeded.instance_ids[..3].to_vec(),
        seeded.instance_ids[3..].to_vec(),
    );
    let sampler = moto.health_sampler();
    let r = run(ecs_roll(&moto), &deploy_args());
    let health = sampler.stop();
    report_run("blue/green deploy", &r);

    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["plan"]["strategy"], "blue_green", "{}", r.context());
    assert_eq!(doc["target"]["name"], "cb-prototype:2");
    assert_outcome_instances(&doc, &free, "cb-prototype:2");

    let state = moto.inspect();
    assert_eq!(state.task_definitions.len(), 2);
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));
    assert_runs_only(&state, 2, IMAGE_V2, &free);
    assert_registered_exactly(&state, &free);
    for t in &seeded.task_arns {
        let task = state
            .tasks
            .iter()
            .find(|x| &x.arn == t)
            .expect("seeded task");
        assert_eq!(task.last_status.as_deref(), Some("STOPPED"), "{task:?}");
    }
    for id in &old {
        assert!(state.running_tasks_by_instance[id].is_empty(), "{id}");
    }
    // Never fewer than the three that served before: the new ones serve before the old go.
    assert_served_throughout(&health, 3, "blue/green deploy");
}

// ---------------------------------------------------------------------------------------
// 3. rollback, from a directory whose ecs-roll.toml holds every setting

#[test]
fn rollback_returns_to_the_recorded_revision_and_back() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taskdefs")).unwrap();
    std::fs::copy(support::repo_root().join(TASKDEF), dir.path().join(TASKDEF)).unwrap();
    std::fs::write(
        dir.path().join("ecs-roll.toml"),
        format!(
            "cluster = \"{CLUSTER}\"\nfamily = \"{FAMILY}\"\nload_balancer = \"{}\"\n\
             region = \"{}\"\ntask_definition = \"{TASKDEF}\"\ncontainer = \"cb-prototype\"\n\
             timeout = \"10m\"\n",
            support::LOAD_BALANCER,
            support::REGION
        ),
    )
    .unwrap();
    let in_dir = || {
        let mut c = ecs_roll(&moto);
        c.current_dir(dir.path());
        c
    };
    let args = |a: &[&str]| -> Vec<String> {
        ["--output", "json"]
            .iter()
            .chain(a)
            .map(|s| s.to_string())
            .collect()
    };
    let ids = &seeded.instance_ids;
    let sampler = moto.health_sampler();

    let r = run(in_dir(), &args(&["deploy", "--image", IMAGE_V2]));
    report_run("deploy before rollback", &r);
    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["target"]["name"], "cb-prototype:2");

    let r = run(in_dir(), &args(&["rollback"]));
    report_run("rollback", &r);
    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["command"], "rollback");
    assert_eq!(doc["target"]["name"], "cb-prototype:1", "{}", r.context());
    assert_eq!(doc["previous"]["name"], "cb-prototype:2");
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 0, "{doc}");
    assert_outcome_instances(&doc, ids, "cb-prototype:1");
    let state = moto.inspect();
    assert_eq!(
        state.task_definitions.len(),
        2,
        "a rollback registers nothing"
    );
    assert_runs_only(&state, 1, IMAGE_V1, ids);
    assert_registered_exactly(&state, ids);
    assert_eq!(previous_tag(&state, 1), Some(arn_of(&state, 2)));
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));

    let r = run(in_dir(), &args(&["rollback"]));
    report_run("second rollback", &r);
    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{}", r.context());
    assert_eq!(doc["previous"]["name"], "cb-prototype:1");
    let state = moto.inspect();
    assert_eq!(state.task_definitions.len(), 2);
    assert_runs_only(&state, 2, IMAGE_V2, ids);
    assert_registered_exactly(&state, ids);
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));
    assert_eq!(previous_tag(&state, 1), Some(arn_of(&state, 2)));

    let health = sampler.stop();
    assert_served_throughout(&health, 2, "deploy + rollback + rollback");
}

// ---------------------------------------------------------------------------------------
// 4. refusal

#[test]
fn deploy_that_would_cause_downtime_is_refused_and_changes_nothing() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions {
        instances: 1,
        ..SeedOptions::fast()
    });
    let before = moto.inspect();
    let r = run(ecs_roll(&moto), &deploy_args());
    report_run("refused deploy", &r);
    r.assert_code(2);
    let doc = r.json();
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["nothing_changed"], true, "{doc}");
    assert!(
        r.stderr.contains("--allow-downtime"),
        "stderr should say how to accept an outage:\n{}",
        r.context()
    );
    let errors = r.error_lines();
    assert_eq!(errors.len(), 1, "{}", r.context());
    assert!(errors[0].contains("downtime"), "{}", errors[0]);

    let after = moto.inspect();
    assert_eq!(after.task_definitions.len(), 1, "nothing registered");
    assert_eq!(Fingerprint::of(&before), Fingerprint::of(&after));
}

// ---------------------------------------------------------------------------------------
// 5. a new revision that crashes: rolled back

/// moto cannot make a container exit, and a poller racing ecs-roll to stop the new task is
/// not deterministic (moto reports a started task RUNNING and InService at once, so
/// ecs-roll may be past its checks before the poller strikes). Instead ecs-roll talks to
/// moto through a loopback proxy that stops each new task of revision 2 right after moto
/// started it and before ecs-roll sees the StartTask answer, with the reason ECS gives
/// when an essential container exits. ecs-roll then finds the task STOPPED at its first
/// look, every time.
#[test]
fn deploy_whose_new_task_crashes_is_rolled_back() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let crash = CrashOnStart::new(moto.port(), CLUSTER, "cb-prototype:2");
    let proxy = Proxy::start(moto.port(), crash.clone() as Arc<dyn Interceptor>);
    let sampler = moto.health_sampler();
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let r = run(cmd, &deploy_args());
    let health = sampler.stop();
    report_run("crashing deploy", &r);
    assert!(
        !r.stderr.contains("cleaning up the failed step"),
        "the failed step should be cleaned up without trouble:\n{}",
        r.context()
    );

    let doc = outcome(&r, 3, "rolled-back");
    assert_eq!(crash.errors(), Vec::<String>::new());
    assert_eq!(
        crash.crashed().len(),
        1,
        "ecs-roll should stop at the first crash: {:?}",
        crash.crashed()
    );
    assert_eq!(doc["failure"]["kind"], "task_stopped", "{doc}");
    assert_eq!(
        doc["failure"]["task"]["stopped_reason"], CRASH_REASON,
        "ECS's own reason, as a field: {doc}"
    );
    let failure = doc["failure"]["message"].as_str().unwrap_or_default();
    assert!(
        failure.contains(CRASH_REASON),
        "the failure should carry ECS's reason: {failure:?}\n{}",
        r.context()
    );
    // The diagnosis beside the kind: the cause, what to do, and the evidence it read.
    assert_eq!(doc["failure"]["cause"], "app_crashed", "{doc}");
    assert_eq!(doc["failure"]["diagnosis"]["cause"], "app_crashed", "{doc}");
    let hint = doc["failure"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("--image"), "{doc}");
    assert_eq!(
        doc["failure"]["evidence"]["stopped_reason"], CRASH_REASON,
        "{doc}"
    );
    assert!(
        doc["failure"]["evidence"]["task_arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:ecs:")),
        "{doc}"
    );
    assert!(
        doc["rollback_steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );
    assert_eq!(doc["rollback_failure"], Value::Null, "{doc}");
    assert_outcome_instances(&doc, &seeded.instance_ids, "cb-prototype:1");

    let state = moto.inspect();
    assert_runs_only(&state, 1, IMAGE_V1, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
    let crashed = stopped_tasks_of(&state, 2);
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert_eq!(crashed[0].stopped_reason.as_deref(), Some(CRASH_REASON));
    assert!(
        state.running_tasks().iter().all(|t| t.revision == 1),
        "{:?}",
        state.running_tasks()
    );
    // The crashed task's instance is registered as the task starts and moto (no health
    // checks) calls it InService at once; deregistering it after the crash drains it with no
    // task behind it. That cut is the crash's, not ecs-roll's: every other instance must have
    // kept serving uncut.
    let crashed_on: Vec<String> = crashed
        .iter()
        .filter_map(|t| t.instance_id.clone())
        .collect();
    let mut health = health;
    health.cut_instances.retain(|i| !crashed_on.contains(i));
    assert_served_throughout(&health, 2, "crashing deploy rolled back");
}

// ---------------------------------------------------------------------------------------
// 6, 7. read-only commands share one seeded moto

fn shared() -> &'static (MotoServer, Seeded) {
    static SHARED: OnceLock<(MotoServer, Seeded)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let moto = MotoServer::start();
        let seeded = moto.seed(&SeedOptions::fast());
        (moto, seeded)
    })
}

/// A plain progress line without its `[   0.1s] ` time stamp.
fn unstamped(line: &str) -> &str {
    match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, l)| l),
        None => line,
    }
}

/// Whether `text` has the diff lines `-  "image": V1` and `+  "image": V2`.
fn image_diff_lines(text: &str) -> (bool, bool) {
    let has = |sign: char, image: &str| {
        let want = format!("\"image\": \"{image}\"");
        text.lines()
            .map(unstamped)
            .any(|l| l.starts_with(sign) && l.contains(&want))
    };
    (has('-', IMAGE_V1), has('+', IMAGE_V2))
}

#[test]
fn dry_run_and_diff_show_the_change_and_the_plan_and_change_nothing() {
    let (moto, _) = shared();
    let before = Fingerprint::of(&moto.inspect());

    let mut args = deploy_args();
    args.push("--dry-run".into());
    let r = run(ecs_roll(moto), &args);
    report_run("deploy --dry-run", &r);
    let doc = outcome(&r, 0, "planned");
    assert_eq!(doc["plan"]["strategy"], "rolling", "{doc}");
    assert_eq!(doc["plan"]["count"], 3);
    assert_eq!(doc["previous"]["name"], "cb-prototype:1");
    assert!(doc["steps"].as_array().is_some_and(Vec::is_empty), "{doc}");
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 0);
    assert_eq!(api_calls(&doc, "StartTask"), 0);
    assert_eq!(image_diff_lines(&r.stderr), (true, true), "{}", r.context());
    assert!(
        r.stderr
            .contains("plan: rolling, one instance at a time to 3 task(s)"),
        "{}",
        r.context()
    );

    let r = run(
        ecs_roll(moto),
        &with_globals(&["diff", "--image", IMAGE_V2, "--task-definition", TASKDEF]),
    );
    report_run("diff", &r);
    r.assert_code(0);
    assert!(r.stdout.contains("--- cb-prototype:1"), "{}", r.context());
    assert_eq!(image_diff_lines(&r.stdout), (true, true), "{}", r.context());
    assert!(
        r.stdout
            .contains("plan: rolling, one instance at a time to 3 task(s)"),
        "{}",
        r.context()
    );

    let after = moto.inspect();
    assert_eq!(after.task_definitions.len(), 1);
    assert_eq!(before, Fingerprint::of(&after));
}

#[test]
fn status_shows_revision_image_and_health_per_instance() {
    let (moto, seeded) = shared();

    let r = run(ecs_roll(moto), &with_globals(&["status"]));
    report_run("status", &r);
    r.assert_code(0);
    assert!(
        r.stdout
            .contains(&format!("running cb-prototype:1 ({IMAGE_V1}) on 3 task(s)")),
        "{}",
        r.context()
    );
    assert!(
        r.stdout.contains("rollback target: none recorded"),
        "{}",
        r.context()
    );
    for id in &seeded.instance_ids {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("no line for {id}\n{}", r.context()));
        for word in ["cb-prototype:1", "RUNNING", "InService"] {
            assert!(line.contains(word), "{id}: {line:?} lacks {word}");
        }
    }

    let r = run(
        ecs_roll(moto),
        &with_globals(&["--output", "json", "status"]),
    );
    r.assert_code(0);
    let st = r.json();
    assert_eq!(st["cluster"], CLUSTER);
    assert_eq!(st["family"], FAMILY);
    assert!(
        st["health_check"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP:5555/testme"),
        "{st}"
    );
    assert_eq!(st["running"].as_array().map(Vec::len), Some(1), "{st}");
    let running = &st["running"][0];
    assert_eq!(running["revision"]["name"], "cb-prototype:1");
    assert_eq!(running["revision"]["image"], IMAGE_V1);
    assert_eq!(running["tasks"], 3);
    assert_eq!(running["previous"], Value::Null);
    let instances = st["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 3, "{st}");
    for i in instances {
        assert!(
            seeded
                .instance_ids
                .iter()
                .any(|id| i["ec2_instance_id"] == id.as_str()),
            "{i}"
        );
        assert_eq!(i["revisions"], serde_json::json!(["cb-prototype:1"]), "{i}");
        assert_eq!(i["task_status"], "RUNNING", "{i}");
        assert_eq!(i["health"], "InService", "{i}");
    }
}

// ---------------------------------------------------------------------------------------
// 8. interrupted, then resumed

/// SIGINT while step 1 is in progress. To be sure it lands mid-step (a step takes ~1 s on
/// moto), the proxy holds step 1's StartTask until ecs-roll has acknowledged the signal:
/// at that moment the instance is out of the ELB with no task, the worst place to stop.
#[test]
fn interrupted_deploy_finishes_its_step_and_resumes() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let hold = Hold::new("StartTask");
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let sampler = moto.health_sampler();
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let t0 = Instant::now();
    let child = spawn(cmd, &deploy_args());
    let step = child.wait_for_line("step 1/", Duration::from_secs(60));
    assert!(
        step.is_some(),
        "no `step 1/` line:\n{}",
        child.stderr_so_far()
    );
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "step 1 never started a task:\n{}",
        child.stderr_so_far()
    );
    child.signal("INT");
    let ack = child.wait_for_line("interrupt received", Duration::from_secs(20));
    hold.release();
    assert!(
        ack.is_some(),
        "no acknowledgement of SIGINT:\n{}",
        child.stderr_so_far()
    );
    let r = child.finish(e2e::RUN_LIMIT);
    report_run("interrupted deploy", &r);
    let doc = outcome(&r, 130, "interrupted");
    eprintln!(
        "[e2e] interrupted deploy: SIGINT handled, total {:?}",
        t0.elapsed()
    );
    let done: Vec<&Value> = doc["steps"].as_array().into_iter().flatten().collect();
    assert_eq!(
        done.len(),
        1,
        "only the step in progress is finished: {doc}"
    );
    assert_eq!(done[0]["ok"], true, "{doc}");

    let state = moto.inspect();
    assert_safe_resting_state(&state);
    let on_new: Vec<&String> = seeded
        .instance_ids
        .iter()
        .filter(|id| {
            state.running_tasks_by_instance[*id]
                .iter()
                .any(|t| t.revision == 2)
        })
        .collect();
    assert_eq!(on_new.len(), 1, "step 1 was finished: {}", state.raw);
    assert_eq!(state.task_definitions.len(), 2);
    drop(proxy);

    // The same deploy again resumes: the switched instance is left alone.
    let r = run(ecs_roll(&moto), &deploy_args());
    let health = sampler.stop();
    report_run("resumed deploy", &r);
    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["target"]["name"], "cb-prototype:2");
    assert_eq!(doc["previous"]["name"], "cb-prototype:1", "{doc}");
    assert_eq!(
        doc["plan"]["steps"].as_array().map(Vec::len),
        Some(2),
        "{doc}"
    );
    assert_eq!(api_calls(&doc, "RegisterTaskDefinition"), 0, "{doc}");
    assert_eq!(api_calls(&doc, "StartTask"), 2, "{doc}");

    let state = moto.inspect();
    assert_eq!(state.task_definitions.len(), 2, "still only 2 revisions");
    assert_runs_only(&state, 2, IMAGE_V2, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));
    assert_served_throughout(&health, 2, "interrupted + resumed deploy");
}
