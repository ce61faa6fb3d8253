//! What a standalone rollout watches besides its own tasks: the `--alarm` alarms, read at
//! most once a poll while it waits (ECS watches no alarm for standalone tasks, so ecs-roll
//! does), and the `--bake` after the last step, during which the new tasks must keep running
//! and the alarms stay out of ALARM.

use std::time::Duration;

use tokio::time::Instant;

use super::Deployed;
use crate::engine::context::StandaloneCtx;
use crate::engine::failure::Failure;
use crate::engine::progress::Progress;
use crate::engine::verdict::Verdict;
use crate::engine::wait::Watch;
use crate::platform::{Alarm, ApiResult};

/// The alarms and the last time they were read.
#[derive(Debug, Default)]
pub(crate) struct AlarmGate {
    names: Vec<String>,
    read_at: Option<Instant>,
    /// Once one is in ALARM: the rollout fails, whatever they read later.
    fired: Option<Failure>,
}

impl AlarmGate {
    pub fn new(names: Vec<String>) -> AlarmGate {
        AlarmGate {
            names,
            ..AlarmGate::default()
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The failure once an alarm is in ALARM; the alarms are read again when `every` has
    /// passed since the last read (none named: never read).
    pub async fn fired(
        &mut self,
        ctx: &StandaloneCtx,
        now: Instant,
        every: Duration,
    ) -> ApiResult<Option<Failure>> {
        if self.names.is_empty() || self.fired.is_some() {
            return Ok(self.fired.clone());
        }
        if self.read_at.is_some_and(|at| now < at + every) {
            return Ok(None);
        }
        let found = ctx.alarms.describe_alarms(&self.names).await?;
        self.read_at = Some(now);
        self.fired = firing(found);
        Ok(self.fired.clone())
    }
}

/// The failure the alarms in ALARM make, if any is.
fn firing(found: Vec<Alarm>) -> Option<Failure> {
    let alarms = crate::engine::alarms::in_alarm(found);
    (!alarms.is_empty()).then_some(Failure::AlarmFired { alarms })
}

/// The bake: done at `until`, failed as soon as a deployed task stops or an alarm fires.
pub(super) struct Bake<'a> {
    pub ctx: &'a StandaloneCtx,
    pub deployed: &'a mut Deployed,
    pub until: Instant,
}

impl Watch for Bake<'_> {
    async fn look(&mut self, now: Instant) -> ApiResult<Verdict> {
        let ctx = self.ctx;
        if let Some(cause) = self.deployed.check(ctx).await? {
            return Ok(Verdict::Failed(cause));
        }
        if let Some(cause) = self.deployed.alarms.fired(ctx, now, ctx.poll.min).await? {
            return Ok(Verdict::Failed(cause));
        }
        Ok(match self.until.checked_duration_since(now) {
            Some(left) if !left.is_zero() => {
                Verdict::Pending(Progress::Baking { left: coarse(left) })
            }
            _ => Verdict::Done,
        })
    }

    fn due(&self, _now: Instant) -> Option<Instant> {
        Some(self.until)
    }
}

/// The time left rounded up to whole minutes (10 s in the last minute): the progress tells
/// a change, and a bake of hours should not print a line a second.
fn coarse(left: Duration) -> Duration {
    let step = if left > Duration::from_secs(60) {
        60
    } else {
        10
    };
    Duration::from_secs(left.as_secs().div_ceil(step).max(1) * step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::AlarmState;

    #[test]
    fn the_bake_tells_the_time_left_in_minutes_then_tens_of_seconds() {
        let s = Duration::from_secs;
        for (left, shown) in [
            (s(300), s(300)),
            (s(299), s(300)),
            (s(61), s(120)),
            (s(60), s(60)),
            (s(59), s(60)),
            (s(9), s(10)),
            (Duration::from_millis(1), s(10)),
        ] {
            assert_eq!(coarse(left), shown, "{left:?}");
        }
    }

    fn alarm(name: &str, state: AlarmState) -> Alarm {
        Alarm {
            name: name.into(),
            state,
            reason: Some(format!("{name} says so")),
        }
    }

    #[test]
    fn only_alarms_in_alarm_fail_the_rollout() {
        let ok = alarm("5xx", AlarmState::Ok);
        let no_data = alarm("p99", AlarmState::InsufficientData);
        let firing_one = alarm("p99", AlarmState::Alarm);
        assert_eq!(firing(vec![ok.clone(), no_data]), None);
        assert_eq!(firing(Vec::new()), None);
        assert_eq!(
            firing(vec![ok, firing_one.clone()]),
            Some(Failure::AlarmFired {
                alarms: vec![firing_one]
            })
        );
    }
}
