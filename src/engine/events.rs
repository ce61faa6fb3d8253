//! What the engine tells the world while it works. The engine never formats output: renderers
//! (terminal bars, plain CI lines, JSON, GitHub Actions) turn these events into text.

use std::time::Duration;

use super::plan::Plan;
use super::service::ServicePlan;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A phase of the command began: preflight, register, rollout, rollback, verify.
    Phase(Phase),
    /// The task definition that will be registered differs from what runs now.
    Diff {
        from: String,
        to: String,
        text: String,
    },
    Plan(Plan),
    /// Service mode: the deployment configuration ecs-roll will set, and why.
    ServicePlan(ServicePlan),
    /// A service event ECS recorded during the deploy (each printed once).
    ServiceEvent {
        at: Option<String>,
        message: String,
    },
    /// The revision to roll out: newly registered, or an identical one reused.
    Revision {
        name: String,
        arn: String,
        image: String,
        reused: bool,
        previous: Option<String>,
    },
    StepStarted {
        index: usize,
        total: usize,
        title: String,
    },
    /// One change made in AWS (a task started, an instance deregistered, ...).
    Action {
        text: String,
    },
    WaitStarted {
        what: String,
        limit: Duration,
    },
    /// Something the wait is watching changed (printed once per change, never repeated).
    WaitProgress {
        what: String,
        detail: String,
    },
    WaitFinished {
        what: String,
        took: Duration,
    },
    StepFinished {
        index: usize,
        total: usize,
        took: Duration,
    },
    Warning(String),
    RollbackStarted {
        reason: String,
        to: String,
    },
    /// Ctrl-C/SIGTERM received; the step in progress is being finished.
    Interrupting,
    /// The command is about to print its result: renderers close groups and clear bars.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Preflight,
    Register,
    Rollout,
    Rollback,
    Verify,
}

impl Phase {
    pub fn title(self) -> &'static str {
        match self {
            Phase::Preflight => "Preflight checks",
            Phase::Register => "Task definition",
            Phase::Rollout => "Rollout",
            Phase::Rollback => "Rollback",
            Phase::Verify => "Verification",
        }
    }
}

/// Receives the engine's events. Implementations must be cheap: the engine calls them inline.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An observer that keeps every event, for tests.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
