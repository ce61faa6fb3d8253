//! The polling loop: observe, ask a verdict, sleep. Time is tokio's, so whole deploys run in
//! tests under a paused clock. The interval adapts: short right after something changed,
//! growing while nothing does, so a quiet wait costs few API calls.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

use super::events::{Event, Observer};
use super::verdict::Verdict;
use crate::platform::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// The interval right after a change (and the first one).
    pub min: Duration,
    /// The interval it grows to while nothing changes.
    pub max: Duration,
}

/// 1 s right after a change, so what follows a change (a task that crashes as it starts, the
/// next step of a rollout) is seen within a second or two; 6 s while nothing moves: 10 looks a
/// minute, which leaves room for the odd extra read within 12 describe calls a minute.
/// Predictable moments (health checks, the end of draining) are not polled for: the waits
/// wake at them (`until_due`).
impl Default for Poll {
    fn default() -> Self {
        Poll {
            min: Duration::from_secs(1),
            max: Duration::from_secs(6),
        }
    }
}

impl Poll {
    /// A policy starting at `min` and growing to six times that, like the default.
    pub fn from_min(min: Duration) -> Poll {
        Poll { min, max: min * 6 }
    }

    fn next(&self, current: Duration, changed: bool) -> Duration {
        if changed {
            self.min
        } else {
            current.mul_f64(1.5).min(self.max)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// Conclusive evidence it will never be done.
    Failed(String),
    /// The limit passed; the last thing seen.
    TimedOut {
        limit: Duration,
        last: String,
    },
    Api(ApiError),
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Failed(why) => f.write_str(why),
            WaitError::TimedOut { limit, last } => {
                write!(
                    f,
                    "not done after {}: {last}",
                    humantime::format_duration(*limit)
                )
            }
            WaitError::Api(e) => write!(f, "{e}"),
        }
    }
}

/// How long after a predicted instant to look: the platform acts at the instant itself, and
/// its answer must already show it.
pub const AFTER_DUE: Duration = Duration::from_millis(100);

/// Polls `observe` until its verdict is Done (Ok with the time it took), Failed, or `limit`
/// passes. Transient API errors (throttling, 5xx after the SDK's retries) are waited out like a
/// pending verdict; others end the wait.
pub async fn until<F, Fut>(
    what: &str,
    limit: Duration,
    poll: Poll,
    observer: &dyn Observer,
    observe: F,
) -> Result<Duration, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<Verdict>>,
{
    until_due(what, limit, poll, observer, |_| None, observe).await
}

/// `until`, told when the platform is next expected to change: `due(now)` names that instant
/// (a health check falls due, a draining timeout ends). The loop sleeps until whichever comes
/// first, that instant or the next poll, so a predictable transition is seen as it happens
/// instead of up to `poll.max` later, and the polls in between can stay slow.
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
        delay = poll.next(delay, changed);
        let mut sleep = delay.min(deadline - now);
        if let Some(due) = due(now).filter(|d| *d > now) {
            sleep = sleep.min(due - now);
        }
        tokio::time::sleep(sleep).await;
    }
}

/// Runs a call that changes AWS, retrying it while AWS stays throttled or unavailable after
/// the SDK's own retries (a deploy half-done is worse than a slow one). Each call it retries
/// must be idempotent: registering/deregistering instances and stopping tasks are.
pub async fn with_retry<T, F, Fut>(mut call: F) -> ApiResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<T>>,
{
    (|| call())
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(20))
                .with_max_times(10)
                .with_jitter(),
        )
        .sleep(tokio::time::sleep)
        .when(ApiError::is_transient)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Recorder;
    use crate::platform::ApiErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn waits_until_done_and_reports_each_change_once() {
        let rec = Recorder::default();
        let n = AtomicUsize::new(0);
        let took = until(
            "x",
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                Ok(if i < 4 {
                    Verdict::Pending(if i < 2 { "a".into() } else { "b".into() })
                } else {
                    Verdict::Done
                })
            },
        )
        .await
        .unwrap();
        assert!(took > Duration::ZERO);
        let progress = rec
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::WaitProgress { .. }))
            .count();
        assert_eq!(progress, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_at_the_limit() {
        let rec = Recorder::default();
        let start = Instant::now();
        let err = until(
            "x",
            Duration::from_secs(30),
            Poll::default(),
            &rec,
            || async { Ok(Verdict::Pending("no".into())) },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::TimedOut { .. }));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn polls_slower_while_nothing_changes() {
        let rec = Recorder::default();
        let calls = AtomicUsize::new(0);
        let _ = until(
            "x",
            Duration::from_secs(120),
            Poll::default(),
            &rec,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Verdict::Pending("same".into()))
            },
        )
        .await;
        // 1 s growing to 6 s: 5 looks in the first 8.1 s, then one every 6 s at most (far
        // fewer than the 120 a fixed 1 s interval would make).
        let n = calls.load(Ordering::SeqCst);
        assert!((22..=24).contains(&n), "{n} calls");
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_at_the_due_instant_instead_of_the_next_poll() {
        let rec = Recorder::default();
        let start = Instant::now();
        let ready = start + Duration::from_secs(37);
        let calls = AtomicUsize::new(0);
        let took = until_due(
            "x",
            Duration::from_secs(120),
            Poll::default(),
            &rec,
            // The platform is known to act at 37 s: look right after it.
            |_| Some(ready + AFTER_DUE),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(if Instant::now() >= ready {
                    Verdict::Done
                } else {
                    Verdict::Pending("waiting".into())
                })
            },
        )
        .await
        .unwrap();
        // Polls alone (1 s growing to 6 s) would see it at 43.2 s.
        assert_eq!(took, Duration::from_secs(37) + AFTER_DUE);
        // No extra looks: the polls of the policy, the last one moved to 37.1 s.
        assert_eq!(calls.load(Ordering::SeqCst), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_waited_out_but_others_end_the_wait() {
        let rec = Recorder::default();
        let n = AtomicUsize::new(0);
        let ok = until(
            "x",
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async {
                if n.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(ApiError::new(
                        "DescribeTasks",
                        ApiErrorKind::Throttled,
                        "slow down",
                    ))
                } else {
                    Ok(Verdict::Done)
                }
            },
        )
        .await;
        assert!(ok.is_ok());
        let err = until(
            "x",
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async {
                Err::<Verdict, _>(ApiError::new(
                    "DescribeTasks",
                    ApiErrorKind::AccessDenied,
                    "no",
                ))
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::Api(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_verdict_ends_the_wait_at_once() {
        let rec = Recorder::default();
        let err = until(
            "x",
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async { Ok(Verdict::Failed("crashed".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(err, WaitError::Failed("crashed".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn mutating_calls_are_retried_only_on_transient_errors() {
        let n = AtomicUsize::new(0);
        let r: ApiResult<u8> = with_retry(|| async {
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(ApiError::new("StopTask", ApiErrorKind::Unavailable, "503"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        let m = AtomicUsize::new(0);
        let r: ApiResult<u8> = with_retry(|| async {
            m.fetch_add(1, Ordering::SeqCst);
            Err(ApiError::new("StopTask", ApiErrorKind::AccessDenied, "no"))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(m.load(Ordering::SeqCst), 1);
    }
}
