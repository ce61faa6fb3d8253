//! Choosing how to roll: a pure function of what was observed, table-tested.
//!
//! With static host ports one task of the family fits per instance, so capacity is counted in
//! instances. New tasks go first onto *free* instances (blue/green when there are enough of
//! them, a surge otherwise); only when none is free is an instance replaced in place, which
//! takes it out of service for a while and so needs another instance to keep serving.

pub mod notes;

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
    /// Deregister instances that are registered with no task of the family behind them (left
    /// so by a crash under --no-rollback or a killed run): nothing answers there.
    Deregister { slots: Vec<Slot> },
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
            Action::Deregister { slots } => format!(
                "deregister {} from the load balancer (no task behind it)",
                ids(slots)
            ),
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
#[serde(tag = "reason", rename_all = "snake_case")]
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
    let mut p = Planner::new(slots, count, allow_downtime);
    let (current, rest): (Vec<&Slot>, Vec<&Slot>) = slots.iter().partition(|s| s.runs_only(target));
    let (current, extra_current) = p.register_current(current);
    // Registered instances without a task first: a new task there restores what a failed
    // run left, and the rest of them are deregistered.
    let mut free: Vec<Slot> = rest
        .iter()
        .filter(|s| s.tasks.is_empty() && s.fits_target)
        .map(|s| (*s).clone())
        .collect();
    free.sort_by_key(|s| !s.registered);
    p.free = free.into();
    let unfit_strays: Vec<Slot> = rest
        .iter()
        .filter(|s| s.tasks.is_empty() && s.registered && !s.fits_target)
        .map(|s| (*s).clone())
        .collect();
    // Old instances not serving go first (replacing them costs nothing); then spread over zones.
    let mut old: Vec<Slot> = rest
        .iter()
        .filter(|s| !s.tasks.is_empty())
        .map(|s| (*s).clone())
        .collect();
    old.sort_by_key(|s| s.serving());
    p.old = interleave_zones(old).into();

    let mut need = count - current;
    p.check_capacity(need, current)?;
    while need > 0 {
        need -= if p.free.is_empty() {
            p.replace_one()?
        } else {
            p.launch_batch(need)
        };
    }
    // Whatever still runs another revision, or more tasks than wanted, is retired last, once
    // the new tasks serve.
    let leftover: Vec<Slot> = std::mem::take(&mut p.old)
        .into_iter()
        .chain(extra_current)
        .collect();
    p.retire(leftover);
    p.deregister_strays(unfit_strays);
    Ok(p.finish(current))
}

/// The planner's state while it lays out the steps.
struct Planner<'a> {
    slots: &'a [Slot],
    count: usize,
    allow_downtime: bool,
    in_service_before: usize,
    /// Instances serving after the steps so far.
    serving: usize,
    steps: Vec<Step>,
    /// Empty instances a new task fits on.
    free: VecDeque<Slot>,
    /// Instances running other revisions, in the order they are taken out.
    old: VecDeque<Slot>,
    surge: usize,
    replaced: bool,
    downtime: bool,
}

impl<'a> Planner<'a> {
    fn new(slots: &'a [Slot], count: usize, allow_downtime: bool) -> Self {
        let in_service_before = slots.iter().filter(|s| s.serving()).count();
        Planner {
            slots,
            count,
            allow_downtime,
            in_service_before,
            serving: in_service_before,
            steps: Vec::new(),
            free: VecDeque::new(),
            old: VecDeque::new(),
            surge: 0,
            replaced: false,
            downtime: false,
        }
    }

    fn push(&mut self, action: Action, during: usize) {
        self.steps.push(Step {
            action,
            in_service_during: during,
            in_service_after: self.serving,
        });
    }

    /// Instances already on the target but not in the load balancer just need registering.
    /// Returns how many of the target's instances are kept, and those beyond the count.
    fn register_current(&mut self, mut current: Vec<&Slot>) -> (usize, Vec<Slot>) {
        current.sort_by_key(|s| !s.serving());
        let extra: Vec<Slot> = current
            .iter()
            .skip(self.count)
            .map(|s| (*s).clone())
            .collect();
        current.truncate(self.count);
        let to_register: Vec<Slot> = current
            .iter()
            .filter(|s| !s.serving())
            .map(|s| (*s).clone())
            .collect();
        if !to_register.is_empty() {
            let during = self.serving;
            self.serving += to_register.len();
            self.push(Action::Register { slots: to_register }, during);
        }
        (current.len(), extra)
    }

