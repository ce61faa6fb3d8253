//! One-off tasks (`ecs-roll run`, `deploy --before`): start one task with a command override,
//! follow its log while it runs, wait for it to stop, and judge it by every essential
//! container's exit code (`verdict`). At `--run-timeout` or on Ctrl-C/SIGTERM the task is
//! stopped with a reason naming ecs-roll, unless `--leave-running`. Waiting uses tokio time
//! only; what happens is told through `OneOffEvent`s and ends in a `Report`, whose text is
//! made in `render::oneoff`.

pub mod before;
mod follow;
pub mod variant;
pub mod verdict;

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use follow::Follower;
pub use follow::LogSource;
pub use verdict::{ContainerFailure, Judgement, Why, essential_containers, judge};

use super::context::Ctx;
use super::failure::StoppedTask;
use super::outcome::RunResult;
use super::wait::with_retry;
use crate::error::exit;
use crate::platform::{ApiError, LogStreams, OneOffTasks, RunTaskRequest, Task, TaskStatus};

/// How many of the last log lines a report keeps (the summary shows them).
pub const LAST_LINES: usize = 20;

/// The platform a one-off task needs besides the common context.
pub struct OneOffCtx<'a> {
    pub ctx: &'a Ctx,
    pub tasks: &'a dyn OneOffTasks,
    pub logs: &'a dyn LogStreams,
}

/// The one-off task to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub request: RunTaskRequest,
    /// `family:revision`, as reports name it.
    pub revision: String,
    /// The task definition's essential containers: their exit codes decide.
    pub essential: Vec<String>,
    /// Where the container logs.
    pub log: LogWhere,
    pub timeout: Duration,
    pub leave_running: bool,
}

/// Where a one-off task's log can be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum LogWhere {
    /// The awslogs driver's CloudWatch Logs stream, followed while the task runs.
    Awslogs(LogSource),
    /// Another log driver (or none): ecs-roll cannot follow it and says so.
    Elsewhere {
        container: String,
        log_driver: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOffEvent {
    Started {
        task_arn: String,
        revision: String,
        log: LogWhere,
    },
    /// The task's last status changed (PROVISIONING, PENDING, RUNNING, ...).
    Status { status: TaskStatus },
    /// A line the container logged, each once and in order.
    Log { message: String },
    /// The log could not be read this time (kept trying).
    LogUnreadable { error: ApiError },
    /// ecs-roll asks ECS to stop the task.
    Stopping { why: Stop },
}

/// Why ecs-roll stopped (or left running) a one-off task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Stop {
    TimedOut { limit: Duration },
    Interrupted,
}

impl Stop {
    /// The reason StopTask records on the task: it names ecs-roll, so whoever reads the
    /// stopped task in the console knows who stopped it.
    pub fn reason(&self) -> String {
        match self {
            Stop::TimedOut { limit } => format!(
                "ecs-roll: the one-off task ran past --run-timeout {}",
                humantime::format_duration(*limit)
            ),
            Stop::Interrupted => "ecs-roll: interrupted (Ctrl-C/SIGTERM)".into(),
        }
    }
}

/// How a one-off task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum End {
    /// Stopped, and every essential container exited 0.
    Succeeded,
    /// Stopped, and these essential containers did not exit 0.
    Failed { containers: Vec<ContainerFailure> },
    /// ecs-roll stopped it (or left it running, `stopped: false`).
    Stopped { why: Stop, stopped: bool },
}

/// What a one-off task did, for every output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub task_arn: String,
    pub revision: String,
    pub end: End,
    /// The task as ECS last described it once stopped: stop code, reason, exit codes.
    pub stopped: Option<StoppedTask>,
    /// Every container's exit code, as ECS reported it (null where none).
    pub exit_codes: Vec<(String, Option<i32>)>,
    pub duration: Duration,
    pub last_log_lines: Vec<String>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.end == End::Succeeded
    }

    /// The result word of the output contract: `succeeded`, `failed` (the one-off task
    /// failed or ran past its timeout) or `interrupted`.
    pub fn result(&self) -> RunResult {
        match &self.end {
            End::Succeeded => RunResult::Succeeded,
            End::Stopped {
                why: Stop::Interrupted,
                ..
            } => RunResult::Interrupted,
            End::Failed { .. } | End::Stopped { .. } => RunResult::Failed,
        }
    }

    /// 0, 4 (the one-off task failed) or 130 (interrupted).
    pub fn exit_code(&self) -> i32 {
        match self.result() {
            RunResult::Succeeded => exit::SUCCESS,
            RunResult::Interrupted => exit::INTERRUPTED,
            _ => exit::ONE_OFF_FAILED,
        }
    }
}

/// Why a one-off task could not be followed to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOffError {
    /// RunTask failed: nothing ran.
    NotStarted(ApiError),
    /// Reading or stopping the task failed after it started.
    Api { task_arn: String, error: ApiError },
}

