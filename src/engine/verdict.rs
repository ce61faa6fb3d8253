//! Pure decisions over one observation: is the thing we wait for done, still coming, or lost?
//! The polling loop (`wait.rs`) only sleeps and observes; everything it concludes comes from here.

use std::time::Duration;

use crate::platform::{HealthState, InstanceHealth, Task};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Not yet; the detail says what was seen, so changes can be reported once each.
    Pending(String),
    /// Conclusive evidence that it will never be done.
    Failed(String),
}

/// The first of `tasks` that is stopping, explained: the failure of any wait that watches it.
pub fn stopped(tasks: &[Task]) -> Option<String> {
    tasks
        .iter()
        .find(|t| t.is_stopping())
        .map(|t| format!("task {} stopped: {}", short(&t.arn), t.stop_explanation()))
}

/// New tasks started by a step: done when all run, failed as soon as one stopped.
pub fn tasks_running(tasks: &[Task], expected: usize) -> Verdict {
    if let Some(why) = stopped(tasks) {
        return Verdict::Failed(why);
    }
    if tasks.len() < expected {
        return Verdict::Pending(format!("{} of {expected} tasks visible", tasks.len()));
    }
    let running = tasks.iter().filter(|t| t.is_running()).count();
    if running == expected {
        Verdict::Done
    } else {
        let states: Vec<String> = tasks.iter().map(|t| t.last_status.clone()).collect();
        Verdict::Pending(format!(
            "{running} of {expected} RUNNING ({})",
            states.join(", ")
        ))
    }
}

/// Old tasks being stopped: done when every one is STOPPED (its host port is free again).
pub fn tasks_stopped(tasks: &[Task]) -> Verdict {
    let left: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.last_status != "STOPPED")
        .collect();
    if left.is_empty() {
        Verdict::Done
    } else {
        Verdict::Pending(format!("{} still {}", left.len(), left[0].last_status))
    }
}

/// Instances just registered: done when all are InService. Their tasks are checked too, since
/// a task that crashed makes waiting on the load balancer pointless. `checks_conclusive`: the
/// load balancer has had time for `UnhealthyThreshold` checks of the new task (and the start-up
/// grace has passed), so an instance it reports as having failed that many checks in a row
/// failed them against the new task: that is the load balancer's own verdict, final.
pub fn instances_in_service(
    health: &[InstanceHealth],
    instance_ids: &[String],
    tasks: &[Task],
    checks_conclusive: bool,
) -> Verdict {
    if let Some(why) = stopped(tasks) {
        return Verdict::Failed(why);
    }
    let mut waiting = Vec::new();
    for id in instance_ids {
        match health.iter().find(|h| &h.instance_id == id) {
            Some(h) if h.state == HealthState::InService => {}
            Some(h) if checks_conclusive && h.has_failed_checks() => {
                return Verdict::Failed(format!(
                    "{id} failed the load balancer's health check: {}",
                    h.description.as_deref().unwrap_or("OutOfService")
                ));
            }
            Some(h) => waiting.push(format!(
                "{id} {}{}",
                h.state,
                h.description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )),
            None => waiting.push(format!("{id} not registered yet")),
        }
    }
    if waiting.is_empty() {
        Verdict::Done
    } else {
        Verdict::Pending(waiting.join("; "))
    }
}

/// Deregistered instances: done once the load balancer no longer lists them, or lists them
/// without a deregistration in progress (draining over). The caller bounds the wait by the
/// connection draining timeout.
pub fn instances_drained(health: &[InstanceHealth], instance_ids: &[String]) -> Verdict {
    let draining: Vec<&str> = health
        .iter()
        .filter(|h| {
            instance_ids.contains(&h.instance_id)
                && (h.is_deregistering() || h.state == HealthState::InService)
        })
        .map(|h| h.instance_id.as_str())
        .collect();
    if draining.is_empty() {
        Verdict::Done
    } else {
        Verdict::Pending(format!("connections draining on {}", draining.join(", ")))
    }
}

/// How many instances other than `leaving` serve now: the guard before taking any out.
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

/// The longest a new instance may take to become InService: the checks the ELB needs, twice
/// over, plus a start-up allowance; never less than a minute.
pub fn default_health_timeout(
    interval: Duration,
    timeout: Duration,
    healthy_threshold: u32,
) -> Duration {
    let checks = (interval + timeout) * healthy_threshold.max(1);
    (checks * 2 + Duration::from_secs(60)).max(Duration::from_secs(60))
}

/// The tail of an ARN, for messages.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
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
    fn a_stopped_task_is_explained_with_its_exit_code() {
        let Verdict::Failed(why) = tasks_running(&[task("STOPPED", "STOPPED")], 1) else {
            panic!()
        };
        assert!(
            why.contains("abc") && why.contains("Essential container") && why.contains("exited 1"),
            "{why}"
        );
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
            instances_in_service(&both, &ids, &running, true),
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
            matches!(instances_in_service(&one, &ids, &running, false), Verdict::Pending(d) if d.contains("i-2 OutOfService"))
        );
        assert!(
            matches!(instances_in_service(&one, &ids, &running, true), Verdict::Failed(d) if d.contains("i-2 failed the load balancer's health check"))
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
            instances_in_service(&not_yet, &ids, &running, true),
            Verdict::Pending(_)
        ));
        assert!(
            matches!(instances_in_service(&both[..1], &ids, &running, true), Verdict::Pending(d) if d.contains("i-2 not registered"))
        );
        assert!(matches!(
            instances_in_service(&both, &ids, &[task("STOPPED", "STOPPED")], false),
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
