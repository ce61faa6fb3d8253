//! How long a deploy will take: per step and in all, from what AWS reports (health check
//! interval and thresholds, connection draining or deregistration delay) and, once the target
//! was deployed before, from how long each kind of step took then. That record is written on
//! the revision a deploy rolled out (`TAG_TIMINGS`), so any machine's next deploy learns it.
//! Pure: the engine passes in what it observed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::failure::secs;
use super::plan::{Action, Plan};
use super::service::configuration::Choice;
use crate::platform::{ClassicLoadBalancer, HealthCheck, Revision};

/// Tag on a revision: how long each kind of step of the rollout that deployed it took, in
/// seconds, e.g. `replace=125.3 launch=70`.
pub const TAG_TIMINGS: &str = "ecs-roll:timings";

/// A task's start (image pull, container start) before anything was observed: what ECS
/// typically takes for a small image on EC2.
const DEFAULT_TASK_START: Duration = Duration::from_secs(30);
/// A task's stop after StopTask: apps that handle SIGTERM stop within seconds.
const DEFAULT_TASK_STOP: Duration = Duration::from_secs(5);

/// The kinds of step whose durations are recorded and learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    Register,
    Launch,
    Retire,
    Replace,
    Deregister,
    /// A service deployment, from UpdateService until ECS completed it.
    Rollout,
}

impl StepKind {
    const ALL: [StepKind; 6] = [
        StepKind::Register,
        StepKind::Launch,
        StepKind::Retire,
        StepKind::Replace,
        StepKind::Deregister,
        StepKind::Rollout,
    ];

    fn word(self) -> &'static str {
        match self {
            StepKind::Register => "register",
            StepKind::Launch => "launch",
            StepKind::Retire => "retire",
            StepKind::Replace => "replace",
            StepKind::Deregister => "deregister",
            StepKind::Rollout => "rollout",
        }
    }

    pub fn of(action: &Action) -> StepKind {
        match action {
            Action::Register { .. } => StepKind::Register,
            Action::Launch { .. } => StepKind::Launch,
            Action::Retire { .. } => StepKind::Retire,
            Action::Replace { .. } => StepKind::Replace,
            Action::Deregister { .. } => StepKind::Deregister,
        }
    }
}

/// The expected duration of each step (in plan order) and of the whole rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    #[serde(skip)]
    pub steps: Vec<Duration>,
    #[serde(rename = "predicted_seconds", with = "secs")]
    pub total: Duration,
    /// The revision whose deploy's steps the prediction learned from; None: from the load
    /// balancer's settings and typical task start and stop times alone.
    #[serde(rename = "predicted_from")]
    pub learned_from: Option<String>,
}

impl Prediction {
    fn new(steps: Vec<Duration>, learned_from: Option<String>) -> Prediction {
        let total = steps.iter().sum();
        Prediction {
            steps,
            total,
            learned_from,
        }
    }

    /// What is left once the first `done` steps are behind: the rest of the steps.
    pub fn left_after(&self, done: usize) -> Duration {
        self.steps.iter().skip(done).sum()
    }
}

/// Mean seconds per kind of step, as a deploy observed them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed(BTreeMap<StepKind, Duration>);

impl Observed {
    /// The record on a revision, if it has one.
    pub fn of(rev: &Revision) -> Option<(String, Observed)> {
        let o = Observed::parse(rev.tags.get(TAG_TIMINGS)?);
        (!o.0.is_empty()).then(|| (rev.name(), o))
    }

    /// `replace=125.3 launch=70`; words or numbers it does not know are skipped.
    pub fn parse(tag: &str) -> Observed {
        let kinds = tag.split_whitespace().filter_map(|pair| {
            let (word, secs) = pair.split_once('=')?;
            let kind = StepKind::ALL.into_iter().find(|k| k.word() == word)?;
            let secs: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
            Some((kind, Duration::from_secs_f64(secs)))
        });
        Observed(kinds.collect())
    }

    /// The mean per kind of the steps a rollout took.
    pub fn from_steps(steps: &[(StepKind, Duration)]) -> Observed {
        let mut sums: BTreeMap<StepKind, (Duration, u32)> = BTreeMap::new();
        for (kind, took) in steps {
            let e = sums.entry(*kind).or_default();
            e.0 += *took;
            e.1 += 1;
        }
        Observed(sums.into_iter().map(|(k, (d, n))| (k, d / n)).collect())
    }

    /// The tag value (tenths of seconds: ECS tags hold 256 characters).
    pub fn tag(&self) -> String {
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(k, d)| format!("{}={:.1}", k.word(), d.as_secs_f64()))
            .collect();
        pairs.join(" ")
    }

    fn get(&self, kind: StepKind) -> Option<Duration> {
        self.0.get(&kind).copied()
    }
}

/// From RUNNING (or registration) to InService: the ELB checks every interval and wants
/// HealthyThreshold passes in a row; the first check comes up to one interval in.
fn healthy_after(hc: &HealthCheck, grace: Duration) -> Duration {
    hc.interval * hc.healthy_threshold.max(1) + grace
}

/// What one step of a standalone plan takes by the load balancer's settings.
fn standalone_step(lb: &ClassicLoadBalancer, kind: StepKind, grace: Duration) -> Duration {
    let healthy = healthy_after(&lb.health_check, grace);
    let launch = DEFAULT_TASK_START + healthy;
    let retire = lb.connection_draining.unwrap_or_default() + DEFAULT_TASK_STOP;
    match kind {
        StepKind::Register => healthy,
        StepKind::Launch => launch,
        StepKind::Retire => retire,
        StepKind::Replace => retire + launch,
        StepKind::Deregister => lb.connection_draining.unwrap_or_default(),
        StepKind::Rollout => launch + retire,
    }
}

/// The standalone plan's steps: as the last deploy of the target took them where it had that
/// kind of step, else by the load balancer's settings.
pub fn standalone(
    lb: &ClassicLoadBalancer,
    plan: &Plan,
    grace: Duration,
    previous: Option<(String, Observed)>,
) -> Prediction {
    let observed = previous.as_ref().map(|(_, o)| o);
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let kind = StepKind::of(&s.action);
            observed
                .and_then(|o| o.get(kind))
                .unwrap_or_else(|| standalone_step(lb, kind, grace))
        })
        .collect();
    Prediction::new(steps, previous.map(|(revision, _)| revision))
}

/// How a service's load balancers time one task's way in and out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceTimings {
    /// Registration to healthy, the slowest load balancer of the service.
    pub healthy: Duration,
    /// The longest deregistration delay or connection draining.
    pub draining: Duration,
}

/// A service deployment: ECS replaces the tasks in rounds of `surge` new tasks plus the old
/// ones `minimumHealthyPercent` lets it stop first; each round starts, passes the health
/// checks, drains and stops. Nothing to replace (a service scaled to zero) takes one start.
pub fn service(
    desired: i64,
    choice: &Choice,
    timings: ServiceTimings,
    previous: Option<(String, Observed)>,
) -> Prediction {
    let learned = previous
        .as_ref()
        .and_then(|(_, o)| o.get(StepKind::Rollout));
    let step = learned.unwrap_or_else(|| {
        let per_round = (choice.surge + (desired - choice.min_healthy_tasks)).max(1);
        let rounds = u32::try_from((desired.max(1) + per_round - 1) / per_round).unwrap_or(1);
        (DEFAULT_TASK_START + timings.healthy + timings.draining + DEFAULT_TASK_STOP) * rounds
    });
    let learned_from = learned.and(previous.map(|(revision, _)| revision));
    Prediction::new(vec![step], learned_from)
}

#[cfg(test)]
mod tests;
