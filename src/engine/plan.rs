//! Choosing how to roll: a pure function of what was observed, table-tested.
//!
//! With static host ports one task of the family fits per instance, so capacity is counted in
//! instances. New tasks go first onto *free* instances (blue/green when there are enough of
//! them, a surge otherwise); only when none is free is an instance replaced in place, which
//! takes it out of service for a while and so needs another instance to keep serving.

use std::collections::VecDeque;

use serde::Serialize;

/// One container instance as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub container_instance_arn: String,
    pub ec2_instance_id: String,
    pub availability_zone: Option<String>,
    /// Tasks of the family on this instance with desired status RUNNING.
    pub tasks: Vec<SlotTask>,
    /// Registered with the load balancer.
    pub registered: bool,
    /// Registered and reported InService.
    pub in_service: bool,
    /// A task of the target revision fits now (ports, CPU, memory, instance ACTIVE).
    pub fits_target: bool,
    /// A task of the target revision fits once this instance's family tasks are stopped.
    pub fits_after_stop: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotTask {
    pub arn: String,
    pub task_definition_arn: String,
    pub running: bool,
}

impl Slot {
    fn runs_only(&self, revision: Option<&str>) -> bool {
        !self.tasks.is_empty()
            && self
                .tasks
                .iter()
                .all(|t| t.running && Some(t.task_definition_arn.as_str()) == revision)
    }

    /// Serving the app now: in service with a running task of the family.
    pub fn serving(&self) -> bool {
        self.in_service && self.tasks.iter().any(|t| t.running)
    }
}

/// What one step does to its instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Register instances that already run the target revision and wait until InService.
    Register { slots: Vec<Slot> },
    /// Start the target revision on free instances, register them, wait until InService.
    Launch { slots: Vec<Slot> },
    /// Deregister, wait for connection draining, stop the family's tasks.
    Retire { slots: Vec<Slot> },
    /// Retire one instance, then launch the target revision on it.
    Replace { slot: Slot },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: Action,
    /// Instances serving the app while the step runs, at the least.
    pub in_service_during: usize,
    /// Instances serving the app once the step is done.
    pub in_service_after: usize,
}

