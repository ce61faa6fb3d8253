//! ALB/NLB target groups: targets registered by the service scheduler (an instance and host
//! port, or an address and container port), their health replayed check by check up to the
//! moment someone looks, and draining after deregistration.
//!
//! A target is `initial` from registration; `healthy_threshold` passing checks in a row make it
//! `healthy`, `unhealthy_threshold` failing ones `unhealthy` (from `initial` too). The first
//! check is one interval after registration. A deregistered target that was healthy is
//! `draining` for the deregistration delay (capped by `Timings::in_flight_drain`); one that
//! never served has no connections and leaves at once, as AWS documents.

use std::time::Duration;

use tokio::time::Instant;

use super::world::{ACCOUNT, REGION};
use crate::platform::{TargetGroup, TargetHealth};

pub const INITIAL_CHECKS: &str = "Initial health checks in progress";
pub const FAILED_HEALTH_CHECKS: &str = "Health checks failed";
pub const DEREGISTRATION_IN_PROGRESS: &str = "Target deregistration is in progress";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetType {
    /// An EC2 instance id and the task's host port.
    #[default]
    Instance,
    /// The task's own address (awsvpc) and its container port.
    Ip,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Instance => "instance",
            TargetType::Ip => "ip",
        }
    }
}

/// A target group for `SimBuilder::target_group`. The defaults are AWS's for an HTTP target
/// group: port 80, checks every 30 s, 5 passes to become healthy, 2 failures to become
/// unhealthy, 300 s deregistration delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSpec {
    pub target_type: TargetType,
    pub port: u16,
    pub protocol: String,
    pub interval: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub deregistration_delay: Duration,
}

impl Default for TargetGroupSpec {
    fn default() -> Self {
        TargetGroupSpec {
            target_type: TargetType::Instance,
            port: 80,
            protocol: "HTTP".into(),
            interval: Duration::from_secs(30),
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            deregistration_delay: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone)]
struct Target {
    id: String,
    port: u16,
    next_check: Instant,
    state: State,
    passes: u32,
    failures: u32,
    /// Deregistered and draining: leaves the group at this instant.
    leaves_at: Option<Instant>,
}

impl Target {
    fn is(&self, id: &str, port: u16) -> bool {
        self.id == id && self.port == port
    }

