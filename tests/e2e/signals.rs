//! End to end: SIGINT and SIGTERM at every phase of a deploy and of a rollback, sent to the
//! real binary while it talks to moto_server through the loopback proxy. The proxy holds one
//! chosen AWS call (`HoldAt`), so the signal lands in that exact phase, never racing
//! ecs-roll's polling: the test waits until the call is held, signals, waits for ecs-roll's
//! acknowledgement, then lets the call through.
//!
//! After each interrupted run:
//! * exit 130, result `interrupted` (or the run's own end when nothing was left to do), no
//!   panic, and no more steps finished than the one in progress;
//! * the state is one to leave a service in: every container instance is either InService
//!   with a RUNNING task of the family, or out of the ELB with no task (none registered
//!   without a task, none draining);
//! * running the same command again completes the job.
//!
//! And a second signal aborts at once (exit 130 within a moment, the held call still
//! unanswered), after which the same command completes the job too.
//!
//! Each phase is one test (they run in parallel, each with its own moto_server); each sends
//! SIGINT, then SIGTERM on a fresh seed.
//!
//! kill -9 at the same phases of a deploy (the held call still reaches moto, as a request on
//! its way would): whatever the crashed run left (an instance out of the ELB with no task, a
//! new task not registered yet), the same command with no `ecs-roll unlock` completes the job,
//! taking over the lock the crashed run stopped renewing (`ECS_ROLL_LOCK_HEARTBEAT`).

use crate::harness as e2e;
use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::proxy::{self, CRASH_REASON, Chain, CrashOnStart, HoldAt, Interceptor, Proxy};
use e2e::{Pooled, Run, ecs_roll, quick_state, run, spawn, with_globals};
use e2e::{TASKDEF, deploy_args};
use serde_json::{Value, json};
use support::{CLUSTER, IMAGE_V2, MotoServer, SeedOptions};

const SIGNALS: [&str; 2] = ["INT", "TERM"];

/// How often a run that gets killed renews its deploy lock, so the rerun can tell it is gone.
const HEARTBEAT: &str = "1s";

fn rollback_args() -> Vec<String> {
    with_globals(&["--output", "json", "rollback", "--to", "2"])
}

/// What a case sets up before the run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// The reference setup: revision 1 (IMAGE_V1) on three instances; the run deploys
    /// IMAGE_V2 as revision 2.
    Deploy,
    /// The same, plus revision 2 (IMAGE_V2) registered but not running; the run is
    /// `rollback --to 2`.
    Rollback,
}

/// Seeds moto for `setup`.
fn prepare(moto: &MotoServer, setup: Setup) {
    moto.seed(&SeedOptions::fast());
    if setup == Setup::Rollback {
        let text = std::fs::read_to_string(support::repo_root().join(TASKDEF)).unwrap();
        let mut td: Value = serde_json::from_str(&text).unwrap();
        td["containerDefinitions"][0]["image"] = json!(IMAGE_V2);
        let (status, body) = proxy::ecs_call(moto.port(), "RegisterTaskDefinition", &td)
            .unwrap_or_else(|e| panic!("RegisterTaskDefinition on moto: {e}"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["taskDefinition"]["revision"], 2, "{body}");
    }
}

fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked"),
        "ecs-roll panicked:\n{}",
        r.context()
    );
}

/// Where a signal lands: the call held while it is sent, and how many steps (of the deploy,
/// or of the automatic rollback) may have finished by the end.
struct Phase {
    name: &'static str,
    setup: Setup,
    hold: fn() -> HoldAt,
    steps_done: std::ops::RangeInclusive<usize>,
    /// The new revision's second task crashes (the deploy fails at step 2 and rolls back
    /// by itself): the signal lands in that automatic rollback.
    crash_second_start: bool,
}