impl Step {
    pub fn title(&self) -> String {
        let ids = |s: &[Slot]| {
            s.iter()
                .map(|s| s.ec2_instance_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.action {
            Action::Register { slots } => format!("register {} with the load balancer", ids(slots)),
            Action::Launch { slots } => {
                format!("start new tasks on {} and wait until InService", ids(slots))
            }
            Action::Retire { slots } => format!("drain and stop the old tasks on {}", ids(slots)),
            Action::Replace { slot } => {
                format!("replace the task on {} in place", slot.ec2_instance_id)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The target already runs everywhere it should.
    Nothing,
    /// All new tasks start on free instances before any old one is drained.
    BlueGreen,
    /// New tasks on `surge` free instances at a time; each batch frees as many old instances.
    Surge { surge: usize },
    /// One instance at a time, in place: drain, stop, start, register.
    Rolling,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strategy::Nothing => f.write_str("nothing to do"),
            Strategy::BlueGreen => f.write_str("blue/green"),
            Strategy::Surge { surge } => write!(f, "rolling with a surge of {surge}"),
            Strategy::Rolling => f.write_str("rolling, one instance at a time"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub strategy: Strategy,
    pub count: usize,
    pub steps: Vec<Step>,
    /// Serving instances before the first step.
    pub in_service_before: usize,
    /// Whether some step leaves nothing in service (only with --allow-downtime).
    pub downtime: bool,
}

impl Plan {
    pub fn min_in_service(&self) -> usize {
        self.steps
            .iter()
            .map(|s| s.in_service_during)
            .min()
            .unwrap_or(self.in_service_before)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// Not enough instances can host a task of the target revision.
    NoCapacity {
        needed: usize,
        usable: usize,
        detail: String,
    },
    /// The only way forward takes every instance out of service.
    Downtime {
        detail: String,
    },
    ZeroCount,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoCapacity {
                needed,
                usable,
                detail,
            } => {
                write!(
                    f,
                    "{needed} tasks are wanted but only {usable} instances can run one: {detail}"
                )
            }
            Refusal::Downtime { detail } => f.write_str(detail),
            Refusal::ZeroCount => f.write_str("the task count must be at least 1"),
        }
    }
}

/// Plans converging the instances onto `target` (None: a revision not registered yet, so
/// nothing runs it) with `count` tasks, one per instance.
pub fn plan(
    slots: &[Slot],
    target: Option<&str>,
    count: usize,
    allow_downtime: bool,
) -> Result<Plan, Refusal> {
    if count == 0 {
        return Err(Refusal::ZeroCount);
    }
    let in_service_before = slots.iter().filter(|s| s.serving()).count();
    let mut steps = Vec::new();
    let mut serving = in_service_before;
    let mut downtime = false;

    let (mut current, rest): (Vec<&Slot>, Vec<&Slot>) =
        slots.iter().partition(|s| s.runs_only(target));
    // Those already on the target but not in the load balancer just need registering.
    current.sort_by_key(|s| !s.serving());
    let extra_current: Vec<Slot> = current.iter().skip(count).map(|s| (*s).clone()).collect();
    let current: Vec<&Slot> = current.into_iter().take(count).collect();
    let to_register: Vec<Slot> = current
        .iter()
        .filter(|s| !s.serving())
        .map(|s| (*s).clone())
        .collect();
    if !to_register.is_empty() {
        let during = serving;
        serving += to_register.len();
        steps.push(Step {
            action: Action::Register { slots: to_register },
            in_service_during: during,
            in_service_after: serving,
        });
    }

    let mut free: VecDeque<Slot> = rest
        .iter()
        .filter(|s| s.tasks.is_empty() && s.fits_target)
        .map(|s| (*s).clone())
        .collect();
    // Old instances not serving go first (replacing them costs nothing); then spread over zones.
    let mut old: Vec<Slot> = rest
        .iter()
        .filter(|s| !s.tasks.is_empty())
        .map(|s| (*s).clone())
        .collect();
    old.sort_by_key(|s| s.serving());
    let mut old: VecDeque<Slot> = interleave_zones(old).into();

    let mut need = count - current.len();
    let usable = free.len() + old.iter().filter(|s| s.fits_after_stop).count();
    if usable < need {
        return Err(Refusal::NoCapacity {
            needed: count,
            usable: usable + current.len(),
            detail: format!(
                "{} instances are free, {} run other revisions and can take the new task once stopped, {} already run it",
                free.len(),
                old.iter().filter(|s| s.fits_after_stop).count(),
                current.len()
            ),
        });
    }

    let mut surge = 0;
    let mut replaced = false;
    while need > 0 {
        if !free.is_empty() {
            let batch: Vec<Slot> = (0..need.min(free.len()))
                .filter_map(|_| free.pop_front())
                .collect();
            surge = surge.max(batch.len());
            need -= batch.len();
            let during = serving;
            serving += batch.len();
            steps.push(Step {
                action: Action::Launch {
                    slots: batch.clone(),
                },
                in_service_during: during,
                in_service_after: serving,
            });
            if need > 0 {
                // Free as many old instances as were just added, keeping capacity level.
                let retire: Vec<Slot> = (0..batch.len().min(old.len()))
                    .filter_map(|_| old.pop_front())
                    .collect();
                if !retire.is_empty() {
                    serving -= retire.iter().filter(|s| s.serving()).count();
                    free.extend(retire.iter().filter(|s| s.fits_after_stop).map(|s| Slot {
                        tasks: vec![],
                        registered: false,
                        in_service: false,
                        ..s.clone()
                    }));
                    steps.push(Step {
                        action: Action::Retire { slots: retire },
                        in_service_during: serving,
                        in_service_after: serving,
                    });
                }
            }
        } else if let Some(pos) = old.iter().position(|s| s.fits_after_stop) {
            let slot = old.remove(pos).expect("position is in range");
            let during = serving - usize::from(slot.serving());
            if during == 0 {
                if !allow_downtime {
                    return Err(Refusal::Downtime {
                        detail: downtime_explanation(slots, &slot),
                    });
                }
                downtime = true;
            }
            replaced = true;
            need -= 1;
            serving = during + 1;
            steps.push(Step {
                action: Action::Replace { slot },
                in_service_during: during,
                in_service_after: serving,
            });
        } else {
            unreachable!("capacity was checked above");
        }
    }

    // Whatever still runs another revision, or more tasks than wanted, is retired last, once
    // the new tasks serve.
    let leftover: Vec<Slot> = old.into_iter().chain(extra_current).collect();
    if !leftover.is_empty() {
        serving -= leftover.iter().filter(|s| s.serving()).count();
        steps.push(Step {
            action: Action::Retire { slots: leftover },
            in_service_during: serving,
            in_service_after: serving,
        });
    }

    let strategy = if steps
        .iter()
        .all(|s| matches!(s.action, Action::Register { .. }))
    {
        if steps.is_empty() {
            Strategy::Nothing
        } else {
            Strategy::BlueGreen
        }
    } else if replaced {
        Strategy::Rolling
    } else if surge >= count - current.len() {
        Strategy::BlueGreen
    } else {
        Strategy::Surge { surge }
    };
    Ok(Plan {
        strategy,
        count,
        steps,
        in_service_before,
        downtime,
    })
}

/// Orders instances so consecutive steps touch different availability zones.
fn interleave_zones(slots: Vec<Slot>) -> Vec<Slot> {
    let mut zones: Vec<(Option<String>, VecDeque<Slot>)> = Vec::new();
    for s in slots {
        match zones.iter_mut().find(|(z, _)| *z == s.availability_zone) {
            Some((_, q)) => q.push_back(s),
            None => zones.push((s.availability_zone.clone(), VecDeque::from([s]))),
        }
    }
    let mut out = Vec::new();
    while zones.iter().any(|(_, q)| !q.is_empty()) {
        for (_, q) in zones.iter_mut() {
            out.extend(q.pop_front());
        }
    }
    out
}

fn downtime_explanation(all: &[Slot], slot: &Slot) -> String {
    let others = all.len() - 1;
    let room = if others == 0 {
        "there is no other container instance".to_string()
    } else {
        format!(
            "none of the {others} other instances has room for a new task (host port taken, too little CPU/memory, or not ACTIVE)"
        )
    };
    format!(
        "replacing the task on {} would leave no instance serving the app: it is the only one in service, \
         the static host port allows one task per instance, and {room}. \
         Add a container instance so the new task can start beside the old one, or accept the downtime with --allow-downtime",
        slot.ec2_instance_id
    )
}

#[cfg(test)]
mod tests;
