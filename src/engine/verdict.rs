//! Pure decisions over one observation: is the thing we wait for done, still coming, or lost?
//! The polling loop (`wait.rs`) only sleeps and observes; everything it concludes comes from here.

use std::time::Duration;

use super::failure::{Failure, StoppedTask};
use super::progress::{InstanceWait, Progress};
use crate::platform::{HealthState, InstanceHealth, Task, TaskStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Not yet; what was seen, so changes can be reported once each.
    Pending(Progress),
    /// Conclusive evidence that it will never be done.
    Failed(Failure),
}

/// The first of `tasks` that is stopping: the evidence that ends any wait watching it.
pub fn stopped(tasks: &[Task]) -> Option<StoppedTask> {
    tasks.iter().find(|t| t.is_stopping()).map(StoppedTask::of)
}

fn task_stopped(task: StoppedTask) -> Verdict {
    Verdict::Failed(Failure::TaskStopped {
        task,
        deployed_earlier: false,
    })
}

/// New tasks started by a step: done when all run, failed as soon as one stopped.
pub fn tasks_running(tasks: &[Task], expected: usize) -> Verdict {
    if let Some(t) = stopped(tasks) {
        return task_stopped(t);
    }
    if tasks.len() < expected {
        return Verdict::Pending(Progress::TasksVisible {
            seen: tasks.len(),
            expected,
        });
    }
    let running = tasks.iter().filter(|t| t.is_running()).count();
    if running == expected {
        Verdict::Done
    } else {
        Verdict::Pending(Progress::TasksStarting {
            running,
            expected,
            statuses: tasks.iter().map(|t| t.last_status.clone()).collect(),
        })
    }
}

pub fn tasks_stopped(tasks: &[Task]) -> Verdict {
    let left: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.last_status != TaskStatus::Stopped)
        .collect();
    match left.first() {
        None => Verdict::Done,
        Some(t) => Verdict::Pending(Progress::TasksStopping {
            left: left.len(),
            status: t.last_status.clone(),
        }),
    }
}

pub fn instances_in_service(
    health: &[InstanceHealth],
    instance_ids: &[String],
    tasks: &[Task],
    checks_conclusive: bool,
    load_balancer: &str,
) -> Verdict {
    if let Some(t) = stopped(tasks) {
        return task_stopped(t);
    }
    let mut waiting = Vec::new();
    for id in instance_ids {
        match health.iter().find(|h| &h.instance_id == id) {
            Some(h) if h.state == HealthState::InService => {}
            Some(h) if checks_conclusive && h.has_failed_checks() => {
                return Verdict::Failed(Failure::HealthChecksFailed {
                    load_balancer: load_balancer.to_string(),
                    target: id.clone(),
                    state: h.state.to_string(),
                    reason: h.reason_code.as_deref().map(Box::from),
                    description: h.description.as_deref().map(Box::from),
                    unhealthy_for: None,
                });
            }
            h => waiting.push(InstanceWait {
                instance: id.clone(),
                state: h.map(|h| h.state),
                description: h.and_then(|h| h.description.clone()),
            }),
        }
    }
    if waiting.is_empty() {
        Verdict::Done
    } else {
        Verdict::Pending(Progress::InstancesWaiting { instances: waiting })
    }
}

pub fn instances_drained(health: &[InstanceHealth], instance_ids: &[String]) -> Verdict {
    let draining: Vec<String> = health
        .iter()
        .filter(|h| {
            instance_ids.contains(&h.instance_id)
                && (h.is_deregistering() || h.state == HealthState::InService)
        })
        .map(|h| h.instance_id.clone())
        .collect();
    if draining.is_empty() {
        Verdict::Done
    } else {
        Verdict::Pending(Progress::Draining {
            instances: draining,
        })
    }
}

pub fn others_in_service(health: &[InstanceHealth], leaving: &[String]) -> usize {
    health
        .iter()
        .filter(|h| {
            h.state == HealthState::InService
                && !h.is_deregistering()
                && !leaving.contains(&h.instance_id)
        })
        .count()
}

