//! `deploy --before "CMD"`: the command runs in a one-off task of the revision the deploy
//! rolls out (so a migration runs the new code), under the deploy's lock, and the rollout
//! starts only if every essential container of that task exited 0. Until then the revision
//! carries none of the rollout's record: a failed command leaves it registered, but neither
//! deployed nor recorded as deployed, and the old revision keeps serving.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{
    End, LogSource, LogWhere, OneOffCtx, OneOffError, OneOffEvent, Report, Spec, Stop, variant,
};
use crate::engine::context::Ctx;
use crate::engine::deploy::{self, Options};
use crate::engine::events::{Event, Phase};
use crate::engine::failure::{BeforeFailure, Failure, FailureReport, Interruption};
use crate::engine::outcome::{Outcome, RunResult};
use crate::engine::wait::with_retry;
use crate::error::Error;
use crate::platform::{
    ApiError, ContainerOverride, LogStreams, OneOffTasks, Revision, RunTaskRequest,
};
use crate::taskdef::TaskDefinition;

/// What `--before` runs, and where: everything but the revision, which is the deploy's.
pub struct Before {
    /// The command as typed (for the plan and the outputs) and as its words.
    pub typed: String,
    pub command: Vec<String>,
    /// The container it runs in.
    pub container: String,
    /// Where the task runs: the service's placement, or the cluster's instances
    /// (`task_definition` and `overrides` are filled in for the revision).
    pub placement: RunTaskRequest,
    pub timeout: Duration,
    pub leave_running: bool,
    pub tasks: Arc<dyn OneOffTasks>,
    pub logs: Arc<dyn LogStreams>,
}

impl fmt::Debug for Before {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Before")
            .field("command", &self.typed)
            .field("container", &self.container)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The command's one-off task, for the outcome (`before` in every output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeforeRun {
    pub command: String,
    pub container: String,
    pub report: Report,
}

/// Why the command's task could not be followed to its end (nothing is rolled out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeError {
    /// The one-off variant (a revision without static host ports) could not be registered.
    Variant(ApiError),
    Task(OneOffError),
}

impl Before {
    /// Runs the command in a one-off task of `revision` to its end; its events (start, status,
    /// log lines) are told as `Event::OneOff`.
    pub async fn run(&self, ctx: &Ctx, revision: &Revision) -> Result<BeforeRun, BeforeError> {
        let mut request = self.placement.clone();
        // Off a service's network (awsvpc) a static host port collides with the app's own
        // tasks on every instance: the task runs a variant without port mappings.
        let runs = if request.network.is_none() && variant::needs_variant(revision) {
            with_retry(|| variant::variant(ctx.ecs.as_ref(), revision))
                .await
                .map_err(BeforeError::Variant)?
                .0
        } else {
            revision.clone()
        };
        request.task_definition = runs.arn.clone();
        request.overrides = vec![ContainerOverride {
            name: self.container.clone(),
            command: Some(self.command.clone()),
            environment: Vec::new(),
        }];
        let spec = Spec {
            request,
            revision: revision.name(),
            essential: super::essential_containers(&revision.body),
            log: log_where(revision, &self.container),
            timeout: self.timeout,
            leave_running: self.leave_running,
        };
        let o = OneOffCtx {
            ctx,
            tasks: self.tasks.as_ref(),
            logs: self.logs.as_ref(),
        };
        let emit = |e: &OneOffEvent| ctx.emit(Event::OneOff(e.clone()));
        let report = super::run(&o, &spec, &emit)
            .await
            .map_err(BeforeError::Task)?;
        Ok(BeforeRun {
            command: self.typed.clone(),
            container: self.container.clone(),
            report,
        })
    }
}

/// Where `container` of `revision` logs: its awslogs stream, or what to say instead.
pub fn log_where(revision: &Revision, container: &str) -> LogWhere {
    match LogSource::of(&revision.body, container) {
        Some(src) => LogWhere::Awslogs(src),
        None => LogWhere::Elsewhere {
            container: container.to_string(),
            log_driver: revision.body["containerDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"].as_str() == Some(container))
                .and_then(|c| c["logConfiguration"]["logDriver"].as_str())
                .map(String::from),
        },
    }
}

