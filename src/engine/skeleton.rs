//! What every run does the same way in both modes: end early without a change (dry run, or an
//! interrupt before anything changed), take the deploy lock only once every check passed and
//! release it whatever happens, and the preflight decisions that are pure functions of what
//! was observed (how many tasks, which revision a rollback returns to).

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;

use super::context::Ctx;
use super::deploy::Options;
use super::events::{Event, LockWarning, Warning};
use super::failure::{Failure, FailureReport, Interruption};
use super::lock;
use super::outcome::{Outcome, RunResult};
use super::refusal::Refusal;
use super::wait::with_retry;
use crate::error::Error;

/// Ends the run before anything changes when it must: `--dry-run` (the plan is the outcome),
/// or an interrupt that came during preflight. Returns the outcome to report, if so.
pub fn ends_before_change(
    ctx: &Ctx,
    mut outcome: Outcome,
    dry_run: bool,
    started: Instant,
) -> ControlFlow<Outcome, Outcome> {
    if dry_run {
        outcome.duration = started.elapsed();
        return ControlFlow::Break(outcome);
    }
    if ctx.cancel.requested() {
        outcome.result = RunResult::Interrupted;
        outcome.failure = Some(FailureReport::new(
            None,
            Failure::Interrupted {
                how: Interruption::BeforeChange,
            },
        ));
        outcome.duration = started.elapsed();
        return ControlFlow::Break(outcome);
    }
    ControlFlow::Continue(outcome)
}

/// When preflight gives up: `--timeout` after the command started. Everything before the
/// first change (the command's reads, then the engine's checks) ends by then, so AWS that
/// does not answer costs `--timeout`, not every retry of every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreflightDeadline {
    pub at: Instant,
    pub limit: Duration,
}

impl PreflightDeadline {
    /// `limit` from now; None without a limit (no `--timeout`: the reads' retries bound it).
    pub fn from_now(limit: Option<Duration>) -> Option<PreflightDeadline> {
        limit.map(|limit| PreflightDeadline {
            at: Instant::now() + limit,
            limit,
        })
    }
}

/// The engine's preflight deadline: the command's, else `--timeout` from now.
pub fn preflight_deadline(ctx: &Ctx, opts: &Options) -> Option<PreflightDeadline> {
    opts.preflight_deadline
        .or_else(|| PreflightDeadline::from_now(ctx.timeouts.total))
}

/// Runs a part of preflight that only reads, ending it at `deadline`: exit 2, nothing changed
/// (dropping reads in flight changes nothing in AWS).
pub async fn by_deadline<T>(
    deadline: Option<PreflightDeadline>,
    part: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(d) = deadline else {
        return part.await;
    };
    tokio::time::timeout_at(d.at, part)
        .await
        .unwrap_or_else(|_| Err(Error::refused(Refusal::AwsDidNotAnswer { limit: d.limit })))
}

/// The first preflight check of both modes: the cluster exists and is ACTIVE.
pub async fn check_cluster(ctx: &Ctx) -> Result<(), Error> {
    let active = with_retry(|| ctx.ecs.cluster_is_active(&ctx.cluster))
        .await
        .map_err(Error::from_api_before_change)?;
    if active {
        Ok(())
    } else {
        Err(Error::refused(Refusal::ClusterNotActive {
            cluster: ctx.cluster.clone(),
        }))
    }
}

/// Where the deploy lock is kept and for how long.
pub struct LockSpec<'a> {
    /// The cluster (standalone) or the service (service mode).
    pub resource_arn: &'a str,
    pub key: &'a str,
    pub ttl: Duration,
    /// What the lock protects, for the message that names a holder.
    pub what: &'a str,
}