/// Runs the one-off task to its end.
pub async fn run(
    o: &OneOffCtx<'_>,
    spec: &Spec,
    emit: &(dyn Fn(&OneOffEvent) + Send + Sync),
) -> Result<Report, OneOffError> {
    let started = Instant::now();
    let task = o
        .tasks
        .run_task(&spec.request)
        .await
        .map_err(OneOffError::NotStarted)?;
    emit(&OneOffEvent::Started {
        task_arn: task.arn.clone(),
        revision: spec.revision.clone(),
        log: spec.log.clone(),
    });
    let mut run = Running {
        o,
        arn: task.arn.clone(),
        follower: match &spec.log {
            LogWhere::Awslogs(src) => Some(Follower::new(src, &task.arn)),
            LogWhere::Elsewhere { .. } => None,
        },
        last: VecDeque::new(),
        status: None,
        emit,
    };
    let api = |error| OneOffError::Api {
        task_arn: task.arn.clone(),
        error,
    };
    let end = run
        .until_stopped(started, spec.timeout)
        .await
        .map_err(api)?;
    let (task, end) = match end {
        Ended::Stopped(task) => {
            let end = match judge(&task, &spec.essential) {
                Judgement::Succeeded => End::Succeeded,
                Judgement::Failed { containers } => End::Failed { containers },
            };
            (Some(*task), end)
        }
        Ended::Cut(why) => {
            emit(&OneOffEvent::Stopping { why });
            if spec.leave_running {
                (
                    None,
                    End::Stopped {
                        why,
                        stopped: false,
                    },
                )
            } else {
                let task = run.stop(&why).await.map_err(api)?;
                (task, End::Stopped { why, stopped: true })
            }
        }
    };
    Ok(Report {
        task_arn: run.arn.clone(),
        revision: spec.revision.clone(),
        end,
        stopped: task.as_ref().map(StoppedTask::of),
        exit_codes: task
            .iter()
            .flat_map(|t| &t.containers)
            .map(|c| (c.name.clone(), c.exit_code))
            .collect(),
        duration: started.elapsed(),
        last_log_lines: run.last.into_iter().collect(),
    })
}

enum Ended {
    Stopped(Box<Task>),
    /// The timeout passed or an interrupt came first.
    Cut(Stop),
}

struct Running<'a, 'b> {
    o: &'a OneOffCtx<'b>,
    arn: String,
    follower: Option<Follower>,
    last: VecDeque<String>,
    status: Option<TaskStatus>,
    emit: &'a (dyn Fn(&OneOffEvent) + Send + Sync),
}

impl Running<'_, '_> {
    /// Follows the task until it is STOPPED, `deadline` passes or an interrupt comes. The
    /// interval is the poll's: short after a change (a status, new log lines), growing while
    /// nothing changes.
    async fn until_stopped(
        &mut self,
        started: Instant,
        limit: Duration,
    ) -> Result<Ended, ApiError> {
        let deadline = started + limit;
        let poll = self.o.ctx.poll;
        let mut interval = poll.min;
        loop {
            let changed = self.read_log().await;
            let task = self.describe().await?;
            let changed = changed | self.saw(&task);
            if task.last_status == TaskStatus::Stopped {
                // What the container wrote just before it exited.
                self.read_log().await;
                return Ok(Ended::Stopped(Box::new(task)));
            }
            if self.o.ctx.cancel.requested() {
                return Ok(Ended::Cut(Stop::Interrupted));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Ended::Cut(Stop::TimedOut { limit }));
            }
            interval = if changed {
                poll.min
            } else {
                interval.mul_f64(1.5).min(poll.max)
            };
            // Woken early by an interrupt: checked every poll.min at most.
            let until = (now + interval).min(deadline);
            while Instant::now() < until && !self.o.ctx.cancel.requested() {
                tokio::time::sleep_until(until.min(Instant::now() + poll.min)).await;
            }
        }
    }

    /// StopTask, then the task once STOPPED (bounded by the stop timeout; None past it).
    async fn stop(&mut self, why: &Stop) -> Result<Option<Task>, ApiError> {
        let ctx = self.o.ctx;
        let reason = why.reason();
        with_retry(|| ctx.ecs.stop_task(&ctx.cluster, &self.arn, &reason)).await?;
        let limit = Instant::now() + ctx.timeouts.task_stop;
        while Instant::now() < limit {
            let task = self.describe().await?;
            self.saw(&task);
            if task.last_status == TaskStatus::Stopped {
                self.read_log().await;
                return Ok(Some(task));
            }
            tokio::time::sleep(ctx.poll.min).await;
        }
        Ok(None)
    }

    async fn describe(&self) -> Result<Task, ApiError> {
        let ctx = self.o.ctx;
        let arns = [self.arn.clone()];
        let found = with_retry(|| ctx.ecs.describe_tasks(&ctx.cluster, &arns)).await?;
        found.into_iter().next().ok_or_else(|| {
            ApiError::new(
                "DescribeTasks",
                crate::platform::ApiErrorKind::NotFound,
                format!("task {} is gone", self.arn),
            )
        })
    }

    /// Emits a status change; whether there was one.
    fn saw(&mut self, task: &Task) -> bool {
        if self.status.as_ref() == Some(&task.last_status) {
            return false;
        }
        self.status = Some(task.last_status.clone());
        (self.emit)(&OneOffEvent::Status {
            status: task.last_status.clone(),
        });
        true
    }

    /// Reads the log on from where it was; whether there were new lines.
    async fn read_log(&mut self) -> bool {
        let Some(follower) = self.follower.as_mut() else {
            return false;
        };
        match follower.read(self.o.logs).await {
            Ok(lines) => {
                for message in &lines {
                    (self.emit)(&OneOffEvent::Log {
                        message: message.clone(),
                    });
                    if self.last.len() == LAST_LINES {
                        self.last.pop_front();
                    }
                    self.last.push_back(message.clone());
                }
                !lines.is_empty()
            }
            Err(error) => {
                (self.emit)(&OneOffEvent::LogUnreadable { error });
                false
            }
        }
    }
}
