//! The text of one-off tasks (`ecs-roll run`, `deploy --before`): a line per event while it
//! runs (its log lines as the container wrote them), then the result in text, JSON or GitHub
//! Actions outputs and job summary.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::human;
use crate::engine::oneoff::before::BeforeRun;
use crate::engine::oneoff::{ContainerFailure, End, LogWhere, OneOffEvent, Report, Stop, Why};
use crate::platform::short;

/// The line an event prints on stderr while the task runs; a log line as it is, indented.
pub fn event_line(e: &OneOffEvent) -> String {
    match e {
        OneOffEvent::Started {
            task_arn,
            revision,
            log,
        } => {
            let log = match log {
                LogWhere::Awslogs(src) => format!(
                    "following its log: CloudWatch Logs group {} stream {}",
                    src.group,
                    src.stream(task_arn)
                ),
                LogWhere::Elsewhere {
                    container,
                    log_driver: Some(driver),
                } => format!(
                    "container {container} logs with the {driver} driver: read it there (ecs-roll follows awslogs with a stream prefix)"
                ),
                LogWhere::Elsewhere {
                    container,
                    log_driver: None,
                } => format!(
                    "container {container} has no logConfiguration: its output is on the container instance (docker logs)"
                ),
            };
            format!(
                "one-off task {} of {revision} started; {log}",
                short(task_arn)
            )
        }
        OneOffEvent::Status { status } => format!("one-off task {}", status.as_str()),
        OneOffEvent::Log { message } => format!("  | {message}"),
        OneOffEvent::LogUnreadable { error } => {
            format!("warning: could not read the log (trying again): {error}")
        }
        OneOffEvent::Stopping { why } => match why {
            Stop::TimedOut { limit } => format!(
                "the one-off task ran past --run-timeout {}",
                humantime::format_duration(*limit)
            ),
            Stop::Interrupted => "interrupted".to_string(),
        },
    }
}

/// How it ended, in a sentence.
pub fn ending(r: &Report) -> String {
    let task = short(&r.task_arn);
    match &r.end {
        End::Succeeded => format!(
            "one-off task {task} of {} succeeded in {}: every essential container exited 0",
            r.revision,
            human(r.duration)
        ),
        End::Failed { containers } => {
            let each = container_failures(containers);
            let mut s = format!(
                "one-off task {task} of {} failed after {}: {}",
                r.revision,
                human(r.duration),
                each
            );
            if let Some(stopped) = &r.stopped {
                let code = stopped.stop_code.as_deref().unwrap_or("none");
                let reason = stopped.stopped_reason.as_deref().unwrap_or("none");
                let _ = write!(s, " (stop code {code}, stopped reason: {reason})");
            }
            s
        }
        End::Stopped { why, stopped } => {
            let cause = match why {
                Stop::TimedOut { limit } => format!(
                    "ran past --run-timeout {}",
                    humantime::format_duration(*limit)
                ),
                Stop::Interrupted => "was interrupted".to_string(),
            };
            if *stopped {
                format!(
                    "one-off task {task} of {} {cause}; ecs-roll stopped it",
                    r.revision
                )
            } else {
                format!(
                    "one-off task {task} of {} {cause}; left running (--leave-running): it is {}",
                    r.revision, r.task_arn
                )
            }
        }
    }
}

