//! One-off tasks in the simulated world: RunTask with a command override, what each command
//! does (how long it runs, how it exits, what it logs), and the CloudWatch Logs streams the
//! awslogs driver fills, read by GetLogEvents with forward tokens.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::Sim;
use super::task::{Host, Launch};
use super::world::{Fail, World};
use crate::engine::oneoff::LogSource;
use crate::platform::{
    ApiResult, LogEvent, LogPage, LogStreams, OneOffTasks, RunTaskRequest, Task,
};

/// The OOM killer's reason, as ECS reports it on the container.
pub const OUT_OF_MEMORY: &str = "OutOfMemoryError: Container killed due to memory usage";

/// What a one-off command does once its container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Lines it writes to its log, each this long after RUNNING.
    pub logs: Vec<(Duration, String)>,
    /// How it ends: after this long, with this exit code; never when None (it runs until
    /// stopped).
    pub exits: Option<(Duration, i32)>,
    /// Killed for its memory use when it ends (exit 137, OutOfMemoryError).
    pub out_of_memory: bool,
}

impl Command {
    /// Exits with `code` `after` RUNNING, logging nothing.
    pub fn exits(after: Duration, code: i32) -> Command {
        Command {
            logs: Vec::new(),
            exits: Some((after, code)),
            out_of_memory: false,
        }
    }

    /// Runs until it is stopped.
    pub fn runs_forever() -> Command {
        Command {
            logs: Vec::new(),
            exits: None,
            out_of_memory: false,
        }
    }

    /// OOM-killed `after` RUNNING.
    pub fn out_of_memory(after: Duration) -> Command {
        Command {
            out_of_memory: true,
            ..Command::exits(after, 137)
        }
    }

    pub fn logging(mut self, lines: &[(Duration, &str)]) -> Command {
        self.logs = lines.iter().map(|(d, l)| (*d, l.to_string())).collect();
        self
    }
}

#[derive(Debug, Default)]
pub(crate) struct OneOffs {
    /// By the command line, its words joined by spaces; a command not listed exits 0 at once.
    by_command: BTreeMap<String, Command>,
    /// (group, stream) -> events, by the instant they are written.
    streams: BTreeMap<(String, String), Vec<(Instant, String)>>,
    /// Every RunTask request, in order.
    pub requests: Vec<RunTaskRequest>,
}

impl World {
    /// RunTask: one task on the first container instance it fits (EC2), or on Fargate.
    fn run_task(&mut self, r: &RunTaskRequest, now: Instant) -> Result<Task, Fail> {
        self.one_offs.requests.push(r.clone());
        let fargate = r.launch_type.as_deref() == Some("FARGATE");
        let hosts: Vec<String> = if fargate {
            vec![String::new()]
        } else {
            self.cluster(&r.cluster)?
                .instances
                .iter()
                .map(|i| i.arn.clone())
                .collect()
        };
        let mut last = Fail::invalid("RESOURCE:CPU: no container instance in the cluster");
        for host in &hosts {
            let launch = Launch {
                cluster: &r.cluster,
                host: if fargate {
                    Host::Fargate
                } else {
                    Host::Instance(host)
                },
                started_by: Some(&r.started_by),
                group: None,
                start_delay: self.timings.task_start,
                inactive_ok: false,
            };
            match self.launch(&r.task_definition, launch, now) {
                Ok(index) => return Ok(self.command_runs(index, r, now)),
                Err(fail) => last = fail,
            }
        }
        Err(last)
    }

    /// Gives the new task at `index` its command's fate and log.
    fn command_runs(&mut self, index: usize, r: &RunTaskRequest, now: Instant) -> Task {
        let Some(over) = r.overrides.iter().find(|o| o.command.is_some()) else {
            return self.tasks[index].describe(now);
        };
        let line = over.command.clone().unwrap_or_default().join(" ");
        let command = self
            .one_offs
            .by_command
            .get(&line)
            .cloned()
            .unwrap_or_else(|| Command::exits(Duration::ZERO, 0));
        let task = &mut self.tasks[index];
        if let Some((after, code)) = command.exits {
            let reason = command.out_of_memory.then_some(OUT_OF_MEMORY);
            task.exits_after(&over.name, after, code, reason);
        }
        let (arn, running_at) = (task.arn.clone(), task.running_at());
        let revision = self.task_definitions.describe(&r.task_definition).ok();
        let source = revision.and_then(|rev| LogSource::of(&rev.body, &over.name));
        if let (Some(source), Some(running)) = (source, running_at) {
            let stream = self
                .one_offs
                .streams
                .entry((source.group.clone(), source.stream(&arn)))
                .or_default();
            stream.extend(command.logs.iter().map(|(d, l)| (running + *d, l.clone())));
        }
        self.tasks[index].describe(now)
    }

