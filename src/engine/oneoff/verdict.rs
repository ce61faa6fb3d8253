//! Whether a one-off task succeeded: a pure function of the task ECS reported STOPPED and of
//! which of its containers are essential. Only essential containers decide (ECS stops the task
//! when one of them exits; a sidecar's exit code says nothing about the command), and each of
//! them must have exited 0: one that never started (an image that cannot be pulled) has no
//! exit code and fails the task.

use serde::Serialize;

use crate::platform::{ContainerState, Task};

/// How the exit code verdict went, container by container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Judgement {
    /// Every essential container exited 0.
    Succeeded,
    /// The essential containers that did not exit 0, in the task definition's order.
    Failed { containers: Vec<ContainerFailure> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerFailure {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Exited with a code other than 0.
    ExitedNonZero,
    /// Killed for using more memory than its limit (OutOfMemoryError, usually exit 137).
    OutOfMemory,
    /// Never started, or ECS reported no exit code (CannotPullContainerError, ...).
    NoExitCode,
}

/// The verdict over a STOPPED task. `essential` lists the task definition's essential
/// containers; one of them missing from the task counts as never started.
pub fn judge(task: &Task, essential: &[String]) -> Judgement {
    let failures: Vec<ContainerFailure> = essential
        .iter()
        .filter_map(|name| {
            let seen = task.containers.iter().find(|c| &c.name == name);
            failure(name, seen)
        })
        .collect();
    if failures.is_empty() {
        Judgement::Succeeded
    } else {
        Judgement::Failed {
            containers: failures,
        }
    }
}

fn failure(name: &str, seen: Option<&ContainerState>) -> Option<ContainerFailure> {
    let exit_code = seen.and_then(|c| c.exit_code);
    let reason = seen
        .and_then(|c| c.reason.clone())
        .filter(|r| !r.is_empty());
    let oom = reason
        .as_deref()
        .is_some_and(|r| r.starts_with("OutOfMemoryError"));
    let why = match exit_code {
        Some(0) if !oom => return None,
        _ if oom => Why::OutOfMemory,
        Some(_) => Why::ExitedNonZero,
        None => Why::NoExitCode,
    };
    Some(ContainerFailure {
        name: name.to_string(),
        exit_code,
        reason,
        why,
    })
}

/// The essential containers of a task definition (`essential` defaults to true, as in ECS).
pub fn essential_containers(body: &serde_json::Value) -> Vec<String> {
    body.get("containerDefinitions")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .filter(|c| c.get("essential").and_then(|e| e.as_bool()) != Some(false))
        .filter_map(|c| c.get("name").and_then(|n| n.as_str()).map(String::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::TaskStatus;

    fn container(name: &str, exit_code: Option<i32>, reason: Option<&str>) -> ContainerState {
        ContainerState {
            name: name.into(),
            last_status: Some(TaskStatus::Stopped),
            exit_code,
            reason: reason.map(String::from),
        }
    }

    fn stopped(containers: Vec<ContainerState>) -> Task {
        let mut t = Task::new("arn:task/c/1", "arn:td/app:3", "STOPPED", "STOPPED");
        t.containers = containers;
        t
    }

    #[test]
    fn a_one_off_succeeds_only_when_every_essential_container_exited_zero() {
        use Why::*;
        const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
        const PULL: &str = "CannotPullContainerError: pull image manifest has been retried";
        let app = |code, reason| container("app", code, reason);
        let sidecar = |code, reason| container("sidecar", code, reason);
        let failed = |name: &str, code, reason: Option<&str>, why| {
            Some(vec![ContainerFailure {
                name: name.into(),
                exit_code: code,
                reason: reason.map(String::from),
                why,
            }])
        };
        let both = vec!["app".to_string(), "sidecar".to_string()];
        let only_app = vec!["app".to_string()];
        // (what the task reported, essential containers) -> the failing ones (None: succeeded).
        let table = [
            (
                "one container exits 0",
                vec![app(Some(0), None)],
                &only_app,
                None,
            ),
            (
                "one container exits 1",
                vec![app(Some(1), None)],
                &only_app,
                failed("app", Some(1), None, ExitedNonZero),
            ),
            (
                "a non-essential sidecar failing does not fail it",
                vec![app(Some(0), None), sidecar(Some(2), None)],
                &only_app,
                None,
            ),
            (
                "an essential sidecar failing does",
                vec![app(Some(0), None), sidecar(Some(2), None)],
                &both,
                failed("sidecar", Some(2), None, ExitedNonZero),
            ),
            (
                "OOM-killed, exit 137",
                vec![app(Some(137), Some(OOM))],
                &only_app,
                failed("app", Some(137), Some(OOM), OutOfMemory),
            ),
            (
                "never started: the image cannot be pulled, no exit code",
                vec![app(None, Some(PULL))],
                &only_app,
                failed("app", None, Some(PULL), NoExitCode),
            ),
            (
                "an essential container the task does not show never started",
                vec![app(Some(0), None)],
                &both,
                failed("sidecar", None, None, NoExitCode),
            ),
            (
                "a non-essential container that never started does not fail it",
                vec![app(Some(0), None), sidecar(None, Some(PULL))],
                &only_app,
                None,
            ),
        ];
        for (what, containers, essential, want) in table {
            let want = match want {
                None => Judgement::Succeeded,
                Some(containers) => Judgement::Failed { containers },
            };
            assert_eq!(judge(&stopped(containers), essential), want, "{what}");
        }
    }

    #[test]
    fn containers_are_essential_unless_the_definition_says_false() {
        let body = serde_json::json!({"containerDefinitions": [
            {"name": "app"}, {"name": "log", "essential": false}, {"name": "proxy", "essential": true}
        ]});
        assert_eq!(essential_containers(&body), vec!["app", "proxy"]);
    }
}
