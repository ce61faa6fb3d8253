//! Cost flat per cluster: `n` services of one cluster deployed at once, as `ecs-roll deploy
//! --all` does (one rate limit, DescribeServices shared through `ecs_roll::batch`), measured
//! for the requests a second they cost while nothing changes, and for how soon a crash in
//! one of them is acted on (a sweep of crash times in `web-00`, the others deploying fine).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_roll::engine::deploy::Desired;
use ecs_roll::engine::events::Event;
use ecs_roll::engine::service;
use ecs_roll::sim::{Behaviour, Sim};
use serde::Serialize;
use tokio::time::Instant;

use crate::bench_support::secs;
use crate::{
    CLUSTER, Env, Limiters, Limiting, Policy, Topology, limited_ctx, many_sim, opts, percentiles,
    service_definition, settings,
};

/// Right after a change the watches react to it (the reads it calls for): not idle.
const REACTION_S: f64 = 2.0;
/// The shortest stretch without changes counted as idle.
const QUIET_MIN_S: f64 = 30.0;
/// The crash times of the detection sweep, milliseconds after RUNNING: spread over the
/// wait, and over the phases of a 1 s poll (.13, .37, ... .81 s past a whole second).
const CRASH_AFTER_MS: [u32; 8] = [5130, 14370, 23610, 32850, 47090, 61330, 74570, 88810];
/// The evidence: web-00's second new task asked to stop, what ecs-roll's judge takes as
/// conclusive for a service of 3 tasks (one stop may be its host's).
const CONCLUSIVE_STOPS: usize = 2;
/// The deploy lock's calls (its heartbeat while idle).
const LOCK_OPERATIONS: [&str; 3] = ["TagResource", "ListTagsForResource", "UntagResource"];
/// How often the evidence watcher samples.
const SAMPLE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Serialize)]
pub struct FlatPoint {
    pub policy: Policy,
    pub services: usize,
    /// Every request (reads; nothing changes) per second inside the idle stretches.
    pub idle_requests_per_s: f64,
    /// Of those, DescribeServices.
    pub idle_describe_services_per_s: f64,
    /// Of those, the watches' reads: all but the deploy locks' heartbeats (a TagResource and
    /// its read-back ListTagsForResource per service every 15 s, per service by design: each
    /// lock must stay fresh on its own).
    pub idle_watch_reads_per_s: f64,
    pub idle_lock_requests_per_s: f64,
    /// All of them by operation, per second.
    pub idle_by_operation_per_s: std::collections::BTreeMap<String, f64>,
    /// How long the idle stretches measured last in all.
    pub idle_s: f64,
    pub crash_after_s: Vec<f64>,
    pub latency_s: Vec<f64>,
    pub p50_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
}

/// One point: the idle cost of `n` services deploying, and the detection sweep among them.
pub async fn measure(n: usize, policy: Policy) -> FlatPoint {
    let (idle_requests_per_s, idle_by_operation_per_s, idle_s) = idle_cost(n, policy).await;
    let idle_describe_services_per_s = idle_by_operation_per_s
        .get("DescribeServices")
        .copied()
        .unwrap_or(0.0);
    let idle_lock_requests_per_s: f64 = idle_by_operation_per_s
        .iter()
        .filter(|(op, _)| LOCK_OPERATIONS.contains(&op.as_str()))
        .map(|(_, r)| r)
        .sum();
    let mut latency_s = Vec::new();
    for after in CRASH_AFTER_MS {
        latency_s.push(detection(n, policy, after).await.unwrap_or(f64::NAN));
    }
    let (p50_s, _, p99_s, max_s) = percentiles(&latency_s);
    FlatPoint {
        policy,
        services: n,
        idle_requests_per_s: crate::round(idle_requests_per_s),
        idle_describe_services_per_s: crate::round(idle_describe_services_per_s),
        idle_watch_reads_per_s: crate::round(idle_requests_per_s - idle_lock_requests_per_s),
        idle_lock_requests_per_s: crate::round(idle_lock_requests_per_s),
        idle_by_operation_per_s,
        idle_s: crate::round(idle_s),
        crash_after_s: CRASH_AFTER_MS
            .iter()
            .map(|ms| f64::from(*ms) / 1000.0)
            .collect(),
        latency_s,
        p50_s,
        p99_s,
        max_s,
    }
}

fn name(i: usize) -> String {
    format!("web-{i:02}")
}

/// Everything an API client could see of the cluster: every task's status, every
/// deployment's counts, every target group's targets (unlogged accessors).
fn fingerprint(sim: &Sim, n: usize) -> String {
    let mut fp = String::new();
    for t in sim.tasks() {
        fp.push_str(&format!(
            "{}:{}:{};",
            t.arn, t.last_status, t.desired_status
        ));
    }
    for i in 0..n {
        if let Some(svc) = sim.service(CLUSTER, &name(i)) {
            for d in &svc.deployments {
                fp.push_str(&format!(
                    "{}:{}:{:?}:{}:{}:{};",
                    d.id,
                    d.status,
                    d.rollout_state,
                    d.running_count,
                    d.pending_count,
                    d.failed_tasks
                ));
            }
            fp.push_str(&format!("ev{};", svc.events.len()));
        }
        if let Some(arn) = sim.target_group_arn(&name(i)) {
            for h in sim.target_health(&arn) {
                fp.push_str(&format!("{}:{:?}:{};", h.id, h.port, h.state.as_str()));
            }
        }
    }
    fp
}

