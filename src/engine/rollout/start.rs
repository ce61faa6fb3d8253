//! Starting one task so that a StartTask whose answer was lost is never repeated blindly.
//!
//! StartTask has no client token (RunTask has one; StartTask does not), so a call that timed
//! out, was reset or answered 5xx may have started the task all the same. Each start therefore
//! carries a `startedBy` of its own, and after such a call the family's tasks are read for one
//! with that `startedBy` on that instance: found, it is adopted instead of starting a second
//! one. The SDK's own retries are off for StartTask (`aws::ecs`) for the same reason: they
//! would repeat the call without looking. In standalone mode the task publishes the load
//! balancer's port statically, so a repeated call that did go through meanwhile fails on the
//! port (RESOURCE:PORTS) rather than start a duplicate; that failure is looked into too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use backon::BackoffBuilder;

use crate::engine::context::StandaloneCtx;
use crate::engine::wait;
use crate::platform::{ApiError, ApiErrorKind, ApiResult, Task};

/// A task StartTask gave, or one an earlier attempt whose answer was lost had started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Started {
    New(Task),
    Found(Task),
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Retry,
    GiveUp,
}

/// Whether a failed StartTask may have started the task anyway: ECS may have acted on a call
/// whose answer never came (5xx, a reset or timed-out connection). A throttled call was
/// refused before it ran; a placement failure is ECS's answer that it started nothing.
fn may_have_started(error: &ApiError) -> bool {
    error.kind == ApiErrorKind::Unavailable
}

/// After a failed attempt (`uncertain`: this one or an earlier one may have started the task,
/// which a look did not find): transient faults are retried; so is a placement failure that
/// follows an uncertain attempt, as the task that attempt started, not visible yet to
/// ListTasks, may be what holds the host port. Anything else ends the start.
fn next(error: &ApiError, uncertain: bool) -> Next {
    let placement = matches!(
        error.kind,
        ApiErrorKind::Other | ApiErrorKind::InvalidRequest
    );
    if error.is_transient() || (uncertain && placement) {
        Next::Retry
    } else {
        Next::GiveUp
    }
}

/// A `startedBy` no other start shares: `ecs-roll/` and 27 characters at most of the process,
/// the moment and a counter (ECS allows 36 letters, digits, `-`, `_` and `/`).
pub(super) fn started_by() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "ecs-roll/{:x}-{:x}-{:x}",
        std::process::id(),
        nanos & 0xFFFF_FFFF_FFFF,
        n & 0xFFFF
    )
}

/// The task that the start with `started_by` began on `instance`, if it is visible and has not
/// stopped (a stopped one frees the port, and starting again is right).
fn ours<'a>(tasks: &'a [Task], started_by: &str, instance: &str) -> Option<&'a Task> {
    tasks.iter().find(|t| {
        t.started_by.as_deref() == Some(started_by)
            && t.container_instance_arn.as_deref() == Some(instance)
            && !t.is_stopping()
    })
}

/// Starts `task_definition` on `instance`, retrying like `wait::with_retry` but looking for the
/// task of an attempt that may have gone through before each new one.
pub(super) async fn start_task(
    ctx: &StandaloneCtx,
    task_definition: &str,
    instance: &str,
) -> ApiResult<Started> {
    let started_by = started_by();
    let mut delays = wait::retry_backoff().build();
    let mut uncertain = false;
    loop {
        let error = match ctx
            .ecs
            .start_task(&ctx.cluster, task_definition, instance, &started_by)
            .await
        {
            Ok(task) => return Ok(Started::New(task)),
            Err(e) => e,
        };
        uncertain |= may_have_started(&error);
        if uncertain {
            // A look that fails is no answer: the next attempt (or the next look) tells.
            if let Ok(tasks) = ctx.ecs.family_tasks(&ctx.cluster, &ctx.family).await
                && let Some(task) = ours(&tasks, &started_by, instance)
            {
                return Ok(Started::Found(task.clone()));
            }
        }
        let delay = match next(&error, uncertain) {
            Next::Retry => delays.next(),
            Next::GiveUp => None,
        };
        match delay {
            Some(d) => tokio::time::sleep(d).await,
            None => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: ApiErrorKind) -> ApiError {
        ApiError::new("StartTask", kind, "x")
    }

    #[test]
    fn a_start_is_retried_on_faults_and_on_placement_failures_after_an_unanswered_call() {
        use ApiErrorKind::*;
        // (error, an attempt may have started the task unseen) -> next
        let table = [
            (Throttled, false, Next::Retry),
            (Unavailable, false, Next::Retry),
            (Unavailable, true, Next::Retry),
            (Other, false, Next::GiveUp),
            (Other, true, Next::Retry),
            (InvalidRequest, false, Next::GiveUp),
            (InvalidRequest, true, Next::Retry),
            (AccessDenied, true, Next::GiveUp),
            (NotFound, true, Next::GiveUp),
            (Credentials, false, Next::GiveUp),
        ];
        for (kind, uncertain, want) in table {
            assert_eq!(next(&error(kind), uncertain), want, "{kind:?} {uncertain}");
        }
        assert!(may_have_started(&error(Unavailable)));
        assert!(!may_have_started(&error(Throttled)));
        assert!(!may_have_started(&error(Other)));
    }

    #[test]
    fn the_task_found_is_the_one_started_with_this_started_by_on_this_instance() {
        let task = |arn: &str, by: &str, instance: &str, status: &str| {
            let mut t = Task::new(arn, "td:2", status, status);
            t.started_by = Some(by.into());
            t.container_instance_arn = Some(instance.into());
            t
        };
        let tasks = [
            task("t1", "ecs-roll/other", "ci-1", "RUNNING"),
            task("t2", "ecs-roll/mine", "ci-2", "PENDING"),
            task("t3", "ecs-roll/mine", "ci-1", "STOPPED"),
            task("t4", "ecs-roll/mine", "ci-1", "PENDING"),
        ];
        assert_eq!(
            ours(&tasks, "ecs-roll/mine", "ci-1").map(|t| t.arn.as_str()),
            Some("t4")
        );
        assert_eq!(ours(&tasks, "ecs-roll/mine", "ci-3"), None);
    }

    #[test]
    fn each_start_has_a_started_by_of_its_own_within_ecs_limits() {
        let (a, b) = (started_by(), started_by());
        assert_ne!(a, b);
        for s in [a, b] {
            assert!(s.len() <= 36, "{s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)),
                "{s}"
            );
        }
    }
}
