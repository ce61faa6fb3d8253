//! One line per state change, for CI logs and pipes. In GitHub Actions the phases become
//! collapsible groups and warnings/failures become annotations.

use std::io::Write;
use std::sync::Mutex;

use tokio::time::Instant;

use super::failure::{message, progress, wait};
use super::human;
use crate::engine::plan::Plan;
use crate::engine::plan::notes::Note;
use crate::engine::service::ServicePlan;
use crate::engine::{Action, Event, Observer, Warning};
use crate::platform::{BreakerThreshold, Strategy, short};
use crate::taskdef;

pub struct Plain {
    start: Instant,
    github: bool,
    in_group: Mutex<bool>,
    /// One target of several: its name before every line, and no phase groups (the phases
    /// of many targets interleave).
    target: Option<String>,
}

impl Plain {
    pub fn new(github: bool) -> Plain {
        Plain {
            start: Instant::now(),
            github,
            in_group: Mutex::new(false),
            target: None,
        }
    }

    /// Lines of one target among several, each prefixed with its name.
    pub fn for_target(github: bool, name: &str) -> Plain {
        Plain {
            start: Instant::now(),
            github,
            in_group: Mutex::new(false),
            target: Some(name.to_string()),
        }
    }

    fn prefixed(&self, text: &str) -> String {
        match &self.target {
            Some(name) => format!("[{name}] {text}"),
            None => text.to_string(),
        }
    }

    fn line(&self, text: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        for l in stamped(self.target.as_deref(), t, text) {
            let _ = writeln!(err, "{l}");
        }
    }

