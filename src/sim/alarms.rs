//! CloudWatch alarms: each a timeline of states a test sets (now, or at a virtual instant),
//! read by DescribeAlarms and by the service scheduler, which fails (and rolls back) a
//! deployment whose deploymentConfiguration.alarms names one that went into ALARM.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::Sim;
use super::world::World;
use crate::platform::{Alarm, AlarmState, Alarms, ApiResult};

/// One alarm's states: (since when, state, CloudWatch's reason), in time order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlarmRecord {
    changes: Vec<(Instant, AlarmState, String)>,
}

impl AlarmRecord {
    fn at(&self, t: Instant) -> Option<&(Instant, AlarmState, String)> {
        self.changes.iter().rev().find(|(since, ..)| *since <= t)
    }

    /// The state at `t` (INSUFFICIENT_DATA before the first, as a new alarm is).
    pub fn state(&self, t: Instant) -> AlarmState {
        self.at(t)
            .map_or(AlarmState::InsufficientData, |(_, s, _)| s.clone())
    }

    /// When the state changes next after `t`.
    pub fn next_change(&self, t: Instant) -> Option<Instant> {
        self.changes.iter().map(|(at, ..)| *at).find(|at| *at > t)
    }
}

impl World {
    /// The alarm's state at `t`; None when no alarm has that name.
    pub(crate) fn alarm_state(&self, name: &str, t: Instant) -> Option<AlarmState> {
        self.alarms.get(name).map(|a| a.state(t))
    }

    /// When an alarm changes state next after `t`: the scheduler looks then.
    pub(crate) fn next_alarm_change(&self, t: Instant) -> Option<Instant> {
        self.alarms.values().filter_map(|a| a.next_change(t)).min()
    }

    fn set_alarm(&mut self, name: &str, state: AlarmState, at: Instant) {
        let reason = format!("Threshold Crossed: set to {state} by the test");
        let record = self.alarms.entry(name.to_string()).or_default();
        record.changes.push((at, state, reason));
        record.changes.sort_by_key(|(since, ..)| *since);
    }

    fn describe_alarms(&self, names: &[String], now: Instant) -> Vec<Alarm> {
        names
            .iter()
            .filter_map(|n| {
                let (_, state, reason) = self.alarms.get(n)?.at(now)?.clone();
                Some(Alarm {
                    name: n.clone(),
                    state,
                    reason: Some(reason),
                })
            })
            .collect()
    }
}

impl Sim {
    /// Creates the alarm (if new) in `state` from now on.
    pub fn set_alarm_state(&self, name: &str, state: AlarmState) {
        let mut w = self.lock();
        let now = Instant::now();
        w.settle(now);
        w.set_alarm(name, state, now);
        w.react(now);
    }

    /// The alarm goes into `state` at `at` of virtual time since the simulation was built
    /// (it exists from now on, INSUFFICIENT_DATA until its first state).
    pub fn set_alarm_state_at(&self, name: &str, state: AlarmState, at: Duration) {
        let mut w = self.lock();
        let when = w.epoch + at;
        w.alarms.entry(name.to_string()).or_default();
        w.set_alarm(name, state, when);
    }
}

#[async_trait]
impl Alarms for Sim {
    async fn describe_alarms(&self, names: &[String]) -> ApiResult<Vec<Alarm>> {
        self.call("DescribeAlarms", |w, now| Ok(w.describe_alarms(names, now)))
            .await
    }
}

/// Those of `names` in ALARM at `t`.
pub(crate) fn in_alarm(w: &World, names: &[String], t: Instant) -> Vec<String> {
    names
        .iter()
        .filter(|n| w.alarm_state(n, t) == Some(AlarmState::Alarm))
        .cloned()
        .collect()
}

pub(crate) type AlarmBook = BTreeMap<String, AlarmRecord>;
