//! Choosing the deployment configuration (maximumPercent / minimumHealthyPercent) that keeps
//! the most capacity without stalling: a pure function of the desired count and how many new
//! tasks fit beside the running ones, table-tested.
//!
//! ECS rounds the maximum down (floor(desired x max / 100) tasks at most) and the minimum up
//! (ceil(desired x min / 100) healthy tasks at least); the percentages are chosen against that.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    /// Healthy tasks ECS keeps at the least while it rolls.
    pub min_healthy_tasks: i64,
    /// New tasks started at once beside the old ones.
    pub surge: i64,
    pub downtime: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// As many tasks as wanted can be added (Fargate).
    Unbounded,
    /// This many more tasks fit now beside the running ones (EC2).
    Tasks(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// With no room for a new task and a single one running, replacing it means an outage.
    Downtime { desired: i64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Downtime { desired } => write!(
                f,
                "no container instance has room for a new task beside the running one(s), and with {desired} task(s) \
                 ECS would have to stop every old task before starting a new one"
            ),
        }
    }
}

pub fn choose(desired: i64, capacity: Capacity, allow_downtime: bool) -> Result<Choice, Refusal> {
    if desired <= 0 {
        // Scaled to zero (a worker at rest): no task to replace, nothing to keep serving.
        return Ok(Choice {
            maximum_percent: 200,
            minimum_healthy_percent: 100,
            min_healthy_tasks: 0,
            surge: 0,
            downtime: false,
        });
    }
    let spare = match capacity {
        Capacity::Unbounded => desired,
        Capacity::Tasks(n) => n.clamp(0, desired),
    };
    if spare > 0 {
        // All new tasks first when they fit, else as many as fit: capacity never drops.
        let max = max_percent_for(desired, desired + spare);
        return Ok(Choice {
            maximum_percent: max,
            minimum_healthy_percent: 100,
            min_healthy_tasks: desired,
            surge: spare,
            downtime: false,
        });
    }
    if desired == 1 {
        if !allow_downtime {
            return Err(Refusal::Downtime { desired });
        }
        return Ok(Choice {
            maximum_percent: 100,
            minimum_healthy_percent: 0,
            min_healthy_tasks: 0,
            surge: 0,
            downtime: true,
        });
    }
    // No room: one task at a time, in place.
    let min = (100 * (desired - 1)) / desired;
    Ok(Choice {
        maximum_percent: 100,
        minimum_healthy_percent: min,
        min_healthy_tasks: ceil_div(desired * min, 100),
        surge: 0,
        downtime: false,
    })
}

/// The smallest maximumPercent letting ECS run `total` tasks for `desired`.
fn max_percent_for(desired: i64, total: i64) -> i64 {
    let max = ceil_div(100 * total, desired);
    debug_assert!(desired * max / 100 >= total);
    max
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (desired, capacity, allow downtime) -> (max, min, min healthy tasks, surge)
        // (desired, capacity) -> (max %, min %, min healthy tasks, surge)
        type Case = (i64, Capacity, (i64, i64, i64, i64));
        let cases: &[Case] = &[
            (3, Capacity::Unbounded, (200, 100, 3, 3)),
            (3, Capacity::Tasks(3), (200, 100, 3, 3)),
            (3, Capacity::Tasks(5), (200, 100, 3, 3)),
            (3, Capacity::Tasks(1), (134, 100, 3, 1)),
            (4, Capacity::Tasks(2), (150, 100, 4, 2)),
            (3, Capacity::Tasks(0), (100, 66, 2, 0)),
            (10, Capacity::Tasks(0), (100, 90, 9, 0)),
            (2, Capacity::Tasks(0), (100, 50, 1, 0)),
            (1, Capacity::Tasks(1), (200, 100, 1, 1)),
        ];
        for (desired, cap, (max, min, healthy, surge)) in cases {
            let c = choose(*desired, *cap, false).unwrap();
            assert_eq!(
                (
                    c.maximum_percent,
                    c.minimum_healthy_percent,
                    c.min_healthy_tasks,
                    c.surge
                ),
                (*max, *min, *healthy, *surge),
                "{desired} {cap:?}"
            );
            // What ECS derives from the percentages is what was meant.
            assert_eq!(
                desired * c.maximum_percent / 100,
                desired + surge,
                "{desired} {cap:?}"
            );
            assert_eq!(ceil_div(desired * c.minimum_healthy_percent, 100), *healthy);
        }
    }

    #[test]
    fn a_single_task_with_no_room_is_refused_unless_downtime_is_allowed() {
        assert_eq!(
            choose(1, Capacity::Tasks(0), false),
            Err(Refusal::Downtime { desired: 1 })
        );
        let c = choose(1, Capacity::Tasks(0), true).unwrap();
        assert!(c.downtime);
        assert_eq!(c.min_healthy_tasks, 0);
    }

    #[test]
    fn a_service_scaled_to_zero_needs_no_room() {
        let c = choose(0, Capacity::Tasks(0), false).unwrap();
        assert_eq!((c.surge, c.min_healthy_tasks, c.downtime), (0, 0, false));
    }

    #[test]
    fn percentages_are_exact_for_many_counts() {
        for desired in 1..=60 {
            for spare in 1..=desired {
                let c = choose(desired, Capacity::Tasks(spare), false).unwrap();
                assert_eq!(
                    desired * c.maximum_percent / 100,
                    desired + spare,
                    "{desired}+{spare}"
                );
            }
            if desired > 1 {
                let c = choose(desired, Capacity::Tasks(0), false).unwrap();
                assert_eq!(
                    ceil_div(desired * c.minimum_healthy_percent, 100),
                    desired - 1,
                    "{desired}"
                );
            }
        }
    }
}