    fn check_capacity(&self, need: usize, current: usize) -> Result<(), Refusal> {
        let after_stop = self.old.iter().filter(|s| s.fits_after_stop).count();
        let usable = self.free.len() + after_stop;
        if usable >= need {
            return Ok(());
        }
        Err(Refusal::NoCapacity {
            needed: self.count,
            usable: usable + current,
            detail: format!(
                "{} instances are free, {after_stop} run other revisions and can take the new task once stopped, {current} already run it",
                self.free.len(),
            ),
        })
    }

    /// New tasks on free instances, then as many old instances retired as were added (while
    /// more are needed), keeping capacity level. Returns how many tasks were launched.
    fn launch_batch(&mut self, need: usize) -> usize {
        let batch: Vec<Slot> = (0..need.min(self.free.len()))
            .filter_map(|_| self.free.pop_front())
            .collect();
        let n = batch.len();
        self.surge = self.surge.max(n);
        let during = self.serving;
        self.serving += n;
        self.push(Action::Launch { slots: batch }, during);
        if need > n {
            let retire: Vec<Slot> = (0..n.min(self.old.len()))
                .filter_map(|_| self.old.pop_front())
                .collect();
            self.free
                .extend(retire.iter().filter(|s| s.fits_after_stop).map(|s| Slot {
                    tasks: vec![],
                    registered: false,
                    in_service: false,
                    ..s.clone()
                }));
            self.retire(retire);
        }
        n
    }

    /// No free instance: replace an old task in place, which takes its instance out while the
    /// new one starts; refused when that leaves nothing serving, unless downtime is allowed.
    fn replace_one(&mut self) -> Result<usize, Refusal> {
        let pos = self
            .old
            .iter()
            .position(|s| s.fits_after_stop)
            .expect("capacity was checked before");
        let slot = self.old.remove(pos).expect("position is in range");
        let during = self.serving - usize::from(slot.serving());
        if during == 0 {
            if !self.allow_downtime {
                return Err(Refusal::Downtime {
                    detail: downtime_explanation(self.slots, &slot),
                });
            }
            self.downtime = true;
        }
        self.replaced = true;
        self.serving = during + 1;
        self.push(Action::Replace { slot }, during);
        Ok(1)
    }

    fn retire(&mut self, slots: Vec<Slot>) {
        if slots.is_empty() {
            return;
        }
        self.serving -= slots.iter().filter(|s| s.serving()).count();
        let during = self.serving;
        self.push(Action::Retire { slots }, during);
    }

    /// Registered instances no new task went to, and `unfit` ones (registered, empty, and no
    /// room for the target): deregistered first, as they serve nothing and may get traffic.
    fn deregister_strays(&mut self, unfit: Vec<Slot>) {
        let strays: Vec<Slot> = std::mem::take(&mut self.free)
            .into_iter()
            .filter(|s| s.registered)
            .chain(unfit)
            .collect();
        if strays.is_empty() {
            return;
        }
        let step = Step {
            action: Action::Deregister { slots: strays },
            in_service_during: self.in_service_before,
            in_service_after: self.in_service_before,
        };
        self.steps.insert(0, step);
    }

    fn finish(self, current: usize) -> Plan {
        let only_register = self.steps.iter().all(|s| {
            matches!(
                s.action,
                Action::Register { .. } | Action::Deregister { .. }
            )
        });
        let strategy = if only_register && self.steps.is_empty() {
            Strategy::Nothing
        } else if only_register || (!self.replaced && self.surge >= self.count - current) {
            Strategy::BlueGreen
        } else if self.replaced {
            Strategy::Rolling
        } else {
            Strategy::Surge { surge: self.surge }
        };
        Plan {
            strategy,
            count: self.count,
            steps: self.steps,
            in_service_before: self.in_service_before,
            downtime: self.downtime,
        }
    }
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
pub(crate) mod tests;
