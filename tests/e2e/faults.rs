//! End to end under API faults: the real ecs-roll binary talks to moto_server through the
//! loopback proxy of `tests/e2e/harness/proxy.rs`, which injects faults with a seeded generator:
//! throttling (HTTP 400 `ThrottlingException` JSON for ECS, `Throttling` XML for the ELB),
//! HTTP 500 and 503, connections closed without a response (before the call reaches moto,
//! or after it took effect: a lost response) and slow responses. The health sampler talks to
//! moto directly, so it sees the real state, never a fault.
//!
//! * Under a 20% fault rate a rolling deploy and the rollback after it complete as without
//!   faults: exit 0, the final state right, the load balancer serving throughout.
//! * With AWS unreachable (every connection closed unanswered) for longer than `--timeout`,
//!   in the middle of a step, the run ends with a message that says what happened, exit 3
//!   (rolled back) and every instance either serving or out of the ELB with no task.
//! * A deadline that passes while an instance drains does not cut its connections.
//!
//! Each test prints its figures (`[faults] ...`): calls, faults injected by kind, deploys
//! completed.

use crate::harness as e2e;
use crate::support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::deploy_args_with as deploy_args;
use e2e::proxy::{Fault, FaultConfig, FaultInjector, FaultReport, Interceptor, Proxy};
use e2e::{
    Run, api_calls, arn_of, assert_registered_exactly, assert_runs_only, assert_safe_resting_state,
    ecs_roll, previous_tag, run, with_globals,
};
use serde_json::Value;
use support::{HealthReport, IMAGE_V1, IMAGE_V2, MotoServer, SeedOptions};

/// The seed of the fault generator: a failing run can be replayed with the same faults
/// (given the same order of calls).
const SEED: u64 = 0x00EC_5011;

/// ecs-roll through `proxy`, with SDK retries that are quick: 3 attempts (the SDK's
/// default) and a 10 ms initial backoff.
fn through(moto: &MotoServer, proxy: &Proxy) -> Command {
    let mut cmd = ecs_roll(moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("AWS_MAX_ATTEMPTS", "3")
        .env("ECS_ROLL_RETRY_INITIAL_BACKOFF_MS", "10");
    cmd
}

fn outcome(r: &Run, code: i32, result: &str) -> Value {
    r.assert_code(code);
    let doc = r.json();
    assert_eq!(doc["result"], result, "{}", r.context());
    assert_eq!(doc["exit_code"], code, "{}", r.context());
    doc
}

fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "ecs-roll panicked:\n{}",
        r.context()
    );
}