    /// GetLogEvents from the head: the token is the index of the next event.
    fn log_events(
        &self,
        group: &str,
        stream: &str,
        after: Option<&str>,
        now: Instant,
    ) -> Result<LogPage, Fail> {
        // A stream not written yet reads as empty, as the platform trait promises.
        let none = Vec::new();
        let events = self
            .one_offs
            .streams
            .get(&(group.to_string(), stream.to_string()))
            .unwrap_or(&none);
        let from = after
            .and_then(|t| t.strip_prefix("f/"))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let written: Vec<&(Instant, String)> = events.iter().filter(|(at, _)| *at <= now).collect();
        let page: Vec<LogEvent> = written
            .iter()
            .skip(from)
            .map(|(at, message)| LogEvent {
                timestamp: self.elapsed(*at).as_millis() as i64,
                message: message.clone(),
            })
            .collect();
        Ok(LogPage {
            next: Some(format!("f/{}", from + page.len())),
            events: page,
        })
    }
}

impl World {
    /// The last `limit` events written by `now`.
    fn last_log_events(
        &self,
        group: &str,
        stream: &str,
        limit: usize,
        now: Instant,
    ) -> Vec<LogEvent> {
        let none = Vec::new();
        let written: Vec<&(Instant, String)> = self
            .one_offs
            .streams
            .get(&(group.to_string(), stream.to_string()))
            .unwrap_or(&none)
            .iter()
            .filter(|(at, _)| *at <= now)
            .collect();
        let skip = written.len().saturating_sub(limit);
        written
            .into_iter()
            .skip(skip)
            .map(|(at, message)| LogEvent {
                timestamp: self.elapsed(*at).as_millis() as i64,
                message: message.clone(),
            })
            .collect()
    }

    /// What the containers of a task just launched write to their awslogs streams: the lines
    /// set for their image, from the moment the task runs.
    pub(crate) fn write_image_logs(&mut self, index: usize) {
        let task = &self.tasks[index];
        let Some(running) = task.running_at() else {
            return;
        };
        let Ok(revision) = self.task_definitions.describe(&task.task_definition_arn) else {
            return;
        };
        let td = crate::taskdef::TaskDefinition::from_revision(revision);
        let mut writes = Vec::new();
        for name in td.container_names() {
            let image = td.image_of(&name).unwrap_or_default();
            let (Some(lines), Some(source)) = (
                self.images.logs.get(image),
                LogSource::of(&revision.body, &name),
            ) else {
                continue;
            };
            writes.push((
                (source.group.clone(), source.stream(&task.arn)),
                lines.clone(),
            ));
        }
        for (key, lines) in writes {
            let stream = self.one_offs.streams.entry(key).or_default();
            stream.extend(lines.into_iter().map(|l| (running, l)));
        }
    }
}

impl Sim {
    /// Every container of `image` started from now on writes `lines` to its awslogs stream
    /// when it runs (a crashing app's last words).
    pub fn set_image_log(&self, image: &str, lines: &[&str]) {
        self.settled().0.images.logs.insert(
            image.to_string(),
            lines.iter().map(|l| l.to_string()).collect(),
        );
    }

    /// The one-off side (RunTask), for the engine.
    pub fn one_offs(&self) -> std::sync::Arc<dyn OneOffTasks> {
        std::sync::Arc::new(self.clone())
    }

    /// CloudWatch Logs, for the engine.
    pub fn logs(&self) -> std::sync::Arc<dyn LogStreams> {
        std::sync::Arc::new(self.clone())
    }

    /// What one-off tasks started from now on with this command line do.
    pub fn set_command(&self, line: &str, command: Command) {
        self.lock()
            .one_offs
            .by_command
            .insert(line.to_string(), command);
    }

    /// Every RunTask request so far.
    pub fn run_task_requests(&self) -> Vec<RunTaskRequest> {
        self.lock().one_offs.requests.clone()
    }
}

#[async_trait]
impl OneOffTasks for Sim {
    async fn run_task(&self, request: &RunTaskRequest) -> ApiResult<Task> {
        self.change_call("RunTask", |w, now| w.run_task(request, now))
            .await
    }
}

#[async_trait]
impl LogStreams for Sim {
    async fn log_events(
        &self,
        group: &str,
        stream: &str,
        after: Option<&str>,
    ) -> ApiResult<LogPage> {
        self.call("GetLogEvents", |w, now| {
            w.log_events(group, stream, after, now)
        })
        .await
    }

    async fn last_events(
        &self,
        group: &str,
        stream: &str,
        limit: usize,
    ) -> ApiResult<Vec<LogEvent>> {
        self.call("GetLogEvents", |w, now| {
            Ok(w.last_log_events(group, stream, limit, now))
        })
        .await
    }
}
