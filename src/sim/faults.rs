//! Fault injection: throttling and 5xx-like unavailability, on every operation or one, for the
//! next K calls, with a probability (a seeded xorshift, so a run repeats exactly), during a
//! window of virtual time, or as a token bucket like the real per-account rate limits.

use std::time::Duration;

use tokio::time::Instant;

use super::world::Fail;
use crate::platform::ApiErrorKind;

/// One rule of faults to inject, built like
/// `Fault::throttled().on("DescribeTasks").next_calls(3)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    kind: ApiErrorKind,
    operation: Option<&'static str>,
    trigger: Trigger,
    starts_after: Duration,
    lasts: Option<Duration>,
    /// The call takes effect, then its answer is lost (kind Unavailable).
    lost_response: bool,
}

/// A fault a call runs into: its error, and whether the call took effect before it.
#[derive(Debug, Clone)]
pub(crate) struct Injected {
    pub fail: Fail,
    pub after_effect: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Trigger {
    Always,
    NextCalls(u32),
    Probability(f64),
    TokenBucket {
        burst: f64,
        per_second: f64,
        tokens: f64,
        refilled_at: Option<Instant>,
    },
}

impl Fault {
    /// `ThrottlingException: Rate exceeded`, kind Throttled. Fails every matching call until
    /// narrowed by the other methods or cleared.
    pub fn throttled() -> Fault {
        Fault::of(ApiErrorKind::Throttled)
    }

    /// A 503-like failure, kind Unavailable.
    pub fn unavailable() -> Fault {
        Fault::of(ApiErrorKind::Unavailable)
    }

    /// The call reaches AWS and takes effect, then the connection closes before its answer
    /// arrives: the caller sees it fail as unavailable (kind Unavailable).
    pub fn lost_response() -> Fault {
        Fault {
            lost_response: true,
            ..Fault::unavailable()
        }
    }

    pub fn of(kind: ApiErrorKind) -> Fault {
        Fault {
            kind,
            operation: None,
            trigger: Trigger::Always,
            starts_after: Duration::ZERO,
            lasts: None,
            lost_response: false,
        }
    }

    /// Only calls of this operation (e.g. `RegisterTaskDefinition`).
    pub fn on(mut self, operation: &'static str) -> Fault {
        self.operation = Some(operation);
        self
    }

    /// Only the next `count` matching calls.
    pub fn next_calls(mut self, count: u32) -> Fault {
        self.trigger = Trigger::NextCalls(count);
        self
    }

    /// Each matching call fails with this probability, drawn from the simulation's seeded RNG.
    pub fn with_probability(mut self, probability: f64) -> Fault {
        self.trigger = Trigger::Probability(probability.clamp(0.0, 1.0));
        self
    }

    /// A token bucket: `burst` calls at once, refilled at `per_second`; calls beyond fail.
    /// RegisterTaskDefinition is 20 burst and 1 per second in AWS.
    pub fn rate_limit(mut self, burst: u32, per_second: f64) -> Fault {
        let burst = f64::from(burst);
        self.trigger = Trigger::TokenBucket {
            burst,
            per_second,
            tokens: burst,
            refilled_at: None,
        };
        self
    }

    /// Active only from this long after it is injected.
    pub fn after(mut self, delay: Duration) -> Fault {
        self.starts_after = delay;
        self
    }

    /// Active only for this long (from when it becomes active).
    pub fn lasting(mut self, duration: Duration) -> Fault {
        self.lasts = Some(duration);
        self
    }

    fn message(&self) -> &'static str {
        if self.lost_response {
            return "connection closed before the response arrived (injected: the call took effect)";
        }
        match self.kind {
            ApiErrorKind::Throttled => "ThrottlingException: Rate exceeded (injected)",
            ApiErrorKind::Unavailable => {
                "ServiceUnavailable: the service is unavailable, try again (HTTP 503, injected)"
            }
            _ => "injected fault",
        }
    }
}

#[derive(Debug, Clone)]
struct ActiveFault {
    fault: Fault,
    from: Instant,
    until: Option<Instant>,
}

/// The rules in force and the RNG behind probabilistic ones.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    rules: Vec<ActiveFault>,
    rng: XorShift,
}

impl Faults {
    pub fn new(seed: u64) -> Faults {
        Faults {
            rules: Vec::new(),
            rng: XorShift::new(seed),
        }
    }

    pub fn inject(&mut self, fault: Fault, now: Instant) {
        let from = now + fault.starts_after;
        let until = fault.lasts.map(|d| from + d);
        self.rules.push(ActiveFault { fault, from, until });
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn reseed(&mut self, seed: u64) {
        self.rng = XorShift::new(seed);
    }

    /// The fault a call of `operation` at `now` runs into, if any. The first rule that fires
    /// wins; rules after it are not consulted (nor is the RNG for them).
    pub fn check(&mut self, operation: &'static str, now: Instant) -> Option<Injected> {
        self.check_where(now, |op| op.is_none_or(|op| op == operation))
    }

    /// Like `check`, but only rules aimed at `operation` by name apply: for what ECS does on
    /// its own (the service scheduler's `RunTask`), which blanket rules meant for the API
    /// calls of a deploy tool leave alone.
    pub fn check_named(&mut self, operation: &'static str, now: Instant) -> Option<Injected> {
        self.check_where(now, |op| op == Some(operation))
    }

    fn check_where(
        &mut self,
        now: Instant,
        aimed: impl Fn(Option<&'static str>) -> bool,
    ) -> Option<Injected> {
        self.rules.retain(|r| {
            r.until.is_none_or(|u| now < u) && r.fault.trigger != Trigger::NextCalls(0)
        });
        for rule in &mut self.rules {
            let applies = now >= rule.from && aimed(rule.fault.operation);
            if applies && fires(&mut rule.fault.trigger, &mut self.rng, now) {
                return Some(Injected {
                    fail: Fail::new(rule.fault.kind, rule.fault.message()),
                    after_effect: rule.fault.lost_response,
                });
            }
        }
        None
    }
}

fn fires(trigger: &mut Trigger, rng: &mut XorShift, now: Instant) -> bool {
    match trigger {
        Trigger::Always => true,
        Trigger::NextCalls(0) => false,
        Trigger::NextCalls(left) => {
            *left -= 1;
            true
        }
        Trigger::Probability(p) => rng.next_f64() < *p,
        Trigger::TokenBucket {
            burst,
            per_second,
            tokens,
            refilled_at,
        } => {
            if let Some(at) = *refilled_at {
                *tokens = (*tokens + now.saturating_duration_since(at).as_secs_f64() * *per_second)
                    .min(*burst);
            }
            *refilled_at = Some(now);
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                false
            } else {
                true
            }
        }
    }
}

/// xorshift64: small, fast and deterministic; enough for fault injection.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Zero is xorshift's one fixed point.
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