    fn record(&mut self, pass: bool, healthy: u32, unhealthy: u32) {
        if pass {
            self.passes += 1;
            self.failures = 0;
            if self.passes >= healthy {
                self.state = State::Healthy;
            }
        } else {
            self.failures += 1;
            self.passes = 0;
            if self.failures >= unhealthy {
                self.state = State::Unhealthy;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TargetGroupRecord {
    pub arn: String,
    pub name: String,
    pub spec: TargetGroupSpec,
    pub load_balancer_arns: Vec<String>,
    targets: Vec<Target>,
}

impl TargetGroupRecord {
    /// A group behind an application load balancer named after it.
    pub fn new(name: &str, spec: TargetGroupSpec, serial: u64) -> TargetGroupRecord {
        let prefix = format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}");
        TargetGroupRecord {
            arn: format!("{prefix}:targetgroup/{name}/{serial:016x}"),
            name: name.to_string(),
            load_balancer_arns: vec![format!(
                "{prefix}:loadbalancer/app/{name}-alb/{serial:016x}"
            )],
            spec,
            targets: Vec::new(),
        }
    }

    fn active(&self, id: &str, port: u16) -> Option<&Target> {
        self.targets
            .iter()
            .find(|t| t.is(id, port) && t.leaves_at.is_none())
    }

    pub fn is_healthy(&self, id: &str, port: u16) -> bool {
        self.active(id, port)
            .is_some_and(|t| t.state == State::Healthy)
    }

    /// Failed `unhealthy_threshold` checks in a row: ECS replaces the task behind it.
    pub fn is_unhealthy(&self, id: &str, port: u16) -> bool {
        self.active(id, port)
            .is_some_and(|t| t.state == State::Unhealthy)
    }

    /// Healthy, or draining with requests still in flight.
    pub fn receives_traffic(&self, id: &str, port: u16) -> bool {
        self.targets
            .iter()
            .any(|t| t.is(id, port) && (t.leaves_at.is_some() || t.state == State::Healthy))
    }

    /// Replays every health check due up to `now` and drops targets done draining.
    /// `answers(id, port, t)` says whether something answered there at `t`.
    pub fn settle(&mut self, now: Instant, answers: impl Fn(&str, u16, Instant) -> bool) {
        self.targets
            .retain(|t| t.leaves_at.is_none_or(|at| at > now));
        let interval = self.spec.interval.max(Duration::from_millis(1));
        let (healthy, unhealthy) = (self.spec.healthy_threshold, self.spec.unhealthy_threshold);
        for target in self.targets.iter_mut().filter(|t| t.leaves_at.is_none()) {
            while target.next_check <= now {
                let t = target.next_check;
                target.record(answers(&target.id, target.port, t), healthy, unhealthy);
                target.next_check = t + interval;
            }
        }
    }

    /// The next instant a check is due or a draining target leaves.
    pub fn next_event(&self) -> Option<Instant> {
        self.targets
            .iter()
            .map(|t| t.leaves_at.unwrap_or(t.next_check))
            .min()
    }

    /// RegisterTargets for one target. A registered one is left alone; one still draining
    /// starts over.
    pub fn register(&mut self, id: &str, port: u16, now: Instant) {
        if self.active(id, port).is_some() {
            return;
        }
        self.targets.retain(|t| !t.is(id, port));
        self.targets.push(Target {
            id: id.to_string(),
            port,
            next_check: now + self.spec.interval,
            state: State::Initial,
            passes: 0,
            failures: 0,
            leaves_at: None,
        });
    }

    /// Registers a target whose health is already known, as if registered long ago.
    pub fn register_settled(&mut self, id: &str, port: u16, now: Instant, passing: bool) {
        self.register(id, port, now);
        let (healthy, unhealthy) = (self.spec.healthy_threshold, self.spec.unhealthy_threshold);
        if let Some(t) = self.targets.iter_mut().find(|t| t.is(id, port)) {
            for _ in 0..healthy.max(unhealthy) {
                t.record(passing, healthy, unhealthy);
            }
        }
    }

    /// DeregisterTargets for one target; returns when its connections are done. `drain` is
    /// how long a healthy target drains; with `unserved_show_draining`, one that never served
    /// is done at once but shows `draining` for the whole deregistration delay.
    pub fn deregister(
        &mut self,
        id: &str,
        port: u16,
        now: Instant,
        drain: Duration,
        unserved_show_draining: bool,
    ) -> Instant {
        let Some(target) = self
            .targets
            .iter_mut()
            .find(|t| t.is(id, port) && t.leaves_at.is_none())
        else {
            return self
                .targets
                .iter()
                .filter(|t| t.is(id, port))
                .find_map(|t| t.leaves_at)
                .unwrap_or(now);
        };
        if target.state == State::Healthy && !drain.is_zero() {
            target.leaves_at = Some(now + drain);
            now + drain
        } else if unserved_show_draining && !self.spec.deregistration_delay.is_zero() {
            target.leaves_at = Some(now + self.spec.deregistration_delay);
            now
        } else {
            self.targets.retain(|t| !t.is(id, port));
            now
        }
    }

    /// DescribeTargetHealth, as of the last `settle`.
    pub fn health(&self) -> Vec<TargetHealth> {
        self.targets
            .iter()
            .map(|t| {
                let (state, reason, description) = match (t.leaves_at, t.state) {
                    (Some(_), _) => (
                        "draining",
                        Some("Target.DeregistrationInProgress"),
                        Some(DEREGISTRATION_IN_PROGRESS),
                    ),
                    (None, State::Initial) => (
                        "initial",
                        Some("Elb.InitialHealthChecking"),
                        Some(INITIAL_CHECKS),
                    ),
                    (None, State::Healthy) => ("healthy", None, None),
                    (None, State::Unhealthy) => (
                        "unhealthy",
                        Some("Target.FailedHealthChecks"),
                        Some(FAILED_HEALTH_CHECKS),
                    ),
                };
                TargetHealth {
                    id: t.id.clone(),
                    port: Some(t.port),
                    state: crate::platform::TargetHealthState::parse(state),
                    reason: reason.map(String::from),
                    description: description.map(String::from),
                }
            })
            .collect()
    }

    pub fn describe(&self) -> TargetGroup {
        TargetGroup {
            arn: self.arn.clone(),
            name: self.name.clone(),
            target_type: self.spec.target_type.as_str().to_string(),
            port: Some(self.spec.port),
            protocol: Some(self.spec.protocol.clone()),
            health_check_interval: self.spec.interval,
            healthy_threshold: self.spec.healthy_threshold,
            unhealthy_threshold: self.spec.unhealthy_threshold,
            deregistration_delay: self.spec.deregistration_delay,
            load_balancer_arns: self.load_balancer_arns.clone(),
        }
    }
}
