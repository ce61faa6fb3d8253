//! The polling loop: observe, ask a verdict, sleep. Time is tokio's, so whole deploys run in
//! tests under a paused clock. The interval is `Poll`'s: a second by default; a policy may
//! grow it while nothing changes.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

use super::events::{Event, Observer};
use super::failure::Failure;
use super::progress::{Progress, Wait};
use super::verdict::Verdict;
use crate::platform::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// The interval right after a change (and the first one).
    pub min: Duration,
    /// The interval it grows to while nothing changes.
    pub max: Duration,
}

/// A look every second, changed or not: evidence that comes at any moment (a crash, a failed
/// start, the circuit breaker, ECS's rollback) is seen within about a second of showing in
/// DescribeServices or DescribeTasks, and an end is seen as it happens. What makes that cheap
/// is what a look reads, not how seldom it looks: one DescribeServices, the rest only when it
/// changed (`service::observe::Reader`), and in a multi-target run one request for ten
/// services, paced per cluster (`batch`). Predictable moments (health checks, the end of
/// draining) are woken for (`Watch::due`). `bench/` measures the trade-off (requests per
/// second against detection latency).
impl Default for Poll {
    fn default() -> Self {
        Poll::every(Duration::from_secs(1))
    }
}

impl Poll {
    /// A look every `interval` (`--poll-interval`).
    pub fn every(interval: Duration) -> Poll {
        Poll {
            min: interval,
            max: interval,
        }
    }

    /// Starting at `min` after a change and growing x1.5 to `max` while nothing does: the
    /// slower policies `bench/` compares against.
    pub fn growing(min: Duration, max: Duration) -> Poll {
        Poll { min, max }
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
    Failed(Failure),
    /// The limit passed; the last thing seen.
    TimedOut {
        limit: Duration,
        last: Option<Progress>,
    },
    Api(ApiError),
}

impl WaitError {
    /// The failure this ends a wait for `what` with.
    pub fn into_failure(self, what: Wait) -> Failure {
        match self {
            WaitError::Failed(f) => f,
            WaitError::TimedOut { limit, last } => Failure::TimedOut {
                waiting_for: what,
                limit,
                last: last.map(Box::new),
            },
            WaitError::Api(error) => Failure::Api { error },
        }
    }
}

/// How long after a predicted instant to look: the platform acts at the instant itself, and
/// its answer must already show it.
pub const AFTER_DUE: Duration = Duration::from_millis(100);

/// One wait's observe-and-judge step. `look` owns the read policy (what to read, and when a
/// read can be skipped) and returns the judge's verdict on what it saw; `due` names the next
/// instant the platform is known to change (a health check, the end of draining), so the loop
/// wakes then instead of up to a poll later. State lives in the implementing value and passes
/// by `&mut`, so a wait's future is `Send`.
pub trait Watch {
    fn look(&mut self, now: Instant) -> impl Future<Output = ApiResult<Verdict>> + Send;

    fn due(&self, _now: Instant) -> Option<Instant> {
        None
    }
}

/// A closure as a `Watch` with no predictable instants.
struct Closure<F>(F);

impl<F, Fut> Watch for Closure<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = ApiResult<Verdict>> + Send,
{
    fn look(&mut self, _now: Instant) -> impl Future<Output = ApiResult<Verdict>> + Send {
        (self.0)()
    }
}

/// Polls `observe` until its verdict is Done (Ok with the time it took), Failed, or `limit`
/// passes. Transient API errors (throttling, 5xx after the SDK's retries) are waited out like a
/// pending verdict; others end the wait.
pub async fn until<F, Fut>(
    what: &Wait,
    limit: Duration,
    poll: Poll,
    observer: &dyn Observer,
    observe: F,
) -> Result<Duration, WaitError>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = ApiResult<Verdict>> + Send,
{
    watch(what, limit, poll, observer, &mut Closure(observe)).await
}

/// The polling loop: look, report a change of progress once, sleep until the next poll or the
/// watch's due instant, whichever comes first, so a predictable transition is seen as it
/// happens and the polls in between can stay slow.
pub async fn watch<W: Watch>(
    what: &Wait,
    limit: Duration,
    poll: Poll,
    observer: &dyn Observer,
    w: &mut W,
) -> Result<Duration, WaitError> {
    let start = Instant::now();
    let deadline = start + limit;
    observer.event(&Event::WaitStarted {
        what: what.clone(),
        limit,
    });
    let mut delay = poll.min;
    let mut last: Option<Progress> = None;
    loop {
        let progress = match w.look(Instant::now()).await {
            Ok(Verdict::Done) => {
                let took = start.elapsed();
                observer.event(&Event::WaitFinished {
                    what: what.clone(),
                    took,
                });
                return Ok(took);
            }
            Ok(Verdict::Failed(why)) => return Err(WaitError::Failed(why)),
            Ok(Verdict::Pending(progress)) => progress,
            Err(error) if error.is_transient() => Progress::Retrying { error },
            Err(e) => return Err(WaitError::Api(e)),
        };
        let changed = last.as_ref() != Some(&progress);
        if changed {
            observer.event(&Event::WaitProgress {
                what: what.clone(),
                progress: progress.clone(),
            });
            last = Some(progress);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut { limit, last });
        }
        delay = poll.next(delay, changed);
        let mut sleep = delay.min(deadline - now);
        if let Some(due) = w.due(now).filter(|d| *d > now) {
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
        .retry(retry_backoff())
        .sleep(tokio::time::sleep)
        .when(ApiError::is_transient)
        .await
}

/// The backoff of ecs-roll's own retries: from 0.5 s, doubling to 20 s, 10 retries, jittered.
pub fn retry_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(20))
        .with_max_times(10)
        .with_jitter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Recorder;
    use crate::platform::ApiErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const X: Wait = Wait::TasksStopped { count: 1 };

