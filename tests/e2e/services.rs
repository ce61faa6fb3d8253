//! End to end: ECS service deploys of the real binary against moto_server, with the ECS
//! service scheduler of scripts/moto_patches.py rolling the deployments out (moto alone starts
//! no task for a service). The reference topology as service `cb-prototype`: three instances,
//! one per availability zone, static host port 5555, behind the classic ELB (or an ALB target
//! group), deploymentConfiguration 200/100. No host port is free, so ecs-roll deploys with
//! 100/66, having first recorded 200/100 on the service (tag
//! `ecs-roll:deployment-configuration`), and restores it at the end.
//!
//! * A plain deploy succeeds end to end: revision 2 on every instance, registered and
//!   healthy, never fewer than 2 of 3 instances InService, the configuration back to 200/100,
//!   neither the record nor the lock left.
//! * SIGTERM at every phase of the deploy (the proxy holds one chosen call, as in `signals`,
//!   so the signal lands in that exact phase): exit 130 (0 where only the restore was left),
//!   the lock released and a changed configuration always recorded; then the same command
//!   again: exit 0 and the state of a plain deploy.
//! * kill -9 at the same phases (the held call still reaches moto, as a request on its way
//!   would), then the same command with no `ecs-roll unlock`: the crashed run's lock, renewed
//!   every `ECS_ROLL_LOCK_HEARTBEAT` while it ran, is taken over, and the rerun ends in the
//!   same state.

use crate::harness as e2e;
use crate::support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::proxy::{self, HoldAt, Interceptor, PassThrough, Proxy};
use e2e::{DEREGISTERING, Pooled, Run, TASKDEF, ecs_roll, quick_state, run, spawn, xml_blocks};
use serde_json::{Value, json};
use support::{
    CLUSTER, FAMILY, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION, SeedOptions, Seeded, ServiceSeed,
};

const SERVICE: &str = FAMILY;
const RECORD: &str = "ecs-roll:deployment-configuration";
const LOCK: &str = "ecs-roll:lock";
/// How ecs-roll records the seeded configuration (no strategy set: ROLLING; no alarms, no bake).
const ORIGINAL: &str = "max=200 min=100 strategy=- alarms=- bake=- linear=- canary=-";
/// The configuration ecs-roll deploys with: no free host port, 3 tasks, one at a time.
const DURING: (Option<i64>, Option<i64>) = (Some(100), Some(66));
const SEEDED: (Option<i64>, Option<i64>) = (Some(200), Some(100));

/// `deploy --image IMAGE_V2` of the service, JSON output.
fn deploy_args() -> Vec<String> {
    [
        "--cluster",
        CLUSTER,
        "--service",
        SERVICE,
        "--region",
        REGION,
        "--output",
        "json",
        "deploy",
        "--image",
        IMAGE_V2,
        "--task-definition",
        TASKDEF,
    ]
    .map(String::from)
    .to_vec()
}

/// The fast reference setup (connection draining 1 s) with the app as a service.
fn seed(moto: &MotoServer, service: ServiceSeed) -> Seeded {
    moto.seed(&SeedOptions {
        service: Some(service),
        ..SeedOptions::fast()
    })
}

fn revision_of(arn: &str) -> i64 {
    arn.rsplit(':')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1)
}

/// The service as DescribeServices and ListTagsForResource show it, straight from moto.
#[derive(Debug)]
struct ServiceView {
    configuration: (Option<i64>, Option<i64>),
    /// (status, revision, running, desired) of each deployment, PRIMARY first.
    deployments: Vec<(String, i64, i64, i64)>,
    running: i64,
    tags: BTreeMap<String, String>,
}

fn ecs(moto: &MotoServer, op: &str, body: Value) -> Value {
    let (status, v) =
        proxy::ecs_call(moto.port(), op, &body).unwrap_or_else(|e| panic!("{op} on moto: {e}"));
    assert_eq!(status, 200, "{op}: HTTP {status}: {v}");
    v
}

fn service_view(moto: &MotoServer) -> ServiceView {
    let described = ecs(
        moto,
        "DescribeServices",
        json!({"cluster": CLUSTER, "services": [SERVICE]}),
    );
    let s = &described["services"][0];
    let tags = ecs(
        moto,
        "ListTagsForResource",
        json!({"resourceArn": s["serviceArn"]}),
    );
    let int = |v: &Value| v.as_i64();
    ServiceView {
        configuration: (
            int(&s["deploymentConfiguration"]["maximumPercent"]),
            int(&s["deploymentConfiguration"]["minimumHealthyPercent"]),
        ),
        deployments: s["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d["status"].as_str().unwrap_or_default().to_string(),
                    revision_of(d["taskDefinition"].as_str().unwrap_or_default()),
                    int(&d["runningCount"]).unwrap_or(-1),
                    int(&d["desiredCount"]).unwrap_or(-1),
                )
            })
            .collect(),
        running: int(&s["runningCount"]).unwrap_or(-1),
        tags: tags["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let text = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (text("key"), text("value"))
            })
            .collect(),
    }
}

