//! What the engine tells the world while it works. The engine never formats output: renderers
//! (terminal bars, plain CI lines, JSON, GitHub Actions) turn these events into text.

use std::time::Duration;

use super::failure::Failure;
use super::plan::Plan;
use super::progress::{Progress, Wait};
use super::service::ServicePlan;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A phase of the command began: preflight, register, rollout, rollback, verify.
    Phase(Phase),
    /// The task definition that will be rolled out differs from what runs now: both
    /// registerable documents, for renderers to diff.
    Diff {
        from: String,
        to: String,
        from_definition: serde_json::Value,
        to_definition: serde_json::Value,
    },
    Plan(Plan),
    /// How long the plan's steps and the whole rollout are expected to take.
    Prediction(super::predict::Prediction),
    /// Standalone: what ecs-roll watches besides the tasks, `--alarm` during every step and
    /// `--bake` after the last (only when either is given).
    Gates {
        alarms: Vec<String>,
        bake: Duration,
    },
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
        /// How long the step should take, and the rollout from its start on.
        predicted: Option<Duration>,
        left: Option<Duration>,
    },
    /// One change made in AWS.
    Action(Action),
    WaitStarted {
        what: Wait,
        limit: Duration,
    },
    /// Something the wait is watching changed (emitted once per change, never repeated).
    WaitProgress {
        what: Wait,
        progress: Progress,
    },
    WaitFinished {
        what: Wait,
        took: Duration,
    },
    StepFinished {
        index: usize,
        total: usize,
        took: Duration,
    },
    Warning(Warning),
    RollbackStarted {
        cause: Failure,
        to: String,
        /// ECS rolls back by itself (this deployment); ecs-roll follows it.
        by_ecs: Option<String>,
    },
    /// `deploy --before`: the command that must succeed, in a one-off task of the revision
    /// rolled out, before the rollout starts (told with the plan).
    BeforePlanned {
        command: String,
        container: String,
    },
    /// What the `--before` command's one-off task did: started, its status, its log lines.
    OneOff(super::oneoff::OneOffEvent),
    /// The `--before` command's task ended: the rollout follows only if it succeeded.
    BeforeEnded(Box<super::oneoff::before::BeforeRun>),
    /// Ctrl-C/SIGTERM received; the step in progress is being finished.
    Interrupting,
    /// The command is about to print its result: renderers close groups and clear bars.
    Finished,
}

/// A change ecs-roll made in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    TaskStarted {
        task: String,
        revision: String,
        instance: String,
    },
    InstancesRegistered {
        instances: Vec<String>,
        load_balancer: String,
        /// Registered again after a draining was cut short: its task still runs.
        again: bool,
    },
    /// Deregistered to clean up a failed step (draining deregistrations are `Draining`).
    InstancesDeregistered {
        instances: Vec<String>,
    },
    /// Deregistered because no task of the family runs behind them.
    StraysDeregistered {
        instances: Vec<String>,
        load_balancer: String,
    },
    /// Deregistered so connections drain before the old task stops.
    Draining {
        instances: Vec<String>,
        load_balancer: String,
        timeout: Option<Duration>,
    },
    TaskStopped {
        task: String,
    },
    DeploymentStarted {
        deployment: String,
        revision: String,
        service: String,
    },
    ConfigurationRestored {
        maximum_percent: Option<i64>,
        minimum_healthy_percent: Option<i64>,
    },
    /// `abort`: ECS was asked to roll the service deployment back (StopServiceDeployment).
    ServiceDeploymentStopped {
        service_deployment: String,
        service: String,
    },
}

/// Something worth knowing that does not stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An image the new revision brings that its registry could not vouch for.
    ImageUnchecked {
        image: String,
        lookup: crate::platform::ImageLookup,
    },
    /// A local AWS and no mirror for these registries: their images were not checked.
    RegistriesNotAsked {
        registries: Vec<String>,
    },
    /// The rollback target (what runs now) could not serve a rollback.
    RollbackNotReady {
        revision: String,
        problem: super::images::NotReady,
    },
    /// Fewer tasks run than the last deploy recorded: deploying the recorded count.
    CountBelowRecorded {
        running: usize,
        recorded: usize,
    },
    NotAContainerInstance {
        instance: String,
        load_balancer: String,
        cluster: String,
    },
    /// A task of an earlier step stopped: the step in progress finishes, then the rollout stops.
    DeployedTaskStopped {
        cause: Failure,
    },
    StillListedAfterDraining {
        instances: Vec<String>,
    },
    /// StartTask went unanswered (or failed after it may have run) and the task it started
    /// was found on the instance: the rollout carries on with it instead of a second start.
    StartTaskAnswerLost {
        task: String,
        instance: String,
    },
    CleanupFailed {
        cause: Failure,
    },
    ConfigurationNotRestored {
        error: String,
    },
    /// Restored, but its record could not be removed from the service.
    ConfigurationRecordLeft {
        error: String,
    },
    FinalStateUnread {
        error: String,
    },
    /// About the deploy lock.
    Lock(LockWarning),
    /// What the plan does to the classic ELB beyond its steps.
    Plan {
        note: super::plan::notes::Note,
        load_balancer: String,
        family: String,
    },
    /// A rollback completed, but its record on the revision could not say so.
    RollbackCompletionUnrecorded {
        revision: String,
        error: String,
    },
    /// A rollback succeeded but could not be recorded on the revision it returned to.
    RollbackNotRecorded {
        revision: String,
        error: String,
    },
    /// A deploy succeeded, but how long its steps took could not be recorded on the revision
    /// (the next deploy predicts its duration from the load balancer's settings alone).
    TimingsNotRecorded {
        revision: String,
        error: String,
    },
    /// About the task definition file.
    TaskDefinition(crate::taskdef::FieldNote),
    /// Said by a command, not the engine (for example about the settings it read).
    Note(String),
}

/// What happened to the deploy lock that a user should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockWarning {
    NotReleased {
        error: crate::platform::ApiError,
    },
    /// Another run's lock is there with a heartbeat: waiting up to `window` to see whether
    /// that run renews it.
    Waiting {
        holder: String,
        /// Unix seconds.
        since: u64,
        window: Duration,
    },
    /// The lock of a run that stopped renewing it (crashed) was taken over.
    TakenOver {
        holder: String,
        /// Unix seconds.
        since: u64,
        why: Staleness,
    },
    /// The lock is no longer this run's (`ecs-roll unlock`, or a run that found it stale):
    /// this run stops renewing it. `by`: the run that holds it now.
    Lost {
        by: Option<String>,
    },
    /// A renewal of the lock failed; the next one is tried as planned.
    NotRenewed {
        error: crate::platform::ApiError,
    },
}

/// Why a lock found on the target was stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// Past its expiry (unix seconds).
    Expired { at: u64 },
    /// Its heartbeat stopped long ago (unix seconds, on the holder's clock).
    Abandoned { renewed_at: u64 },
    /// Not renewed while this run watched it for `window`.
    Silent { window: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Preflight,
    Register,
    /// `deploy --before`: the command's one-off task, before the rollout.
    Before,
    Rollout,
    Rollback,
    Verify,
}

impl Phase {
    pub fn title(self) -> &'static str {
        match self {
            Phase::Preflight => "Preflight checks",
            Phase::Register => "Task definition",
            Phase::Before => "Command before the rollout",
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