    fn raw(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// The lines of `text` as printed `t` seconds in: each starts with its target's name when
/// there are several targets (their lines interleave, and each must be found by its prefix:
/// a diff or a plan spans many), then the time.
fn stamped(target: Option<&str>, t: f64, text: &str) -> Vec<String> {
    let prefix = target.map(|n| format!("[{n}] ")).unwrap_or_default();
    text.lines()
        .map(|l| format!("{prefix}[{t:7.1}s] {l}"))
        .collect()
}

impl Observer for Plain {
    fn event(&self, event: &Event) {
        match event {
            Event::Phase(_) if self.target.is_some() => {}
            Event::Phase(p) => {
                if self.github {
                    let mut g = self.in_group.lock().unwrap_or_else(|e| e.into_inner());
                    if *g {
                        self.raw("::endgroup::");
                    }
                    self.raw(&format!("::group::{}", p.title()));
                    *g = true;
                } else {
                    self.line(&format!("== {}", p.title()));
                }
            }
            Event::Warning(w) => {
                let w = warning(w);
                if self.github {
                    self.raw(&format!("::warning::{}", escape(&self.prefixed(&w))));
                }
                self.line(&format!("warning: {w}"));
            }
            Event::Finished => {
                let mut g = self.in_group.lock().unwrap_or_else(|e| e.into_inner());
                if self.github && *g {
                    self.raw("::endgroup::");
                }
                *g = false;
            }
            Event::Diff { .. } => {
                // The runner must know the secrets before the diff around them is printed.
                if self.github {
                    super::github::mask_diff(event);
                }
                if let Some(text) = describe(event) {
                    self.line(&text);
                }
            }
            Event::RollbackStarted { cause, to, by_ecs } => {
                let reason = message(cause);
                let to = rollback_target(to, by_ecs.as_deref());
                if self.github {
                    self.raw(&format!(
                        "::error::deploy failed, rolling back to {to}: {}",
                        escape(&self.prefixed(&reason))
                    ));
                }
                self.line(&format!("FAILED: {reason}"));
                self.line(&format!("rolling back to {to}"));
            }
            other => {
                if let Some(text) = describe(other) {
                    self.line(&text);
                }
            }
        }
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        if self.github && *self.in_group.lock().unwrap_or_else(|e| e.into_inner()) {
            self.raw("::endgroup::");
        }
    }
}

/// Workflow-command data must not contain raw newlines or '%'.
pub fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

const INTERRUPTING: &str = "interrupt received: finishing the step in progress, then stopping (interrupt again to abort at once)";

/// The text of an event, shared by the plain and the bar renderers.
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::Phase(p) => format!("== {}", p.title()),
        Event::Diff {
            from,
            to,
            from_definition,
            to_definition,
        } => {
            let diff = diff_text(from_definition, to_definition);
            let changes =
                crate::engine::outcome::definition_image_changes(from_definition, to_definition);
            format!(
                "task definition changes {from} -> {to}:\n{}\n{}",
                diff.trim_end(),
                super::summary::image_change_lines(&changes).trim_end()
            )
            .trim_end()
            .to_string()
        }
        Event::Plan(plan) => plan_text(plan),
        Event::ServicePlan(plan) => service_plan_text(plan),
        Event::ServiceEvent { at, message } => {
            let at = at.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
            format!("  event{at}: {message}")
        }
        Event::Revision {
            name,
            image,
            reused,
            previous,
            ..
        } => {
            let image = if image.is_empty() {
                String::new()
            } else {
                format!(" ({image})")
            };
            let what = if *reused {
                "using existing identical revision"
            } else {
                "registered"
            };
            let previous = previous.as_deref().map_or("none", short);
            format!("{what} {name}{image}; rollback target: {previous}")
        }
        Event::StepStarted {
            index,
            total,
            title,
            predicted,
            left,
        } => format!(
            "step {index}/{total}: {title}{}",
            step_expectation(*predicted, *left)
        ),
        Event::Prediction(p) => prediction_text(p),
        Event::Gates { alarms, bake } => gates_text(alarms, *bake),
        Event::Action(a) => format!("  {}", action(a)),
        Event::WaitStarted { what, limit } => {
            format!("  waiting for {} (up to {})", wait(what), human(*limit))
        }
        Event::WaitProgress { progress: p, .. } => format!("    {}", progress(p)),
        Event::WaitFinished { what, took } => {
            format!("  {}: ok after {}", wait(what), human(*took))
        }
        Event::StepFinished { index, total, took } => {
            format!("step {index}/{total} done in {}", human(*took))
        }
        Event::Warning(w) => format!("warning: {}", warning(w)),
        Event::RollbackStarted { cause, to, by_ecs } => {
            let to = rollback_target(to, by_ecs.as_deref());
            format!("FAILED: {}\nrolling back to {to}", message(cause))
        }
        Event::BeforePlanned { command, container } => format!(
            "before the rollout: `{command}` runs in a one-off task of the revision rolled out (container {container}); the rollout starts only if every essential container exits 0"
        ),
        Event::OneOff(e) => super::oneoff::event_line(e),
        Event::BeforeEnded(run) => super::oneoff::ending(&run.report),
        Event::Interrupting => INTERRUPTING.into(),
        Event::Finished => return None,
    })
}

fn rollback_target(to: &str, by_ecs: Option<&str>) -> String {
    match by_ecs {
        Some(id) => format!("{to} (by ECS, deployment {id})"),
        None => to.to_string(),
    }
}

/// A diff event as `ecs-roll diff` prints it: `--- from`, `+++ to`, then the changes.
pub fn unified_diff(event: &Event) -> String {
    match event {
        Event::Diff {
            from,
            to,
            from_definition,
            to_definition,
        } => format!(
            "--- {from}\n+++ {to}\n{}",
            diff_text(from_definition, to_definition).trim_end()
        ),
        _ => String::new(),
    }
}

/// The unified diff of two registerable task definitions, as people read them.
pub fn diff_text(from: &serde_json::Value, to: &serde_json::Value) -> String {
    crate::diff::unified(&taskdef::display(from), &taskdef::display(to))
}