    fn seen(n: usize) -> Progress {
        Progress::TasksVisible {
            seen: n,
            expected: 9,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_until_done_and_reports_each_change_once() {
        let rec = Recorder::default();
        let n = AtomicUsize::new(0);
        let took = until(
            &X,
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                Ok(if i < 4 {
                    Verdict::Pending(if i < 2 { seen(1) } else { seen(2) })
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
            &X,
            Duration::from_secs(30),
            Poll::default(),
            &rec,
            || async { Ok(Verdict::Pending(seen(0))) },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::TimedOut { .. }));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    async fn looks_in(poll: Poll, limit: Duration) -> usize {
        let rec = Recorder::default();
        let calls = AtomicUsize::new(0);
        let _ = until(&X, limit, poll, &rec, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Verdict::Pending(seen(0)))
        })
        .await;
        calls.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_looks_every_second_changed_or_not() {
        // A look at 0 s and one every second up to the limit: evidence that comes at any
        // moment is seen within a second.
        let n = looks_in(Poll::default(), Duration::from_secs(60)).await;
        assert!((60..=61).contains(&n), "{n} calls");
        let n = looks_in(
            Poll::every(Duration::from_millis(500)),
            Duration::from_secs(60),
        )
        .await;
        assert!((120..=121).contains(&n), "{n} calls");
    }

    #[tokio::test(start_paused = true)]
    async fn a_growing_policy_polls_slower_while_nothing_changes() {
        let rec = Recorder::default();
        let calls = AtomicUsize::new(0);
        let _ = until(
            &X,
            Duration::from_secs(120),
            Poll::growing(Duration::from_secs(1), Duration::from_secs(6)),
            &rec,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Verdict::Pending(seen(0)))
            },
        )
        .await;
        // 1 s growing to 6 s: 5 looks in the first 8.1 s, then one every 6 s at most (far
        // fewer than the 120 a fixed 1 s interval would make).
        let n = calls.load(Ordering::SeqCst);
        assert!((22..=24).contains(&n), "{n} calls");
    }

    /// Ready at a known instant, and says so through `due`.
    struct ReadyAt {
        ready: Instant,
        calls: usize,
    }

    impl Watch for ReadyAt {
        async fn look(&mut self, now: Instant) -> ApiResult<Verdict> {
            self.calls += 1;
            Ok(if now >= self.ready {
                Verdict::Done
            } else {
                Verdict::Pending(seen(0))
            })
        }

        fn due(&self, _now: Instant) -> Option<Instant> {
            Some(self.ready + AFTER_DUE)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_at_the_due_instant_instead_of_the_next_poll() {
        let rec = Recorder::default();
        let start = Instant::now();
        // The platform is known to act at 37 s: look right after it.
        let mut w = ReadyAt {
            ready: start + Duration::from_secs(37),
            calls: 0,
        };
        let poll = Poll::growing(Duration::from_secs(1), Duration::from_secs(6));
        let took = watch(&X, Duration::from_secs(120), poll, &rec, &mut w)
            .await
            .unwrap();
        // Polls alone (1 s growing to 6 s) would see it at 43.2 s.
        assert_eq!(took, Duration::from_secs(37) + AFTER_DUE);
        // No extra looks: the polls of the policy, the last one moved to 37.1 s.
        assert_eq!(w.calls, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_waited_out_but_others_end_the_wait() {
        let rec = Recorder::default();
        let n = AtomicUsize::new(0);
        let ok = until(
            &X,
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
            &X,
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
            &X,
            Duration::from_secs(60),
            Poll::default(),
            &rec,
            || async { Ok(Verdict::Failed(Failure::DeadlinePassed)) },
        )
        .await
        .unwrap_err();
        assert_eq!(err, WaitError::Failed(Failure::DeadlinePassed));
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