pub fn default_health_timeout(
    interval: Duration,
    timeout: Duration,
    healthy_threshold: u32,
) -> Duration {
    let checks = (interval + timeout) * healthy_threshold.max(1);
    (checks * 2 + Duration::from_secs(60)).max(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ContainerState;

    fn task(status: &str, desired: &str) -> Task {
        Task {
            container_instance_arn: Some("ci".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: vec![ContainerState {
                name: "app".into(),
                last_status: None,
                exit_code: Some(1),
                reason: None,
            }],
            ..Task::new(
                "arn:aws:ecs:us-east-1:1:task/c/abc",
                "td:2",
                status,
                desired,
            )
        }
    }

    fn health(id: &str, state: HealthState, desc: Option<&str>) -> InstanceHealth {
        InstanceHealth {
            instance_id: id.into(),
            state,
            reason_code: None,
            description: desc.map(String::from),
        }
    }

    #[test]
    fn tasks_running_table() {
        let cases: Vec<(&str, Vec<Task>, usize, &str)> = vec![
            ("all running", vec![task("RUNNING", "RUNNING")], 1, "done"),
            ("pending", vec![task("PENDING", "RUNNING")], 1, "pending"),
            ("not visible yet", vec![], 1, "pending"),
            (
                "one stopped",
                vec![task("RUNNING", "RUNNING"), task("STOPPED", "STOPPED")],
                2,
                "failed",
            ),
            ("stopping", vec![task("RUNNING", "STOPPED")], 1, "failed"),
        ];
        for (name, tasks, n, want) in cases {
            let got = match tasks_running(&tasks, n) {
                Verdict::Done => "done",
                Verdict::Pending(_) => "pending",
                Verdict::Failed(_) => "failed",
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_stopped_task_carries_its_reason_and_exit_codes() {
        let Verdict::Failed(Failure::TaskStopped {
            task,
            deployed_earlier: false,
        }) = tasks_running(&[task("STOPPED", "STOPPED")], 1)
        else {
            panic!()
        };
        assert_eq!(task.task_arn, "arn:aws:ecs:us-east-1:1:task/c/abc");
        assert_eq!(
            task.stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
        assert_eq!(task.containers[0].exit_code, Some(1));
    }

    #[test]
    fn in_service_table() {
        let ids = vec!["i-1".to_string(), "i-2".to_string()];
        let running = vec![task("RUNNING", "RUNNING")];
        let both = vec![
            health("i-1", HealthState::InService, None),
            health("i-2", HealthState::InService, None),
        ];
        assert_eq!(
            instances_in_service(&both, &ids, &running, true, "elb"),
            Verdict::Done
        );
        let one = vec![
            health("i-1", HealthState::InService, None),
            health(
                "i-2",
                HealthState::OutOfService,
                Some("Instance has failed at least the UnhealthyThreshold"),
            ),
        ];
        // Failed checks count only once they can be the new task's.
        assert!(
            matches!(instances_in_service(&one, &ids, &running, false, "elb"), Verdict::Pending(Progress::InstancesWaiting { instances }) if instances[0].instance == "i-2" && instances[0].state == Some(HealthState::OutOfService))
        );
        assert!(
            matches!(instances_in_service(&one, &ids, &running, true, "elb"), Verdict::Failed(Failure::HealthChecksFailed { target, load_balancer, unhealthy_for: None, .. }) if target == "i-2" && load_balancer == "elb")
        );
        let not_yet = vec![
            health("i-1", HealthState::InService, None),
            health(
                "i-2",
                HealthState::OutOfService,
                Some(
                    "Instance has not passed the configured HealthyThreshold number of health checks consecutively.",
                ),
            ),
        ];
        assert!(matches!(
            instances_in_service(&not_yet, &ids, &running, true, "elb"),
            Verdict::Pending(_)
        ));
        assert!(
            matches!(instances_in_service(&both[..1], &ids, &running, true, "elb"), Verdict::Pending(Progress::InstancesWaiting { instances }) if instances[0].instance == "i-2" && instances[0].state.is_none())
        );
        assert!(matches!(
            instances_in_service(&both, &ids, &[task("STOPPED", "STOPPED")], false, "elb"),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn drained_table() {
        let ids = vec!["i-1".to_string()];
        assert_eq!(instances_drained(&[], &ids), Verdict::Done);
        let draining = [health(
            "i-1",
            HealthState::OutOfService,
            Some("Instance deregistration currently in progress."),
        )];
        assert!(matches!(
            instances_drained(&draining, &ids),
            Verdict::Pending(_)
        ));
        let still_listed = [health("i-1", HealthState::InService, None)];
        assert!(matches!(
            instances_drained(&still_listed, &ids),
            Verdict::Pending(_)
        ));
        let other = [health("i-2", HealthState::InService, None)];
        assert_eq!(instances_drained(&other, &ids), Verdict::Done);
    }

    #[test]
    fn guard_counts_only_other_in_service_instances() {
        let h = [
            health("i-1", HealthState::InService, None),
            health("i-2", HealthState::InService, None),
            health("i-3", HealthState::OutOfService, None),
        ];
        assert_eq!(others_in_service(&h, &["i-1".into()]), 1);
        assert_eq!(others_in_service(&h, &["i-1".into(), "i-2".into()]), 0);
        // An instance whose connections are draining serves no new requests.
        let draining = [
            health("i-1", HealthState::InService, None),
            health(
                "i-2",
                HealthState::InService,
                Some("Instance deregistration currently in progress."),
            ),
        ];
        assert_eq!(others_in_service(&draining, &["i-1".into()]), 0);
    }

    #[test]
    fn health_timeout_follows_the_health_check() {
        assert_eq!(
            default_health_timeout(Duration::from_secs(30), Duration::from_secs(5), 2),
            Duration::from_secs(200)
        );
        assert_eq!(
            default_health_timeout(Duration::from_secs(5), Duration::from_secs(2), 2),
            Duration::from_secs(88)
        );
    }
}