/// A change ecs-roll made, in one line.
pub fn action(a: &Action) -> String {
    match a {
        Action::TaskStarted {
            task,
            revision,
            instance,
        } => format!("started task {} ({revision}) on {instance}", short(task)),
        Action::InstancesRegistered {
            instances,
            load_balancer,
            again: false,
        } => format!("registered {} with {load_balancer}", instances.join(", ")),
        Action::InstancesRegistered {
            instances,
            again: true,
            ..
        } => format!(
            "registered {} again: its task still runs",
            instances.join(", ")
        ),
        Action::StraysDeregistered {
            instances,
            load_balancer,
        } => format!(
            "deregistered {} from {load_balancer}: no task runs behind it",
            instances.join(", ")
        ),
        Action::InstancesDeregistered { instances } => {
            format!("deregistered {} (failed step)", instances.join(", "))
        }
        Action::Draining {
            instances,
            load_balancer,
            timeout,
        } => format!(
            "deregistered {} from {load_balancer}{}",
            instances.join(", "),
            timeout
                .map(|t| format!(" (connection draining up to {})", human(t)))
                .unwrap_or_default()
        ),
        Action::TaskStopped { task } => format!("stopped task {}", short(task)),
        Action::DeploymentStarted {
            deployment,
            revision,
            service,
        } => format!("deployment {deployment} of {revision} started on service {service}"),
        Action::ConfigurationRestored {
            maximum_percent,
            minimum_healthy_percent,
        } => {
            let pct = |v: &Option<i64>| v.map_or("unset".into(), |x| x.to_string());
            format!(
                "restored the deployment configuration {}/{}",
                pct(maximum_percent),
                pct(minimum_healthy_percent)
            )
        }
        Action::ServiceDeploymentStopped {
            service_deployment,
            service,
        } => format!(
            "asked ECS to roll back deployment {service_deployment} of service {service} (StopServiceDeployment)"
        ),
    }
}

/// A warning, in one line.
pub fn warning(w: &Warning) -> String {
    match w {
        Warning::ImageUnchecked { image, lookup } => super::images::found(image, lookup),
        Warning::RegistriesNotAsked { registries } => super::images::not_asked(registries),
        Warning::RollbackNotReady { revision, problem } => format!(
            "{}; the deploy goes on (--require-rollback refuses)",
            super::images::not_ready(revision, problem)
        ),
        Warning::CountBelowRecorded { running, recorded } => format!(
            "{running} task(s) run now, the last deploy ran {recorded}: deploying {recorded} (pass --count to change)"
        ),
        Warning::NotAContainerInstance {
            instance,
            load_balancer,
            cluster,
        } => format!(
            "{instance} is registered with {load_balancer} but is not a container instance of {cluster}"
        ),
        Warning::DeployedTaskStopped { cause } => {
            format!("{}: finishing this step, then stopping", message(cause))
        }
        Warning::StillListedAfterDraining { instances } => format!(
            "connection draining on {}: still listed after the draining timeout; continuing",
            instances.join(", ")
        ),
        Warning::StartTaskAnswerLost { task, instance } => format!(
            "StartTask on {instance} went unanswered; it had started task {}: carrying on with it",
            short(task)
        ),
        Warning::CleanupFailed { cause } => {
            format!("cleaning up the failed step: {}", message(cause))
        }
        Warning::ConfigurationRecordLeft { error } => format!(
            "restored the deployment configuration, but its record stays on the service (the next deploy removes it): {error}"
        ),
        Warning::ConfigurationNotRestored { error } => {
            format!("could not restore the deployment configuration: {error}")
        }
        Warning::FinalStateUnread { error } => format!("could not read the final state: {error}"),
        Warning::Lock(l) => super::lock::warning(l),
        Warning::Plan {
            note,
            load_balancer,
            family,
        } => plan_note(note, load_balancer, family),
        Warning::RollbackCompletionUnrecorded { revision, error } => format!(
            "the rollback to {revision} completed, but recording that failed ({error}): a plain `ecs-roll rollback` would stay on {revision}; pass --to REVISION to go elsewhere"
        ),
        Warning::RollbackNotRecorded { revision, error } => format!(
            "could not record the rollback on {revision} (a later rollback may pick the failed revision; name one with --to): {error}"
        ),
        Warning::TaskDefinition(note) => field_note(note),
        Warning::TimingsNotRecorded { revision, error } => format!(
            "could not record how long the steps took on {revision} (the next deploy predicts its duration from the settings alone): {error}"
        ),
        Warning::Note(text) => text.clone(),
    }
}