impl ServiceView {
    /// What a deploy of revision 2 leaves: that revision's one deployment, 3 of 3 running,
    /// the configuration restored, neither the record nor the lock.
    fn assert_deployed(&self, what: &str) {
        assert_eq!(
            self.deployments,
            [("PRIMARY".to_string(), 2, 3, 3)],
            "{what}: one deployment, of revision 2, 3 of 3 running\n{self:#?}"
        );
        assert_eq!(self.running, 3, "{what}\n{self:#?}");
        assert_eq!(
            self.configuration, SEEDED,
            "{what}: the deployment configuration is restored\n{self:#?}"
        );
        assert!(
            !self.tags.contains_key(RECORD),
            "{what}: the record goes with the restore\n{self:#?}"
        );
        assert!(
            !self.tags.contains_key(LOCK),
            "{what}: the lock is released\n{self:#?}"
        );
    }

    /// What a rerun can always finish from: the configuration is the seeded one, or ecs-roll's
    /// own with the seeded one recorded; a record, if any, is of the seeded one.
    fn assert_recoverable(&self, what: &str) {
        let record = self.tags.get(RECORD).map(String::as_str);
        assert!(
            record.is_none_or(|r| r == ORIGINAL),
            "{what}: the record keeps the configuration the service had\n{self:#?}"
        );
        assert!(
            self.configuration == SEEDED || (self.configuration == DURING && record.is_some()),
            "{what}: a changed configuration is recorded\n{self:#?}"
        );
    }
}

/// Every container instance runs exactly one RUNNING task of revision 2, and the classic ELB
/// serves each of them.
fn assert_converged(moto: &MotoServer, what: &str) {
    let state = quick_state(moto);
    state.assert_converged(2, what);
    assert_eq!(
        state.revisions,
        [1, 2],
        "{what}: no revision registered twice"
    );
}

fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked"),
        "ecs-roll panicked:\n{}",
        r.context()
    );
}

// ---------------------------------------------------------------------------------------
// plain deploys