/// Runs `body` under the deploy lock, once every target of the command passed its
/// preflight (`gate`): the first change in AWS is taking it, the last is
/// releasing it, on success, failure and interrupt alike (an abort releases it through
/// `lock::remember`). While `body` runs the lock is renewed, so a kill -9 leaves a lock the
/// next run sees go stale and takes over. An interrupt while waiting for a stale lock ends
/// the run before any change.
pub async fn locked<F, Fut>(
    ctx: &Ctx,
    spec: LockSpec<'_>,
    outcome: Outcome,
    started: Instant,
    body: F,
) -> Result<Outcome, Error>
where
    F: FnOnce(Outcome) -> Fut,
    Fut: Future<Output = Result<Outcome, Error>>,
{
    if let Some(gate) = &ctx.gate {
        gate.ready().await?;
    }
    let want = lock::Want {
        arn: spec.resource_arn,
        key: spec.key,
        holder: &ctx.actor,
        ttl: spec.ttl,
        heartbeat: ctx.lock_heartbeat,
        what: spec.what,
    };
    let notice = |w| ctx.emit(Event::Warning(Warning::Lock(w)));
    let held = match lock::acquire(ctx.tags.as_ref(), &want, &ctx.cancel, &notice).await? {
        lock::Taken::Held(held) => held,
        lock::Taken::Interrupted => {
            return Ok(match ends_before_change(ctx, outcome, false, started) {
                ControlFlow::Break(o) | ControlFlow::Continue(o) => o,
            });
        }
    };
    lock::remember(ctx.tags.clone(), &held);
    let heartbeat = lock::Beating::start(ctx.tags.clone(), held.clone(), ctx.observer.clone());
    let result = body(outcome).await.map(|mut o| {
        o.duration = started.elapsed();
        o
    });
    heartbeat.stop().await;
    if let Err(error) = lock::release(ctx.tags.as_ref(), &held).await {
        notice(LockWarning::NotReleased { error });
    }
    result
}

/// Why the task count cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountRefusal {
    /// Nothing runs and no count was given or recorded.
    NothingRuns,
}

/// How many tasks to deploy: the count given; else the one the last deploy recorded when
/// more than run now (a run aborted mid-step can leave an instance without its task, and a
/// rerun restores it, with a warning); else what runs now.
pub fn task_count(
    requested: Option<usize>,
    running: usize,
    recorded: Option<usize>,
) -> Result<(usize, Option<Warning>), CountRefusal> {
    if let Some(n) = requested {
        return Ok((n, None));
    }
    match recorded.filter(|n| *n > running) {
        Some(n) => Ok((
            n,
            Some(Warning::CountBelowRecorded {
                running,
                recorded: n,
            }),
        )),
        None if running > 0 => Ok((running, None)),
        None => Err(CountRefusal::NothingRuns),
    }
}

/// The revision a rollback returns to: what runs now, unless the target itself already runs
/// (a rerun resuming a deploy), in which case the one recorded on it when it was rolled out.
pub fn previous_revision(
    target: Option<&str>,
    recorded_on_target: Option<&str>,
    running: &[String],
) -> Option<String> {
    let target_runs = target.is_some_and(|t| running.iter().any(|r| r == t));
    if target_runs {
        recorded_on_target.map(String::from)
    } else {
        running.iter().find(|r| Some(r.as_str()) != target).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_count_comes_from_the_flag_the_record_or_what_runs() {
        let below = |running, recorded| Some(Warning::CountBelowRecorded { running, recorded });
        // (given, running, recorded) -> count and warning, or refused.
        let table = [
            (Some(5), 3, Some(4), Ok((5, None))),
            (None, 3, None, Ok((3, None))),
            (None, 3, Some(3), Ok((3, None))),
            (None, 2, Some(3), Ok((3, below(2, 3)))),
            (None, 3, Some(2), Ok((3, None))),
            (None, 0, Some(3), Ok((3, below(0, 3)))),
            (None, 0, None, Err(CountRefusal::NothingRuns)),
            (Some(0), 0, None, Ok((0, None))),
        ];
        for (given, running, recorded, want) in table {
            assert_eq!(
                task_count(given, running, recorded),
                want,
                "{given:?} {running} {recorded:?}"
            );
        }
    }

    #[test]
    fn a_rollback_returns_to_what_runs_unless_the_target_already_does() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let table = [
            // A new revision: what runs now.
            (None, None, v(&["td:1"]), Some("td:1")),
            // A mixed fleet (an interrupted deploy): the target runs, so what it recorded.
            (
                Some("td:2"),
                Some("td:0"),
                v(&["td:1", "td:2"]),
                Some("td:0"),
            ),
            (Some("td:3"), None, v(&["td:3", "td:1"]), None),
            (Some("td:2"), None, v(&["td:1"]), Some("td:1")),
            // Resuming: the target runs; what was recorded on it when it was rolled out.
            (Some("td:2"), Some("td:1"), v(&["td:2"]), Some("td:1")),
            (Some("td:2"), None, v(&["td:2"]), None),
            // Nothing runs.
            (None, None, v(&[]), None),
        ];
        for (target, recorded, running, want) in table {
            assert_eq!(
                previous_revision(target, recorded, &running).as_deref(),
                want,
                "{target:?} {recorded:?} {running:?}"
            );
        }
    }
}