fn plan_note(note: &Note, load_balancer: &str, family: &str) -> String {
    match note {
        Note::Reregisters { instances } => format!(
            "{} run(s) the app but is not registered with {load_balancer} (taken out by hand, or by an interrupted run): the deploy registers it again with the new revision's task; deregister it again afterwards if it must stay out",
            instances.join(", ")
        ),
        Note::DeregistersServing { instance } => format!(
            "{instance} is registered with {load_balancer} and InService but runs no task of {family} (something else answers on the port): the plan's first step deregisters it, so {load_balancer} stops sending it the app's traffic"
        ),
    }
}

pub fn plan_text(plan: &Plan) -> String {
    let mut s = format!(
        "plan: {} to {} task(s); {} instance(s) in service now, at least {} throughout",
        plan.strategy,
        plan.count,
        plan.in_service_before,
        plan.min_in_service()
    );
    if plan.downtime {
        s.push_str(" (DOWNTIME accepted with --allow-downtime)");
    }
    for (i, step) in plan.steps.iter().enumerate() {
        s.push_str(&format!(
            "\n  {}. {} [in service: {} during, {} after]",
            i + 1,
            step.title(),
            step.in_service_during,
            step.in_service_after
        ));
    }
    s
}

/// What ecs-roll will do to a service.
pub fn service_plan_text(p: &ServicePlan) -> String {
    let pct = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    let mut s = format!(
        "plan: {} deployment of service {} ({} task(s)); capacity: {}",
        p.strategy.as_str().to_lowercase(),
        p.service,
        p.desired,
        p.capacity
    );
    if let Some(id) = &p.resuming {
        s.push_str(&format!("\n  resuming the watch of deployment {id}"));
    }
    if p.strategy == Strategy::Rolling {
        s.push_str(&format!(
            "\n  deployment configuration: maximumPercent {} / minimumHealthyPercent {}{}",
            p.chosen.maximum_percent,
            p.chosen.minimum_healthy_percent,
            if p.changes_configuration {
                format!(
                    " (now {}/{}; restored afterwards)",
                    pct(p.current.0),
                    pct(p.current.1)
                )
            } else {
                " (unchanged)".to_string()
            }
        ));
        s.push_str(&format!(
            "\n  {} new task(s) at once beside the old ones; at least {} of {} healthy throughout{}",
            p.chosen.surge,
            p.chosen.min_healthy_tasks,
            p.desired,
            if p.chosen.downtime { " (DOWNTIME accepted with --allow-downtime)" } else { "" }
        ));
    }
    if !p.load_balancers.is_empty() {
        s.push_str(&format!(
            "\n  health gates: {}",
            p.load_balancers.join(", ")
        ));
    }
    if !p.shifts.is_empty() {
        s.push_str(&format!(
            "\n  production traffic: {}",
            traffic_shifts(&p.shifts)
        ));
    }
    s.push_str(&format!("\n  ECS's own gates: {}", ecs_gates(p)));
    s
}

/// `10% (10m), then 100% (bake 5m); at least 15m of bakes`: each share of production
/// traffic on the new revision and how long ECS waits after it.
fn traffic_shifts(shifts: &[crate::engine::service::native::Shift]) -> String {
    let share = |t: u32| {
        if t.is_multiple_of(10) {
            format!("{}%", t / 10)
        } else {
            format!("{}.{}%", t / 10, t % 10)
        }
    };
    let last = shifts.len() - 1;
    let each: Vec<String> = shifts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let wait = match (s.bake, i == last) {
                (Some(d), _) if d.is_zero() => "no bake".to_string(),
                (Some(d), true) => format!("bake {}", human(d)),
                (Some(d), false) => human(d),
                (None, true) => "ECS's default bake".to_string(),
                (None, false) => "ECS's default wait".to_string(),
            };
            format!("{} ({wait})", share(s.percent_tenths))
        })
        .collect();
    let known: std::time::Duration = shifts.iter().filter_map(|s| s.bake).sum();
    format!(
        "{}; at least {} of bakes after the new tasks are healthy",
        each.join(", then "),
        human(known)
    )
}