/// Samples the cluster every `period` until aborted; the instants it changed.
fn spawn_changes(
    sim: Sim,
    n: usize,
    period: Duration,
) -> (Arc<Mutex<Vec<f64>>>, tokio::task::JoinHandle<()>) {
    let changes = Arc::new(Mutex::new(Vec::new()));
    let sink = changes.clone();
    let handle = tokio::spawn(async move {
        let mut last = String::new();
        let mut next = Instant::now();
        loop {
            let fp = fingerprint(&sim, n);
            if fp != last {
                if !last.is_empty() {
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(secs(sim.elapsed()));
                }
                last = fp;
            }
            next += period;
            tokio::time::sleep_until(next).await;
        }
    });
    (changes, handle)
}

/// (requests/s, the same by operation, seconds measured) inside the stretches of at least
/// `QUIET_MIN_S` without a visible change, from `REACTION_S` after the change that opened one.
async fn idle_cost(
    n: usize,
    policy: Policy,
) -> (f64, std::collections::BTreeMap<String, f64>, f64) {
    let env = Env::new(many_sim(n, &settings(Topology::ServiceAlbDynamic)));
    let names: Vec<String> = (0..n).map(name).collect();
    let mut defs = Vec::new();
    for name in &names {
        defs.push(service_definition(&env.sim, name, "app:v2").await);
    }
    env.sim.clear_calls();
    let start = secs(env.sim.elapsed());
    let (changes, watcher) = spawn_changes(env.sim.clone(), n, Duration::from_millis(100));
    deploy(
        &env,
        names.iter().cloned().zip(defs).collect(),
        policy,
        None,
    )
    .await;
    let end = secs(env.sim.elapsed());
    watcher.abort();
    let changes = changes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let calls = env.calls();
    let mut bounds = vec![start];
    bounds.extend(changes.iter().copied().filter(|c| *c > start && *c < end));
    bounds.push(end);
    let (mut requests, mut by_op, mut span) = (0usize, std::collections::BTreeMap::new(), 0.0);
    for w in bounds.windows(2) {
        let (a, b) = (w[0] + REACTION_S, w[1]);
        if w[1] - w[0] < QUIET_MIN_S {
            continue;
        }
        let inside = calls.iter().filter(|(t, _)| *t >= a && *t < b);
        for (_, op) in inside {
            requests += 1;
            *by_op.entry(op.clone()).or_insert(0usize) += 1;
        }
        span += b - a;
    }
    let per_s = |k: usize| {
        if span > 0.0 {
            k as f64 / span
        } else {
            f64::NAN
        }
    };
    let by_op = by_op
        .into_iter()
        .map(|(op, k)| (op, crate::round(per_s(k))))
        .collect();
    (per_s(requests), by_op, span)
}

/// The latency from web-00's second new task asked to stop (its image crashes `after` s after
/// RUNNING) to ecs-roll's first action on it, the other services deploying meanwhile.
async fn detection(n: usize, policy: Policy, after_ms: u32) -> Option<f64> {
    let env = Env::new(many_sim(n, &settings(Topology::ServiceAlbDynamic)));
    env.sim.set_image_behaviour(
        "app:v2-crash",
        Behaviour::CrashAfter(Duration::from_millis(after_ms.into())),
    );
    let mut targets = Vec::new();
    for i in 0..n {
        let image = if i == 0 { "app:v2-crash" } else { "app:v2" };
        targets.push((name(i), service_definition(&env.sim, &name(i), image).await));
    }
    env.sim.clear_calls();
    let stop = Arc::new(Mutex::new(None::<f64>));
    let sink = stop.clone();
    let sim = env.sim.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let stopped = sim
                .tasks()
                .iter()
                .filter(|t| {
                    t.task_definition_arn.contains("/web-00:")
                        && !t.task_definition_arn.ends_with(":1")
                        && t.desired_status == "STOPPED"
                })
                .count();
            if stopped >= CONCLUSIVE_STOPS {
                *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(secs(sim.elapsed()));
                return;
            }
            tokio::time::sleep(SAMPLE).await;
        }
    });
    deploy(&env, targets, policy, Some(0)).await;
    // A last sample at the run's end: a verdict at the instant of its evidence.
    tokio::time::sleep(SAMPLE).await;
    watcher.abort();
    let evidence = (*stop.lock().unwrap_or_else(|e| e.into_inner()))?;
    // Sampled: the stop came after the sample before, and an action in that sample (the
    // same virtual instant) was immediate.
    let from = evidence - secs(SAMPLE);
    let rollback = env
        .stamps
        .events()
        .into_iter()
        .find(|(t, e)| *t > from && matches!(e, Event::RollbackStarted { .. }))
        .map(|(t, _)| t);
    let update = env
        .calls()
        .into_iter()
        .find(|(t, op)| *t > from && op == "UpdateService")
        .map(|(t, _)| t);
    let action = [rollback, update].into_iter().flatten().reduce(f64::min)?;
    Some(crate::round((action - evidence).max(0.0)))
}

/// Deploys every target at once under one shared limiter, as `deploy --all` does; with
/// `until`, only until that target's deploy has ended (the others are dropped then).
async fn deploy(
    env: &Env,
    targets: Vec<(String, ecs_roll::taskdef::TaskDefinition)>,
    policy: Policy,
    until: Option<usize>,
) {
    let limiter = Limiters::new(Limiting::Shared, policy);
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for (name, td) in targets {
        let sctx = limited_ctx(env, &name, policy, &limiter);
        handles.push(local.spawn_local(async move {
            let _ = service::run(&sctx, Desired::Definition(td), &opts()).await;
        }));
    }
    local
        .run_until(async {
            match until {
                Some(i) => {
                    let _ = handles.swap_remove(i).await;
                }
                None => {
                    for h in handles {
                        let _ = h.await;
                    }
                }
            }
        })
        .await;
}