/// One interrupted (or, with `KILL`, crashed) run and its re-run, on a moto_server of its own;
/// returns the exit code of the interrupted run.
fn interrupt(phase: &Phase, signal: &str) -> i32 {
    let what = format!("{} (SIG{signal})", phase.name);
    let moto = &Pooled::take();
    prepare(moto, phase.setup);
    let hold = (phase.hold)().build();
    let mut hooks: Vec<Arc<dyn Interceptor>> = vec![hold.clone()];
    let crash = phase
        .crash_second_start
        .then(|| CrashOnStart::sparing(moto.port(), CLUSTER, "cb-prototype:2", 1));
    if let Some(c) = &crash {
        hooks.push(c.clone());
    }
    let proxy = Proxy::start(moto.port(), Arc::new(Chain(hooks)));
    let args = match phase.setup {
        Setup::Deploy => deploy_args(),
        Setup::Rollback => rollback_args(),
    };
    let mut cmd = ecs_roll(moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let killed = signal == "KILL";
    if killed {
        cmd.env("ECS_ROLL_LOCK_HEARTBEAT", HEARTBEAT);
    }
    let child = spawn(cmd, &args);
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{what}: {} was never called:\n{}",
        hold.describe(),
        child.stderr_so_far()
    );
    child.signal(signal);
    let ack = killed
        || child
            .wait_for_line("interrupt received", Duration::from_secs(20))
            .is_some();
    hold.release();
    assert!(
        ack,
        "{what}: no acknowledgement of SIG{signal}:\n{}",
        child.stderr_so_far()
    );
    let r = child.finish(e2e::RUN_LIMIT);
    drop(proxy);
    eprintln!(
        "[signals] {what}: held {}, exit {} in {:?}",
        hold.describe(),
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    if !killed {
        assert_interrupted(phase, &r, moto, &what);
    }
    let lock_left = killed && holds_lock(moto);
    // The same command again completes the job. Where the new revision crashed, it still
    // does: the deploy fails again and rolls everything back.
    let mut cmd = ecs_roll(moto);
    let _crashing = crash.is_some().then(|| {
        let again = CrashOnStart::new(moto.port(), CLUSTER, "cb-prototype:2");
        let p = Proxy::start(moto.port(), again as Arc<dyn Interceptor>);
        cmd.env("AWS_ENDPOINT_URL", p.endpoint());
        p
    });
    let again = run(cmd, &args);
    eprintln!(
        "[signals] {what}: re-run exit {} in {:?}",
        again.code(),
        again.took
    );
    assert_no_panic(&again);
    if lock_left {
        assert!(
            again.stderr.contains("took over the deploy lock of"),
            "{what}: the rerun says it took the crashed run's lock over\n{}",
            again.context()
        );
    }
    let state = quick_state(moto);
    if phase.crash_second_start {
        again.assert_code(3);
        assert_eq!(again.json()["result"], "rolled-back", "{}", again.context());
        state.assert_converged(1, &what);
    } else {
        again.assert_code(0);
        let doc = again.json();
        assert_eq!(doc["result"], "succeeded", "{}", again.context());
        assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
        state.assert_converged(2, &what);
    }
    assert_eq!(
        state.revisions,
        [1, 2],
        "{what}: no revision registered twice"
    );
    r.code()
}

/// Whether the reference family's deploy lock is on the cluster.
fn holds_lock(moto: &MotoServer) -> bool {
    let ecs = |op: &str, body: Value| {
        let (status, v) =
            proxy::ecs_call(moto.port(), op, &body).unwrap_or_else(|e| panic!("{op} on moto: {e}"));
        assert_eq!(status, 200, "{op}: {v}");
        v
    };
    let clusters = ecs("DescribeClusters", json!({"clusters": [CLUSTER]}));
    let tags = ecs(
        "ListTagsForResource",
        json!({"resourceArn": clusters["clusters"][0]["clusterArn"]}),
    );
    tags["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["key"] == "ecs-roll:lock:cb-prototype")
}

/// What a SIGINT or SIGTERM in `phase` must leave: the step in progress finished, no more, and
/// every instance serving.
fn assert_interrupted(phase: &Phase, r: &Run, moto: &MotoServer, what: &str) {
    let doc = r.json();
    let (steps, rollback_steps) = (
        doc["steps"].as_array().map_or(0, Vec::len),
        doc["rollback_steps"].as_array().map_or(0, Vec::len),
    );
    if phase.crash_second_start {
        // Interrupted during the automatic rollback: its step in progress was finished.
        assert!(
            [130, 3].contains(&r.code()),
            "{what}: exit {}\n{}",
            r.code(),
            r.context()
        );
        assert!(
            phase.steps_done.contains(&rollback_steps),
            "{what}: {rollback_steps} rollback steps finished\n{doc}"
        );
        assert_eq!(doc["failure"]["kind"], "task_stopped", "{doc}");
        assert!(
            doc["failure"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(CRASH_REASON),
            "{doc}"
        );
    } else {
        r.assert_code(130);
        assert!(
            phase.steps_done.contains(&steps),
            "{what}: {steps} steps finished, want {:?}\n{doc}",
            phase.steps_done
        );
        assert!(
            doc["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|s| s["ok"] == true),
            "{doc}"
        );
    }
    if r.code() == 130 {
        assert_eq!(doc["result"], "interrupted", "{}", r.context());
        assert!(r.stdout.contains("\"exit_code\": 130"), "{}", r.context());
    }

    let state = quick_state(moto);
    state.assert_safe(what);
    // The step in progress was finished, not abandoned: every instance serves again.
    assert_eq!(
        state.serving(),
        state.instances.len(),
        "{what}: not every instance serves after the interrupted run\n{state:#?}"
    );
}

/// Runs every phase with each of `signals`, `parallel` cases at a time (the runs mostly wait on
/// draining and polling), each on a moto_server of its own; reports every failed case.
fn every_phase(phases: &[Phase], signals: &[&str], parallel: usize) {
    let t0 = Instant::now();
    let cases: Vec<(&Phase, &str)> = phases
        .iter()
        .flat_map(|p| signals.iter().map(move |s| (p, *s)))
        .collect();
    let queue = Mutex::new(cases.clone());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| {
                loop {
                    let Some((phase, signal)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let r = std::panic::catch_unwind(|| interrupt(phase, signal));
                    if r.is_err() {
                        failed
                            .lock()
                            .unwrap()
                            .push(format!("{} (SIG{signal})", phase.name));
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    eprintln!(
        "[signals] {} phases x {signals:?} = {} interrupted runs, {} re-runs; inconsistent states or failed re-runs: {} ({:?})",
        phases.len(),
        cases.len(),
        cases.len(),
        failed.len(),
        t0.elapsed()
    );
    assert!(failed.is_empty(), "failed cases (see above): {failed:?}");
}

// ---------------------------------------------------------------------------------------
// deploy, rollback, automatic rollback

/// The phases of a deploy of revision 2 over three instances.
fn deploy_phases() -> Vec<Phase> {
    vec![
        Phase {
            name: "deploy: preflight",
            setup: Setup::Deploy,
            hold: || HoldAt::new("DescribeClusters"),
            steps_done: 0..=0,
            crash_second_start: false,
        },
        Phase {
            name: "deploy: registering the revision",
            setup: Setup::Deploy,
            hold: || HoldAt::new("RegisterTaskDefinition"),
            steps_done: 0..=0,
            crash_second_start: false,
        },
        Phase {
            name: "deploy: step 1 draining",
            setup: Setup::Deploy,
            hold: || {
                HoldAt::new("DescribeInstanceHealth").after("DeregisterInstancesFromLoadBalancer")
            },
            steps_done: 1..=1,
            crash_second_start: false,
        },
        // The instance is out of the ELB and runs no task: the worst place to stop.
        Phase {
            name: "deploy: step 1 starting the new task",
            setup: Setup::Deploy,
            hold: || HoldAt::new("StartTask"),
            steps_done: 1..=1,
            crash_second_start: false,
        },
        Phase {
            name: "deploy: step 1 waiting InService",
            setup: Setup::Deploy,
            hold: || {
                HoldAt::new("DescribeInstanceHealth").after("RegisterInstancesWithLoadBalancer")
            },
            steps_done: 1..=1,
            crash_second_start: false,
        },
        // Step 1 is done; step 2 has only looked (its check that another instance
        // serves). Stopping there or finishing step 2 are both right.
        Phase {
            name: "deploy: between steps 1 and 2",
            setup: Setup::Deploy,
            hold: || {
                HoldAt::new("DescribeInstanceHealth")
                    .after("RegisterInstancesWithLoadBalancer")
                    .nth(2)
            },
            steps_done: 1..=2,
            crash_second_start: false,
        },
    ]
}

#[test]
fn deploy_interrupted_at_every_phase() {
    every_phase(&deploy_phases(), &SIGNALS, 6);
}

#[test]
fn deploy_killed_at_every_phase_is_finished_by_a_plain_rerun_without_unlock() {
    every_phase(&deploy_phases(), &["KILL"], 6);
}

#[test]
fn rollback_interrupted_at_every_phase() {
    every_phase(
        &[
            Phase {
                name: "rollback: preflight",
                setup: Setup::Rollback,
                hold: || HoldAt::new("DescribeClusters"),
                steps_done: 0..=0,
                crash_second_start: false,
            },
            Phase {
                name: "rollback: step 1 draining",
                setup: Setup::Rollback,
                hold: || {
                    HoldAt::new("DescribeInstanceHealth")
                        .after("DeregisterInstancesFromLoadBalancer")
                },
                steps_done: 1..=1,
                crash_second_start: false,
            },
            Phase {
                name: "rollback: step 1 starting the task",
                setup: Setup::Rollback,
                hold: || HoldAt::new("StartTask"),
                steps_done: 1..=1,
                crash_second_start: false,
            },
            Phase {
                name: "rollback: step 2 waiting InService",
                setup: Setup::Rollback,
                hold: || {
                    HoldAt::new("DescribeInstanceHealth")
                        .after_nth("RegisterInstancesWithLoadBalancer", 2)
                },
                steps_done: 2..=2,
                crash_second_start: false,
            },
            // Step 1 of the deploy succeeds, step 2's new task crashes at once: the deploy
            // cleans up and rolls back by itself; the signal lands while that rollback starts
            // its first task.
            Phase {
                name: "deploy: automatic rollback, step 1 starting the task",
                setup: Setup::Deploy,
                hold: || HoldAt::new("StartTask").body_contains("cb-prototype:1\""),
                steps_done: 1..=1,
                crash_second_start: true,
            },
        ],
        &SIGNALS,
        6,
    );
}

// ---------------------------------------------------------------------------------------
// a second signal

/// The first signal asks to finish the step; the second aborts at once, while the call ecs-roll
/// waits on is still held. `delivered`: the held call reaches AWS after the process died
/// (else it never does). Either way the same command then completes the job.
fn second_signal_aborts(first: &str, second: &str, delivered: bool) {
    let moto = Pooled::take();
    prepare(&moto, Setup::Deploy);
    let mut hold = HoldAt::new("StartTask");
    if !delivered {
        hold = hold.drop_after_release();
    }
    let hold = hold.build();
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let child = spawn(cmd, &deploy_args());
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{}",
        child.stderr_so_far()
    );
    child.signal(first);
    assert!(
        child
            .wait_for_line("interrupt received", Duration::from_secs(20))
            .is_some(),
        "{}",
        child.stderr_so_far()
    );
    let sent = Instant::now();
    child.signal(second);
    let r = child.finish(Duration::from_secs(60));
    let took = sent.elapsed();
    eprintln!(
        "[signals] second signal (SIG{first} then SIG{second}, held call {}): exit {} {took:?} after it",
        if delivered { "delivered" } else { "dropped" },
        r.code()
    );
    hold.release();
    assert_no_panic(&r);
    r.assert_code(130);
    assert!(
        took < Duration::from_secs(3),
        "the second signal should abort at once, took {took:?}\n{}",
        r.context()
    );
    assert!(r.stderr.contains("aborting at once"), "{}", r.context());
    drop(proxy);
    if delivered {
        // The StartTask that was on its way reaches moto now: a task of revision 2 runs on
        // the instance that is out of the ELB.
        let deadline = Instant::now() + Duration::from_secs(20);
        while quick_state(&moto).on_revision(2) == 0 {
            assert!(
                Instant::now() < deadline,
                "the held StartTask never arrived"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    let again = run(ecs_roll(&moto), &deploy_args());
    eprintln!(
        "[signals] after an abort: re-run exit {} in {:?}",
        again.code(),
        again.took
    );
    assert_no_panic(&again);
    again.assert_code(0);
    let state = quick_state(&moto);
    state.assert_converged(2, "after an abort");
    assert_eq!(state.revisions, [1, 2]);
}

#[test]
fn a_second_sigint_aborts_at_once_and_the_deploy_resumes() {
    second_signal_aborts("INT", "INT", false);
}

#[test]
fn sigterm_then_sigint_aborts_at_once_and_the_deploy_resumes_with_the_call_delivered() {
    second_signal_aborts("TERM", "INT", true);
}

// ---------------------------------------------------------------------------------------
// `ecs-roll rollback` (the recorded previous revision) interrupted, then run again

/// After a deploy of revision 2, `ecs-roll rollback` (back to revision 1, as recorded) is
/// interrupted after its first step; running `ecs-roll rollback` again must finish going back
/// to revision 1, not turn around to revision 2.
#[test]
fn an_interrupted_rollback_run_again_finishes_the_rollback() {
    let moto = Pooled::take();
    prepare(&moto, Setup::Deploy);
    let r = run(ecs_roll(&moto), &deploy_args());
    r.assert_code(0);
    let hold = HoldAt::new("StartTask").build();
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let rollback = with_globals(&["--output", "json", "rollback"]);
    let child = spawn(cmd, &rollback);
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{}",
        child.stderr_so_far()
    );
    child.signal("INT");
    let ack = child.wait_for_line("interrupt received", Duration::from_secs(20));
    hold.release();
    assert!(ack.is_some(), "{}", child.stderr_so_far());
    let r = child.finish(e2e::RUN_LIMIT);
    r.assert_code(130);
    assert_eq!(
        r.json()["target"]["name"],
        "cb-prototype:1",
        "{}",
        r.context()
    );
    let state = quick_state(&moto);
    state.assert_safe("interrupted rollback");
    assert_eq!(state.on_revision(1), 1, "{state:#?}");
    // `ecs-roll status` says where a plain rollback goes now.
    let status = run(ecs_roll(&moto), &with_globals(&["status"]));
    status.assert_code(0);
    assert!(
        status.stdout.contains(
            "rollback target: cb-prototype:1 (a rollback to it did not complete: `ecs-roll rollback` finishes it)"
        ),
        "{}",
        status.context()
    );

    let again = run(ecs_roll(&moto), &rollback);
    eprintln!(
        "[signals] plain rollback run again: exit {}, target {}",
        again.code(),
        again.json()["target"]["name"]
    );
    again.assert_code(0);
    assert_eq!(
        again.json()["target"]["name"],
        "cb-prototype:1",
        "the rerun should finish the rollback to revision 1\n{}",
        again.context()
    );
    quick_state(&moto).assert_converged(1, "rollback run again");
}