#[test]
fn a_service_deploy_behind_the_classic_elb_rolls_out_and_restores_the_configuration() {
    let moto = Pooled::take();
    seed(&moto, ServiceSeed::classic());
    let before = service_view(&moto);
    assert_eq!(before.configuration, SEEDED, "{before:#?}");
    assert_eq!(before.deployments, [("PRIMARY".to_string(), 1, 3, 3)]);
    let calls = Proxy::start(moto.port(), Arc::new(PassThrough) as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(&moto);
    cmd.env("AWS_ENDPOINT_URL", calls.endpoint());
    let sampler = moto.health_sampler();
    let r = run(cmd, &deploy_args());
    let health = sampler.stop();
    eprintln!(
        "[services] classic ELB: exit {} in {:?}; calls {:?}",
        r.code(),
        r.took,
        calls.operations()
    );
    assert_no_panic(&r);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(doc["result"], "succeeded", "{}", r.context());
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{doc}");
    assert_eq!(doc["service"], SERVICE, "{doc}");
    let ops = calls.operations();
    let updates = ops.iter().filter(|o| *o == "UpdateService").count();
    assert_eq!(
        updates, 2,
        "one UpdateService starts the deployment (with 100/66), one restores 200/100: {ops:?}"
    );
    service_view(&moto).assert_deployed("plain deploy");
    assert_converged(&moto, "plain deploy");
    crate::standalone::assert_served_throughout(&health, 2, "service deploy");
}

/// The target group's targets: (id, port, state).
fn targets(moto: &MotoServer, target_group: &str) -> Vec<(String, String, String)> {
    let (status, xml) = proxy::query_call(
        moto.port(),
        "elasticloadbalancing",
        "2015-12-01",
        "DescribeTargetHealth",
        &[("TargetGroupArn", target_group)],
    )
    .unwrap_or_else(|e| panic!("DescribeTargetHealth on moto: {e}"));
    assert_eq!(status, 200, "{xml}");
    let mut out: Vec<_> = xml_blocks(&xml, "member")
        .iter()
        .map(|m| {
            let first = |tag: &str| e2e::xml_first(m, tag);
            (first("Id"), first("Port"), first("State"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_service_deploy_behind_a_target_group_rolls_out_and_restores_the_configuration() {
    let moto = Pooled::take();
    let seeded = seed(&moto, ServiceSeed::target_group());
    let tg = seeded
        .service
        .as_ref()
        .and_then(|s| s.target_group_arn.clone())
        .expect("the seeded target group");
    let mut want: Vec<_> = seeded
        .instance_ids
        .iter()
        .map(|i| (i.clone(), "5555".to_string(), "healthy".to_string()))
        .collect();
    want.sort();
    assert_eq!(targets(&moto, &tg), want, "seeded");
    let r = run(ecs_roll(&moto), &deploy_args());
    eprintln!("[services] target group: exit {} in {:?}", r.code(), r.took);
    assert_no_panic(&r);
    r.assert_code(0);
    assert_eq!(r.json()["result"], "succeeded", "{}", r.context());
    service_view(&moto).assert_deployed("target group deploy");
    assert_eq!(
        targets(&moto, &tg),
        want,
        "each instance is a healthy target again, on the host port"
    );
    let state = quick_state(&moto);
    for (id, i) in &state.instances {
        assert!(
            i.tasks == [2] && i.running == [2] && !i.registered,
            "{id} runs one task of revision 2 (and is not in the classic ELB): {i:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// signals at every phase, each followed by a plain rerun

/// Where the signal lands: the call held while it is sent (given moto's port, for a condition
/// on moto's state), and what the interrupted run leaves.
struct Phase {
    name: &'static str,
    hold: fn(u16) -> HoldAt,
    left: Left,
}

/// What a SIGTERM in the phase leaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Left {
    /// No deployment started (revision 2 may be registered): revision 1, 200/100, no record.
    Unchanged,
    /// The rollout goes on without ecs-roll: 100/66, recorded.
    RollingOut,
    /// Only the restore was left, and it was done: the state of a plain deploy (exit 0).
    Deployed,
}

/// Whether moto shows an instance of the classic ELB draining.
fn draining(port: u16) -> bool {
    proxy::elb_call(
        port,
        "DescribeInstanceHealth",
        &[("LoadBalancerName", LOAD_BALANCER)],
    )
    .is_ok_and(|(_, xml)| xml.contains(DEREGISTERING))
}

fn phases() -> Vec<Phase> {
    vec![
        Phase {
            name: "service: preflight",
            hold: |_| HoldAt::new("DescribeClusters"),
            left: Left::Unchanged,
        },
        Phase {
            name: "service: taking the lock",
            hold: |_| HoldAt::new("TagResource").body_contains(LOCK),
            left: Left::Unchanged,
        },
        Phase {
            name: "service: registering the revision",
            hold: |_| HoldAt::new("RegisterTaskDefinition"),
            left: Left::Unchanged,
        },
        Phase {
            name: "service: recording the configuration",
            hold: |_| HoldAt::new("TagResource").body_contains(RECORD),
            left: Left::RollingOut,
        },
        Phase {
            name: "service: starting the deployment",
            hold: |_| HoldAt::new("UpdateService"),
            left: Left::RollingOut,
        },
        Phase {
            name: "service: rollout under way",
            hold: |_| HoldAt::new("DescribeServices").after("UpdateService"),
            left: Left::RollingOut,
        },
        Phase {
            name: "service: an old task draining",
            hold: |port| {
                HoldAt::new("DescribeInstanceHealth")
                    .after("UpdateService")
                    .when(move || draining(port))
            },
            left: Left::RollingOut,
        },
        Phase {
            name: "service: restoring the configuration",
            hold: |_| HoldAt::new("UpdateService").nth(2),
            left: Left::Deployed,
        },
        Phase {
            name: "service: removing the record",
            hold: |_| HoldAt::new("UntagResource").body_contains(RECORD),
            left: Left::Deployed,
        },
    ]
}

/// The crashed run renews its lock this often, so the rerun can tell it is gone.
const HEARTBEAT: &str = "1s";

/// One interrupted (or killed) run and its plain rerun, on a moto_server of its own.
fn interrupt(phase: &Phase, signal: &str) {
    let what = format!("{} (SIG{signal})", phase.name);
    let moto = &Pooled::take();
    seed(moto, ServiceSeed::classic());
    let hold = (phase.hold)(moto.port()).build();
    let proxy = Proxy::start(moto.port(), hold.clone() as Arc<dyn Interceptor>);
    let mut cmd = ecs_roll(moto);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let killed = signal == "KILL";
    if killed {
        cmd.env("ECS_ROLL_LOCK_HEARTBEAT", HEARTBEAT);
    }
    let child = spawn(cmd, &deploy_args());
    assert!(
        hold.wait_held(Duration::from_secs(60)),
        "{what}: {} was never called:\n{}",
        hold.describe(),
        child.stderr_so_far()
    );
    child.signal(signal);
    let ack = killed || {
        child
            .wait_for_line("interrupt received", Duration::from_secs(20))
            .is_some()
    };
    hold.release();
    assert!(
        ack,
        "{what}: no acknowledgement of the signal:\n{}",
        child.stderr_so_far()
    );
    let r = child.finish(e2e::RUN_LIMIT);
    drop(proxy);
    let view = service_view(moto);
    eprintln!(
        "[services] {what}: held {}, exit {} in {:?}; left {view:?}",
        hold.describe(),
        r.code(),
        r.took
    );
    assert_no_panic(&r);
    view.assert_recoverable(&what);
    if !killed {
        assert_after_signal(phase, &r, &view, &what);
    }

    let again = run(ecs_roll(moto), &deploy_args());
    eprintln!(
        "[services] {what}: rerun exit {} in {:?}",
        again.code(),
        again.took
    );
    assert_no_panic(&again);
    again.assert_code(0);
    if view.tags.contains_key(LOCK) {
        assert!(
            again.stderr.contains("took over the deploy lock of"),
            "{what}: the rerun says it took the crashed run's lock over\n{}",
            again.context()
        );
    }
    let doc = again.json();
    assert_eq!(doc["result"], "succeeded", "{what}\n{}", again.context());
    assert_eq!(doc["target"]["name"], "cb-prototype:2", "{what}: {doc}");
    service_view(moto).assert_deployed(&what);
    assert_converged(moto, &what);
}

/// A SIGTERM ends the run at once where it waits (exit 130) or, with only the restore left,
/// lets it finish (exit 0); either way the lock is released.
fn assert_after_signal(phase: &Phase, r: &Run, view: &ServiceView, what: &str) {
    assert!(
        !view.tags.contains_key(LOCK),
        "{what}: the lock is released\n{view:#?}"
    );
    let doc = r.json();
    match phase.left {
        Left::Unchanged => {
            r.assert_code(130);
            assert_eq!(doc["result"], "interrupted", "{}", r.context());
            assert_eq!(view.configuration, SEEDED, "{what}\n{view:#?}");
            assert!(!view.tags.contains_key(RECORD), "{what}\n{view:#?}");
            assert_eq!(view.deployments, [("PRIMARY".to_string(), 1, 3, 3)]);
        }
        Left::RollingOut => {
            r.assert_code(130);
            assert_eq!(doc["result"], "interrupted", "{}", r.context());
            assert_eq!(view.configuration, DURING, "{what}\n{view:#?}");
            assert_eq!(
                view.tags.get(RECORD).map(String::as_str),
                Some(ORIGINAL),
                "{what}\n{view:#?}"
            );
            assert_eq!(
                view.deployments.first().map(|d| (d.0.as_str(), d.1)),
                Some(("PRIMARY", 2)),
                "{what}: revision 2 rolls out\n{view:#?}"
            );
        }
        Left::Deployed => {
            r.assert_code(0);
            assert_eq!(doc["result"], "succeeded", "{}", r.context());
            view.assert_deployed(what);
        }
    }
}

/// Runs every phase with each signal, `parallel` cases at a time, each on a moto_server of its
/// own; reports every failed case.
fn every_phase(signals: &[&str], parallel: usize) {
    let t0 = Instant::now();
    let all = phases();
    let cases: Vec<(&Phase, &str)> = all
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
                    if std::panic::catch_unwind(|| interrupt(phase, signal)).is_err() {
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
        "[services] {} phases x {signals:?} = {} runs and reruns; failed: {} {failed:?} ({:?})",
        all.len(),
        cases.len(),
        failed.len(),
        t0.elapsed()
    );
    assert!(failed.is_empty(), "failed cases (see above): {failed:?}");
}

#[test]
fn a_service_deploy_interrupted_at_every_phase_is_finished_by_a_plain_rerun() {
    every_phase(&["TERM"], 5);
}

#[test]
fn a_service_deploy_killed_at_every_phase_is_finished_by_a_plain_rerun_without_unlock() {
    every_phase(&["KILL"], 5);
}