/// Each essential container that did not exit 0, with why: `container app exited 1: reason`.
pub fn container_failures(containers: &[ContainerFailure]) -> String {
    containers
        .iter()
        .map(|c| {
            let what = match (c.why, c.exit_code) {
                (Why::OutOfMemory, code) => format!(
                    "was killed for its memory use (exit code {})",
                    code.map_or("none".into(), |c| c.to_string())
                ),
                (_, Some(code)) => format!("exited {code}"),
                (_, None) => "never started (no exit code)".to_string(),
            };
            match &c.reason {
                Some(reason) => format!("container {} {what}: {reason}", c.name),
                None => format!("container {} {what}", c.name),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The result on stdout: the sentence, then the last log lines.
pub fn text(r: &Report) -> String {
    let mut s = format!("{}\n", ending(r));
    if !r.succeeded() && !r.last_log_lines.is_empty() {
        let _ = writeln!(s, "last log lines:");
        for l in &r.last_log_lines {
            let _ = writeln!(s, "  | {l}");
        }
    }
    s
}

/// The `before` object of a deploy and the body of `run`'s JSON document.
pub fn json_value(r: &Report) -> Value {
    let exit_codes: serde_json::Map<String, Value> = r
        .exit_codes
        .iter()
        .map(|(name, code)| (name.clone(), json!(code)))
        .collect();
    json!({
        "result": r.result().word(),
        "task_arn": r.task_arn,
        "revision": r.revision,
        "exit_codes": exit_codes,
        "failed_containers": match &r.end {
            End::Failed { containers } => json!(containers),
            _ => json!([]),
        },
        "stop_code": r.stopped.as_ref().and_then(|s| s.stop_code.clone()),
        "stopped_reason": r.stopped.as_ref().and_then(|s| s.stopped_reason.clone()),
        "stopped_by_ecs_roll": match &r.end {
            End::Stopped { why, stopped } => json!({"why": why_word(why), "stopped": stopped}),
            _ => Value::Null,
        },
        "duration_seconds": r.duration.as_secs_f64(),
        "last_log_lines": r.last_log_lines,
        "message": ending(r),
    })
}

fn why_word(why: &Stop) -> &'static str {
    match why {
        Stop::TimedOut { .. } => "timed_out",
        Stop::Interrupted => "interrupted",
    }
}

/// `ecs-roll run --output json`.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(&document(r)).unwrap_or_default()
}

/// The `before` object of a deploy's result: the command, its container, and its task.
pub fn before_json(run: &BeforeRun) -> Value {
    let mut v = json_value(&run.report);
    v["command"] = json!(run.command);
    v["container"] = json!(run.container);
    v
}

/// The name of a one-off task's event, for json-lines.
pub fn event_kind(e: &OneOffEvent) -> &'static str {
    match e {
        OneOffEvent::Started { .. } => "started",
        OneOffEvent::Status { .. } => "status",
        OneOffEvent::Log { .. } => "log",
        OneOffEvent::LogUnreadable { .. } => "log_unreadable",
        OneOffEvent::Stopping { .. } => "stopping",
    }
}

/// The result document of `ecs-roll run` (`--output json`, the last json-lines line).
pub fn document(r: &Report) -> Value {
    let mut v = json_value(r);
    v["command"] = json!("run");
    v["exit_code"] = json!(r.exit_code());
    v
}

/// The step outputs of a one-off task.
pub fn outputs(r: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("result", r.result().word().to_string()),
        ("exit-code", r.exit_code().to_string()),
        ("task-arn", r.task_arn.clone()),
        (
            "exit-codes",
            serde_json::to_string(&json_value(r)["exit_codes"]).unwrap_or_default(),
        ),
        (
            "duration-seconds",
            format!("{:.0}", r.duration.as_secs_f64()),
        ),
    ]
}

/// The job summary of a one-off task: how it ended, each container's exit code, the last
/// log lines.
pub fn summary_markdown(r: &Report) -> String {
    let icon = if r.succeeded() { "✅" } else { "❌" };
    format!(
        "### {icon} ecs-roll run: {}\n\n{}",
        r.result().word(),
        body_markdown(r)
    )
}

/// How the task ended, each container's exit code, the last log lines (for the job summary
/// of `run`, and of a deploy with `--before`).
pub fn body_markdown(r: &Report) -> String {
    let mut s = format!("{}\n\n", ending(r));
    let _ = writeln!(s, "| Container | Exit code |\n|---|---|");
    for (name, code) in &r.exit_codes {
        let code = code.map_or("-".to_string(), |c| c.to_string());
        let _ = writeln!(s, "| `{name}` | {code} |");
    }
    if !r.last_log_lines.is_empty() {
        let _ = writeln!(s, "\n<details><summary>Last log lines</summary>\n\n```");
        for l in &r.last_log_lines {
            let _ = writeln!(s, "{}", l.replace("```", "'''"));
        }
        let _ = writeln!(s, "```\n</details>");
    }
    s
}

/// In GitHub Actions: the outputs, the summary and an annotation when it failed.
pub fn publish(r: &Report) {
    super::github::write_step(&outputs(r), &summary_markdown(r));
    if !r.succeeded() {
        eprintln!("::error::{}", super::plain::escape(&ending(r)));
    }
}
