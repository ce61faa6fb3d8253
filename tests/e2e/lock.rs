//! End to end: the deploy lock between real ecs-roll processes. A run renews its lock while
//! it works (a heartbeat in the tag); a second deploy of the same target is refused naming
//! the first; a run killed with SIGKILL leaves a lock that is no longer renewed, and a plain
//! rerun takes it over and completes, with no `ecs-roll unlock`.

use crate::harness as e2e;
use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::proxy::{HoldAt, Interceptor, Proxy};
use e2e::{deploy_args, ecs_roll, quick_state, run, spawn};
use serde_json::json;
use support::{CLUSTER, MotoServer, SeedOptions};

/// The cluster's deploy lock tag of the reference family, if any.
fn lock_tag(moto: &MotoServer) -> Option<String> {
    let clusters = moto.aws("ecs", "describe_clusters", &json!({"clusters": [CLUSTER]}));
    let arn = clusters["clusters"][0]["clusterArn"]
        .as_str()
        .unwrap()
        .to_string();
    let tags = moto.aws(
        "ecs",
        "list_tags_for_resource",
        &json!({"resourceArn": arn}),
    );
    tags["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["key"] == "ecs-roll:lock:cb-prototype")
        .map(|t| t["value"].as_str().unwrap_or_default().to_string())
}

fn wait_for_lock(moto: &MotoServer, limit: Duration) -> Option<String> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(v) = lock_tag(moto) {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn a_second_deploy_while_the_first_renews_its_lock_exits_2_naming_the_first() {
    let moto = MotoServer::start();
    // Four seconds of draining per step: the first deploy runs long enough to be seen.
    moto.seed(&SeedOptions {
        draining_timeout_secs: 4,
        ..SeedOptions::fast()
    });
    let mut first = ecs_roll(&moto);
    first.env("ECS_ROLL_LOCK_HEARTBEAT", "1s");
    let first = spawn(first, &deploy_args());
    let tag = wait_for_lock(&moto, Duration::from_secs(60));
    assert!(tag.is_some(), "no lock taken:\n{}", first.stderr_so_far());
    let second = run(ecs_roll(&moto), &deploy_args());
    let first = first.finish(e2e::RUN_LIMIT);
    eprintln!(
        "[lock] two deploys at once: first exit {} in {:?}, second exit {} in {:?}",
        first.code(),
        first.took,
        second.code(),
        second.took
    );
    first.assert_code(0);
    second.assert_code(2);
    let doc = second.json();
    assert_eq!(doc["refusal"]["kind"], "lock_held", "{doc}");
    assert_eq!(doc["refusal"]["renews_every_ms"], 1000, "{doc}");
    let holder = doc["refusal"]["holder"].as_str().unwrap_or_default();
    assert!(
        holder.contains("(pid "),
        "a holder a person can find: {holder}"
    );
    assert!(
        doc["error"].as_str().unwrap_or_default().contains(holder),
        "{doc}"
    );
    quick_state(&moto).assert_converged(2, "two deploys at once");
    assert_eq!(lock_tag(&moto), None, "released by the first");
}

#[test]
fn a_deploy_killed_with_sigkill_is_completed_by_a_plain_rerun_that_takes_its_lock_over() {
    let moto = MotoServer::start();
    moto.seed(&SeedOptions::fast());
    // Killed while its first new task starts: an instance out of the ELB with no task.
    let hold = HoldAt::new("StartTask").build();
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut killed = ecs_roll(&moto);
    killed
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("ECS_ROLL_LOCK_HEARTBEAT", "1s");
    let killed = spawn(killed, &deploy_args());
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{}",
        killed.stderr_so_far()
    );
    killed.signal("KILL");
    let killed = killed.finish(Duration::from_secs(20));
    hold.release();
    drop(proxy);
    assert_eq!(killed.code(), -1, "killed by the signal");
    let left = lock_tag(&moto).expect("a kill -9 leaves its lock");

    let started = Instant::now();
    let again = run(ecs_roll(&moto), &deploy_args());
    eprintln!(
        "[lock] rerun after kill -9: exit {} in {:?} (lock left: {left})",
        again.code(),
        again.took
    );
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(doc["result"], "succeeded", "{doc}");
    let said = again
        .stderr
        .lines()
        .find(|l| l.contains("took over the deploy lock of"))
        .unwrap_or_default();
    assert!(
        said.contains("(pid ") && said.contains("so that run is gone"),
        "the takeover names whose lock it was:\n{}",
        again.stderr
    );
    // One heartbeat interval of 1 s: three missed and 5 s of room.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    quick_state(&moto).assert_converged(2, "rerun after kill -9");
    assert_eq!(lock_tag(&moto), None, "released");
}