/// How ECS counts the failed tasks that trip the breaker.
pub fn breaker_rule(t: BreakerThreshold) -> String {
    match t {
        BreakerThreshold::DEFAULT => {
            "ECS's default rule: half the desired count, at least 3, at most 200".into()
        }
        BreakerThreshold::Count(n) => format!("threshold COUNT {n}"),
        BreakerThreshold::BoundedPercent(p) => {
            format!(
                "threshold BOUNDED_PERCENT {p}: {p}% of the desired count, at least 3, at most 200"
            )
        }
        BreakerThreshold::UnboundedPercent(p) => {
            format!("threshold UNBOUNDED_PERCENT {p}: {p}% of the desired count")
        }
    }
}

/// The circuit breaker and the deployment alarms, or that ecs-roll's gates are the only ones.
fn ecs_gates(p: &ServicePlan) -> String {
    let mut gates = Vec::new();
    if let Some((true, rollback)) = p.circuit_breaker {
        gates.push(format!(
            "circuit breaker ({}; trips at {} failed task{}, {})",
            if rollback {
                "ECS rolls back"
            } else {
                "ECS stops, no rollback"
            },
            p.breaker_trips_at,
            if p.breaker_trips_at == 1 { "" } else { "s" },
            breaker_rule(p.breaker_threshold),
        ));
    }
    if let Some((names, rollback)) = &p.alarms {
        gates.push(format!(
            "alarm(s) {} ({}{})",
            names.join(", "),
            if *rollback {
                "ECS rolls back when one goes into ALARM"
            } else {
                "ECS fails the deployment when one goes into ALARM"
            },
            if p.sets_alarms {
                "; set for this deploy, the service's own restored afterwards"
            } else {
                ""
            }
        ));
    }
    if gates.is_empty() {
        return "none (no circuit breaker, no deployment alarms): ecs-roll's health gates are the only ones".into();
    }
    gates.join("; ")
}

/// Standalone: the alarms ecs-roll watches and the bake after the last step.
pub fn gates_text(alarms: &[String], bake: std::time::Duration) -> String {
    let mut parts = Vec::new();
    if !alarms.is_empty() {
        parts.push(format!(
            "alarm(s) {} read during every step (ecs-roll rolls back when one goes into ALARM)",
            alarms.join(", ")
        ));
    }
    if !bake.is_zero() {
        parts.push(format!(
            "bake for {} after the last step (the new tasks must keep running{})",
            human(bake),
            if alarms.is_empty() {
                ""
            } else {
                " and the alarms stay out of ALARM"
            }
        ));
    }
    format!("  gates: {}", parts.join("; "))
}

/// ` (about 2m05s; 4m10s left in all)`, or nothing without a prediction.
fn step_expectation(
    predicted: Option<std::time::Duration>,
    left: Option<std::time::Duration>,
) -> String {
    match (predicted, left) {
        (Some(p), Some(l)) => format!(" (about {}; {} left in all)", human(p), human(l)),
        (Some(p), None) => format!(" (about {})", human(p)),
        _ => String::new(),
    }
}

/// `expected to take about 6m16s, as the steps took when cb-prototype:1 was deployed`.
pub fn prediction_text(p: &crate::engine::predict::Prediction) -> String {
    let basis = match &p.learned_from {
        Some(rev) => format!("as its steps took when {rev} was deployed"),
        None => "from the load balancers' health check and draining settings".into(),
    };
    format!("expected to take about {}, {basis}", human(p.total))
}

fn field_note(note: &crate::taskdef::FieldNote) -> String {
    use crate::taskdef::FieldNote;
    match note {
        FieldNote::Unknown(field) => format!(
            "task definition field {field:?} is not known to ecs-roll; it is sent to ECS unchanged"
        ),
        FieldNote::EmptyEnumDropped(field) => format!(
            "task definition field {field:?} is an empty string, which ECS refuses; it is left out, so ECS's default applies"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_a_target_among_several_starts_with_its_name() {
        let diff = "task definition changes web:1 -> web:new:\n@@\n-  \"image\": \"a\"\n+  \"image\": \"b\"";
        let lines = stamped(Some("web"), 1.25, diff);
        assert_eq!(lines.len(), 4);
        for l in &lines {
            assert!(l.starts_with("[web] ["), "{l}");
        }
        assert_eq!(lines[1], "[web] [    1.2s] @@");
        assert_eq!(stamped(None, 0.0, "plan: x"), ["[    0.0s] plan: x"]);
    }
}
