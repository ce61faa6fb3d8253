//! One line per state change, for CI logs and pipes. In GitHub Actions the phases become
//! collapsible groups and warnings/failures become annotations.

use std::io::Write;
use std::sync::Mutex;

use tokio::time::Instant;

use super::human;
use crate::engine::plan::Plan;
use crate::engine::{Event, Observer};

pub struct Plain {
    start: Instant,
    github: bool,
    in_group: Mutex<bool>,
}

impl Plain {
    pub fn new(github: bool) -> Plain {
        Plain {
            start: Instant::now(),
            github,
            in_group: Mutex::new(false),
        }
    }

    fn line(&self, text: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        for l in text.lines() {
            let _ = writeln!(err, "[{t:7.1}s] {l}");
        }
    }

    fn raw(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

impl Observer for Plain {
    fn event(&self, event: &Event) {
        match event {
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
                if self.github {
                    self.raw(&format!("::warning::{}", escape(w)));
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
            Event::RollbackStarted { reason, to } => {
                if self.github {
                    self.raw(&format!(
                        "::error::deploy failed, rolling back to {to}: {}",
                        escape(reason)
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

/// The text of an event, shared by the plain and the bar renderers.
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::Phase(p) => format!("== {}", p.title()),
        Event::Diff { from, to, text } => format!("task definition changes {from} -> {to}:\n{}", text.trim_end()),
        Event::Plan(plan) => plan_text(plan),
        Event::ServicePlan(plan) => crate::engine::service::plan_text(plan),
        Event::ServiceEvent { at, message } => format!("  event{}: {message}", at.as_deref().map(|a| format!(" {a}")).unwrap_or_default()),
        Event::Revision { name, image, reused: false, previous, .. } => {
            format!("registered {name} ({image}); rollback target: {}", previous.as_deref().map_or("none", short))
        }
        Event::Revision { name, image, reused: true, previous, .. } => {
            format!("using existing identical revision {name} ({image}); rollback target: {}", previous.as_deref().map_or("none", short))
        }
        Event::StepStarted { index, total, title } => format!("step {index}/{total}: {title}"),
        Event::Action { text } => format!("  {text}"),
        Event::WaitStarted { what, limit } => format!("  waiting for {what} (up to {})", human(*limit)),
        Event::WaitProgress { what: _, detail } => format!("    {detail}"),
        Event::WaitFinished { what, took } => format!("  {what}: ok after {}", human(*took)),
        Event::StepFinished { index, total, took } => format!("step {index}/{total} done in {}", human(*took)),
        Event::Warning(w) => format!("warning: {w}"),
        Event::RollbackStarted { reason, to } => format!("FAILED: {reason}\nrolling back to {to}"),
        Event::Interrupting => "interrupt received: finishing the step in progress, then stopping (interrupt again to abort at once)".into(),
        Event::Finished => return None,
    })
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
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