/// Registers (or reuses) the revision to roll out and, with `--before`, runs the command in it
/// first: the rollout's record goes on the revision only once the command succeeded. Returns
/// the revision to roll out, or None when the command did not succeed (the outcome then says
/// how it ended, and nothing is to roll out).
pub(crate) async fn register(
    ctx: &Ctx,
    reg: Registration<'_>,
    opts: &Options,
    outcome: &mut Outcome,
) -> Result<Option<Revision>, Error> {
    let Some(before) = reg.before else {
        return deploy::record(ctx, reg.existing, reg.td, reg.previous, reg.count, opts)
            .await
            .map(Some);
    };
    let reused = reg.existing.is_some();
    let mut rev = deploy::register_or_tag(ctx, reg.existing, reg.td, &BTreeMap::new()).await?;
    deploy::announce_revision(ctx, &rev, reg.td, reused, reg.previous, opts);
    outcome.target = Some(deploy::info(&rev, opts.container.as_deref()));
    ctx.emit(Event::Phase(Phase::Before));
    let failure = match before.run(ctx, &rev).await {
        Ok(run) => {
            ctx.emit(Event::BeforeEnded(Box::new(run.clone())));
            let failure = failure_of(&run);
            outcome.before = Some(run);
            failure
        }
        Err(BeforeError::Variant(error))
        | Err(BeforeError::Task(OneOffError::NotStarted(error))) => Some(Failure::Api { error }),
        Err(BeforeError::Task(OneOffError::Api { error, .. })) => Some(Failure::Api { error }),
    };
    if let Some(failure) = failure {
        outcome.result = match failure {
            Failure::Interrupted { .. } => RunResult::Interrupted,
            _ => RunResult::Failed,
        };
        outcome.failure = Some(FailureReport::new(None, failure));
        return Ok(None);
    }
    let tags = deploy::rollout_tags(ctx, reg.previous, reg.count, opts);
    with_retry(|| ctx.ecs.tag_task_definition(&rev.arn, &tags))
        .await
        .map_err(Error::from_api_after_change)?;
    rev.tags.extend(tags);
    Ok(Some(rev))
}

/// With the plan: the command that must succeed before the rollout starts.
pub(crate) fn announce(ctx: &Ctx, opts: &Options) {
    if let Some(b) = &opts.before {
        ctx.emit(Event::BeforePlanned {
            command: b.typed.clone(),
            container: b.container.clone(),
        });
    }
}

/// The revision to register or reuse, and what `record` writes on it.
pub(crate) struct Registration<'a> {
    pub existing: Option<Revision>,
    pub td: &'a TaskDefinition,
    pub previous: Option<&'a str>,
    pub count: Option<usize>,
    /// None: no `--before`, or a rerun resuming a rollout it already started.
    pub before: Option<&'a Before>,
}

/// How the command's task ended, as the deploy's failure (None: it succeeded).
pub fn failure_of(run: &BeforeRun) -> Option<Failure> {
    let r = &run.report;
    let (containers, timed_out) = match &r.end {
        End::Succeeded => return None,
        End::Failed { containers } => (containers.clone(), None),
        End::Stopped {
            why: Stop::Interrupted,
            stopped,
        } => {
            return Some(Failure::Interrupted {
                how: Interruption::BeforeRollout {
                    task_arn: r.task_arn.clone(),
                    stopped: *stopped,
                },
            });
        }
        End::Stopped {
            why: Stop::TimedOut { limit },
            ..
        } => (Vec::new(), Some(*limit)),
    };
    Some(Failure::BeforeFailed(Box::new(BeforeFailure {
        command: run.command.clone(),
        revision: r.revision.clone(),
        task_arn: r.task_arn.clone(),
        containers,
        stopped: r.stopped.clone(),
        timed_out,
    })))
}