fn assert_served(report: &HealthReport, min: usize, what: &str) {
    eprintln!("[faults] {what}: health {}", report.summary());
    assert!(report.samples >= 5, "{what}: {}", report.summary());
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

/// Tasks of `revision` ever started (RUNNING or STOPPED).
fn tasks_of(state: &support::AwsState, revision: i64) -> usize {
    state
        .tasks
        .iter()
        .filter(|t| t.revision == revision)
        .count()
}

fn print_figures(what: &str, report: &FaultReport, deploys_completed: usize) {
    eprintln!(
        "[faults] {what}: {}; deploys completed under faults: {deploys_completed}",
        report.summary()
    );
}

// ---------------------------------------------------------------------------------------
// 1. 20% of the calls fail or are slow

#[test]
fn deploy_and_rollback_complete_under_twenty_percent_faults() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let ids = &seeded.instance_ids;
    let faults = FaultInjector::new(FaultConfig::mixed(SEED, 0.20));
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let sampler = moto.health_sampler();
    let mut completed = 0;

    let r = run(through(&moto, &proxy), &deploy_args(&[]));
    eprintln!("[faults] deploy: exit {} in {:?}", r.code(), r.took);
    assert_no_panic(&r);
    let doc = outcome(&r, 0, "succeeded");
    completed += 1;
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["target"]["image"], IMAGE_V2);
    assert_eq!(doc["previous"]["name"], "cb-prototype:1");
    let state = moto.inspect();
    // Three tasks of revision 2 were started, no more, however often StartTask was retried
    // (a StartTask retried after its response was lost would start a second one; the
    // injector spares it that fault, see `a_lost_starttask_response_*` for what happens then).
    assert_eq!(tasks_of(&state, 2), 3, "{}", state.raw);
    assert_eq!(
        state.task_definitions.len(),
        2,
        "one revision registered: {:?}",
        state.task_definitions
    );
    assert_runs_only(&state, 2, IMAGE_V2, ids);
    assert_registered_exactly(&state, ids);
    assert_eq!(previous_tag(&state, 2), Some(arn_of(&state, 1)));
    let after_deploy = faults.report();
    print_figures("deploy", &after_deploy, completed);

    let r = run(
        through(&moto, &proxy),
        &with_globals(&["--output", "json", "rollback"]),
    );
    eprintln!("[faults] rollback: exit {} in {:?}", r.code(), r.took);
    assert_no_panic(&r);
    let doc = outcome(&r, 0, "succeeded");
    completed += 1;
    assert_eq!(doc["target"]["name"], "cb-prototype:1", "{doc}");
    let state = moto.inspect();
    assert_eq!(state.task_definitions.len(), 2);
    assert_runs_only(&state, 1, IMAGE_V1, ids);
    assert_registered_exactly(&state, ids);
    assert_eq!(previous_tag(&state, 1), Some(arn_of(&state, 2)));

    let health = sampler.stop();
    let report = faults.report();
    print_figures("deploy + rollback", &report, completed);
    // The faults really happened, every kind of them.
    for kind in [
        "throttle",
        "http-500",
        "http-503",
        "reset",
        "lost-response",
        "delay",
    ] {
        assert!(
            report.injected.get(kind).copied().unwrap_or(0) >= 1,
            "no {kind} fault injected: {}",
            report.summary()
        );
    }
    let rate = report.total_injected() as f64 / report.calls as f64;
    assert!(
        (0.12..=0.28).contains(&rate),
        "fault rate {rate:.2}: {}",
        report.summary()
    );
    // The rolling plan keeps two of three instances in service; faults change nothing there.
    assert_served(&health, 2, "deploy + rollback under 20% faults");
}

/// The same with the SDK's own retries off (`AWS_MAX_ATTEMPTS=1`): every fault reaches
/// ecs-roll, whose own retries (`wait::with_retry`) and polling (`wait::until`) must carry the
/// deploy through. The deploy lock's calls are spared: ecs-roll leaves their retries to the
/// SDK (see the report).
#[test]
fn ecs_rolls_own_retries_carry_a_deploy_through_faults_without_sdk_retries() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let ids = &seeded.instance_ids;
    let mut config = FaultConfig::mixed(SEED + 1, 0.20);
    config.spared = ["ListTagsForResource", "TagResource", "UntagResource"]
        .map(String::from)
        .to_vec();
    let faults = FaultInjector::new(config);
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let sampler = moto.health_sampler();
    let mut cmd = through(&moto, &proxy);
    cmd.env("AWS_MAX_ATTEMPTS", "1");
    let r = run(cmd, &deploy_args(&[]));
    let health = sampler.stop();
    eprintln!(
        "[faults] deploy without SDK retries: exit {} in {:?}",
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    let report = faults.report();
    print_figures(
        "deploy without SDK retries",
        &report,
        usize::from(r.code() == 0),
    );
    let doc = outcome(&r, 0, "succeeded");
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert!(api_calls(&doc, "StartTask") >= 3, "{doc}");
    let state = moto.inspect();
    assert_eq!(tasks_of(&state, 2), 3, "{}", state.raw);
    assert_eq!(
        state.task_definitions.len(),
        2,
        "{:?}",
        state.task_definitions
    );
    assert_runs_only(&state, 2, IMAGE_V2, ids);
    assert_registered_exactly(&state, ids);
    assert!(report.total_injected() >= 10, "{}", report.summary());
    assert_served(&health, 2, "deploy under 20% faults without SDK retries");
}

// ---------------------------------------------------------------------------------------
// 2. AWS unreachable for longer than --timeout

