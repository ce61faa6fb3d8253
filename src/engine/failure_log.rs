//! The last lines the failed container wrote, read from CloudWatch Logs once a deploy has
//! failed, as part of the failure's evidence: ECS says "exited 1", the app's own last words
//! (a missing variable, a stack trace) say why.

use serde::Serialize;

use crate::engine::failure::{Failure, StoppedTask};
use crate::engine::oneoff::LogSource;
use crate::platform::{Ecs, LogStreams};

/// How many lines of the log are evidence.
pub const LINES: usize = 20;

/// Where a stopped container logged, and its last lines (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogExcerpt {
    pub container: String,
    pub group: String,
    pub stream: String,
    pub lines: Vec<String>,
}

/// The stopped task whose log explains `f`, when it has one. A one-off task before the
/// rollout carries its own log (`BeforeRun`).
pub fn stopped_task(f: &Failure) -> Option<&StoppedTask> {
    match f {
        Failure::TaskStopped { task, .. } => Some(task),
        Failure::TasksStopped { last, .. } => Some(last),
        _ => None,
    }
}

/// The container whose log tells why `task` stopped: the first that exited non-zero (the
/// one that failed), else the first with a reason (it could not start or was killed), else
/// the first that exited at all.
pub fn culprit(task: &StoppedTask) -> Option<&str> {
    let c = &task.containers;
    c.iter()
        .find(|c| c.exit_code.is_some_and(|code| code != 0))
        .or_else(|| c.iter().find(|c| c.reason.is_some()))
        .or_else(|| c.iter().find(|c| c.exit_code.is_some()))
        .map(|c| c.name.as_str())
}

/// The last [`LINES`] lines of the log of the container that failed in `f`, for a task of
/// `revision` (an ARN). None when the failure has no stopped task, the container does not log
/// with awslogs and a stream prefix, or the log cannot be read: the failure stands on the
/// evidence ECS gave, the log only adds to it.
pub async fn read(
    ecs: &dyn Ecs,
    logs: &dyn LogStreams,
    f: &Failure,
    revision: &str,
) -> Option<LogExcerpt> {
    let task = stopped_task(f)?;
    let container = culprit(task)?;
    let body = ecs.describe_task_definition(revision).await.ok()?.body;
    let source = LogSource::of(&body, container)?;
    let stream = source.stream(&task.task_arn);
    let events = logs.last_events(&source.group, &stream, LINES).await.ok()?;
    if events.is_empty() {
        return None;
    }
    Some(LogExcerpt {
        container: container.to_string(),
        group: source.group,
        stream,
        lines: events.into_iter().map(|e| e.message).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::failure::ContainerExit;

    /// A container: its name, exit code and reason.
    type Exit<'a> = (&'a str, Option<i32>, Option<&'a str>);

    fn task(containers: &[Exit]) -> StoppedTask {
        StoppedTask {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: None,
            containers: containers
                .iter()
                .map(|(n, code, reason)| ContainerExit {
                    name: n.to_string(),
                    exit_code: *code,
                    reason: reason.map(String::from),
                })
                .collect(),
        }
    }

    #[test]
    fn the_culprit_is_the_container_that_failed() {
        let table: &[(&[Exit], Option<&str>)] = &[
            (
                &[("sidecar", Some(0), None), ("app", Some(1), None)],
                Some("app"),
            ),
            (&[("app", Some(137), Some("OutOfMemoryError"))], Some("app")),
            (
                &[("app", None, Some("CannotPullContainerError: not found"))],
                Some("app"),
            ),
            (&[("app", Some(0), None)], Some("app")),
            (&[], None),
        ];
        for (containers, want) in table {
            assert_eq!(culprit(&task(containers)), *want, "{containers:?}");
        }
    }
}
