//! `ecs_roll::engine::wait::until` with one addition: `due(now)` names the next instant at
//! which the platform is expected to change (a health check falls due, the draining timeout
//! ends). The loop sleeps until whichever comes first, that instant or the policy's next
//! poll, so a predictable transition is seen as it happens instead of up to `max` later.

use std::future::Future;
use std::time::Duration;

use ecs_roll::engine::events::{Event, Observer};
use ecs_roll::engine::verdict::Verdict;
use ecs_roll::engine::wait::{Poll, WaitError};
use ecs_roll::platform::ApiResult;
use tokio::time::Instant;

/// How long after a predicted instant to look: the platform acts at the instant itself.
pub const AFTER_DUE: Duration = Duration::from_millis(100);

fn next(poll: &Poll, current: Duration, changed: bool) -> Duration {
    if changed {
        poll.min
    } else {
        current.mul_f64(1.5).min(poll.max)
    }
}

pub async fn until_due<F, Fut, D>(
    what: &str,
    limit: Duration,
    poll: Poll,
    observer: &dyn Observer,
    due: D,
    mut observe: F,
) -> Result<Duration, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<Verdict>>,
    D: Fn(Instant) -> Option<Instant>,
{
    let start = Instant::now();
    let deadline = start + limit;
    observer.event(&Event::WaitStarted {
        what: what.into(),
        limit,
    });
    let mut delay = poll.min;
    let mut last = String::new();
    loop {
        let detail = match observe().await {
            Ok(Verdict::Done) => {
                let took = start.elapsed();
                observer.event(&Event::WaitFinished {
                    what: what.into(),
                    took,
                });
                return Ok(took);
            }
            Ok(Verdict::Failed(why)) => return Err(WaitError::Failed(why)),
            Ok(Verdict::Pending(detail)) => detail,
            Err(e) if e.is_transient() => format!("AWS answered: {e} (retrying)"),
            Err(e) => return Err(WaitError::Api(e)),
        };
        let changed = detail != last;
        if changed {
            observer.event(&Event::WaitProgress {
                what: what.into(),
                detail: detail.clone(),
            });
            last = detail;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut { limit, last });
        }
        delay = next(&poll, delay, changed);
        let mut sleep = delay.min(deadline - now);
        if let Some(d) = due(now).filter(|d| *d > now) {
            sleep = sleep.min(d - now);
        }
        tokio::time::sleep(sleep).await;
    }
}