/// AWS goes away right after step 1 started the new task (the instance is out of the ELB,
/// its new task not yet registered: the worst moment) and stays away for twice `--timeout`.
/// ecs-roll must not go past the deadline (the wait in progress runs out of time, or the step
/// completes once AWS is back and no further step starts), then roll back once AWS answers
/// again, and say what happened.
#[test]
fn aws_unreachable_longer_than_the_timeout_ends_rolled_back_and_consistent() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let ids = &seeded.instance_ids;
    let timeout = Duration::from_secs(6);
    let blackout = timeout * 2;
    let faults = FaultInjector::new(FaultConfig::mixed(SEED, 0.0));
    faults.blackout_after("StartTask", blackout);
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let sampler = moto.health_sampler();

    let t0 = Instant::now();
    let r = run(
        through(&moto, &proxy),
        &deploy_args(&["--timeout", &format!("{}s", timeout.as_secs())]),
    );
    let health = sampler.stop();
    eprintln!(
        "[faults] deploy with AWS unreachable for {blackout:?} (--timeout {timeout:?}): exit {} in {:?}",
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    let started = faults
        .blackout_started()
        .expect("the blackout never started: no StartTask went through");
    let report = faults.report();
    print_figures("blackout", &report, 0);
    assert!(report.blacked_out >= 3, "{}", report.summary());

    let doc = outcome(&r, 3, "rolled-back");
    let failure = doc["failure"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kind = doc["failure"]["kind"].as_str().unwrap_or_default();
    eprintln!("[faults] blackout: failure: {kind}: {failure}");
    // Either the wait in progress ran out of time (the new task RUNNING and InService), or
    // the step got through once AWS was back and the next one was not started past the limit.
    assert!(
        (kind == "timed_out" && failure.contains("RUNNING") && failure.contains("not done after"))
            || (kind == "deadline_passed" && failure.contains("the time limit (--timeout) passed")),
        "the failure should say what did not happen in time: {failure:?}\n{}",
        r.context()
    );
    assert!(
        r.stderr.contains("FAILED") && r.stderr.contains("rolling back to cb-prototype:1"),
        "{}",
        r.context()
    );
    assert_eq!(doc["rollback_failure"], Value::Null, "{doc}");
    // It gave up at the deadline and finished soon after AWS came back.
    let back = started + blackout;
    assert!(
        Instant::now().saturating_duration_since(back) < Duration::from_secs(40),
        "ecs-roll took {:?} after AWS came back\n{}",
        Instant::now().saturating_duration_since(back),
        r.context()
    );
    assert!(t0.elapsed() < e2e::RUN_LIMIT);

    let state = moto.inspect();
    assert_safe_resting_state(&state);
    assert_runs_only(&state, 1, IMAGE_V1, ids);
    assert_registered_exactly(&state, ids);
    assert!(
        state.running_tasks().iter().all(|t| t.revision == 1),
        "{:?}",
        state.running_tasks()
    );
    // One instance was out for the whole blackout; the other two served throughout.
    assert_served(&health, 2, "AWS unreachable mid-step");
}

// ---------------------------------------------------------------------------------------
// 3. a StartTask whose response is lost

/// Deploys with step 1's StartTask response lost: the call reaches ECS and starts the task,
/// then the connection closes before the response arrives. ecs-roll does not send it again
/// blindly (nor does the SDK): it finds the task that call started.
fn deploy_with_lost_starttask_response() -> (MotoServer, support::Seeded, Run) {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions::fast());
    let faults = FaultInjector::new(FaultConfig::mixed(SEED, 0.0));
    faults.on_call("StartTask", 1, Fault::LostResponse);
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let r = run(through(&moto, &proxy), &deploy_args(&[]));
    eprintln!(
        "[faults] deploy with step 1's StartTask response lost: exit {} in {:?}: {}",
        r.code(),
        r.took,
        r.json()["failure"]
    );
    assert_no_panic(&r);
    (moto, seeded, r)
}

/// Whatever becomes of the deploy, the task the lost call started is not left behind: every
/// instance serves exactly one task, all of one revision.
#[test]
fn a_lost_starttask_response_leaves_no_stray_task() {
    let (moto, seeded, r) = deploy_with_lost_starttask_response();
    assert!([0, 3].contains(&r.code()), "{}", r.context());
    let state = moto.inspect();
    assert_safe_resting_state(&state);
    let (rev, image) = if r.code() == 0 {
        (2, IMAGE_V2)
    } else {
        (1, IMAGE_V1)
    };
    assert_runs_only(&state, rev, image, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
}

/// ecs-roll should find the task the lost call started (a task of the target revision on
/// that instance, started by ecs-roll) and carry on, instead of failing the deploy.
#[test]
fn a_lost_starttask_response_does_not_fail_the_deploy() {
    let (moto, seeded, r) = deploy_with_lost_starttask_response();
    outcome(&r, 0, "succeeded");
    assert!(
        r.stderr.contains("went unanswered") && r.stderr.contains("carrying on with it"),
        "{}",
        r.context()
    );
    let state = moto.inspect();
    // Step 1's StartTask was sent once: three tasks of revision 2, no more.
    assert_eq!(tasks_of(&state, 2), 3, "{}", state.raw);
    assert_runs_only(&state, 2, IMAGE_V2, &seeded.instance_ids);
    assert_registered_exactly(&state, &seeded.instance_ids);
}

// ---------------------------------------------------------------------------------------
// 4. the deadline and connection draining

/// `--timeout` passes while step 1's instance drains (4 s of connection draining, a 3 s
/// budget): ecs-roll must neither stop the task of an instance that is still draining (its
/// in-flight requests would be cut) nor go on with more steps past its deadline.
#[test]
fn a_deadline_that_passes_while_draining_does_not_cut_connections() {
    let moto = MotoServer::start();
    let seeded = moto.seed(&SeedOptions {
        draining_timeout_secs: 4,
        ..SeedOptions::fast()
    });
    let sampler = moto.health_sampler();
    let r = run(ecs_roll(&moto), &deploy_args(&["--timeout", "3s"]));
    let health = sampler.stop();
    eprintln!(
        "[faults] deploy with --timeout 3s and 4 s of connection draining: exit {} in {:?}: {}",
        r.code(),
        r.took,
        r.json()["failure"]
    );
    assert_no_panic(&r);
    assert_ne!(
        r.code(),
        0,
        "a deploy past its deadline is no success\n{}",
        r.context()
    );
    let state = moto.inspect();
    assert_safe_resting_state(&state);
    assert_registered_exactly(&state, &seeded.instance_ids);
    assert_served(&health, 2, "deadline while draining");
}

/// AWS never answers (every connection closed unanswered from the first call on): with
/// `--timeout 5s` the run gives up within about that (each read alone is retried for minutes),
/// exit 2, saying so, nothing changed.
#[test]
fn aws_unreachable_from_the_start_is_given_up_at_the_timeout_with_nothing_changed() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let before = e2e::quick_fingerprint(&moto);
    let faults = FaultInjector::new(FaultConfig::mixed(SEED, 0.0));
    faults.blackout_for(Duration::from_secs(3600));
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let r = run(through(&moto, &proxy), &deploy_args(&["--timeout", "5s"]));
    eprintln!(
        "[faults] AWS unreachable from the start, --timeout 5s: exit {} after {:?}, {} calls dropped",
        r.code(),
        r.took,
        faults.report().blacked_out
    );
    assert_no_panic(&r);
    r.assert_code(2);
    assert!(
        faults.report().blacked_out >= 1,
        "{}",
        faults.report().summary()
    );
    // Generous: the limit is 5 s; without it, this takes minutes.
    assert!(
        r.took < Duration::from_secs(45),
        "took {:?}\n{}",
        r.took,
        r.context()
    );
    let said = format!("{}{}", r.stderr, r.stdout);
    assert!(
        said.contains("AWS did not answer within 5s") && said.contains("nothing was changed"),
        "{}",
        r.context()
    );
    drop(proxy);
    assert_eq!(e2e::quick_fingerprint(&moto), before, "nothing changed");
}

/// Not a test of the suite: how long ecs-roll takes to give up when AWS never answers at all
/// (every connection closed unanswered from the first call on). Run it with `--ignored`.
#[test]
#[ignore = "measurement (minutes): AWS unreachable from the first call"]
fn measure_aws_unreachable_from_the_start() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    let before = e2e::quick_fingerprint(&moto);
    let faults = FaultInjector::new(FaultConfig::mixed(SEED, 0.0));
    faults.blackout_for(Duration::from_secs(3600));
    let proxy = Proxy::start(moto.port(), faults.clone() as Arc<dyn Interceptor>);
    let r = run(through(&moto, &proxy), &deploy_args(&["--timeout", "10s"]));
    eprintln!(
        "[faults] AWS unreachable from the start, --timeout 10s: exit {} after {:?}, {} calls dropped\n{}",
        r.code(),
        r.took,
        faults.report().blacked_out,
        e2e::tail(&r.stderr, 8)
    );
    assert_no_panic(&r);
    r.assert_code(2);
    assert_eq!(e2e::quick_fingerprint(&moto), before, "nothing changed");
}
