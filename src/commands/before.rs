//! `deploy --before "CMD"` (config `before`): what the engine needs to run the command in a
//! one-off task of the revision it rolls out (`engine::oneoff::before`), checked before
//! anything changes: the command's words, the container it runs in, where the task runs.

use std::sync::Arc;

use super::Aws;
use super::run::{described_service, one_off_limits, pick_container, placement};
use crate::cli::Deploy;
use crate::engine::Desired;
use crate::engine::oneoff::before::Before;
use crate::error::Error;
use crate::overrides::parse_command;
use crate::settings::Settings;

/// `--before` (or `before` of the config) as typed, as words, and its limits; None without
/// one. An empty command, an unclosed quote or a bad `--run-timeout` is refused before AWS
/// is asked anything.
pub fn command(s: &Settings, args: &Deploy) -> Result<Option<Command>, Error> {
    let (typed, flag) = match (&args.before, &s.config.config.before) {
        (Some(c), _) => (c.clone(), "--before"),
        (None, Some(c)) => (c.clone(), "`before` in ecs-roll.toml, e.g. before ="),
        (None, None) => return Ok(None),
    };
    let words = parse_command(&typed, flag)?;
    let (timeout, leave_running) = one_off_limits(&args.one_off)?;
    Ok(Some(Command {
        typed,
        words,
        timeout,
        leave_running,
    }))
}

/// A checked `--before`.
#[derive(Debug, Clone)]
pub struct Command {
    typed: String,
    words: Vec<String>,
    timeout: std::time::Duration,
    leave_running: bool,
}

/// The `--before` the engine runs for this target's `desired` definition; `changed` are the
/// containers whose image the release changes. Reads the service (its placement) but
/// changes nothing.
pub async fn prepare(
    s: &Settings,
    aws: &Aws,
    args: &Deploy,
    command: Command,
    desired: &Desired,
    changed: &[String],
) -> Result<Arc<Before>, Error> {
    let (what, body) = match desired {
        Desired::Definition(td) => (format!("{}:new", td.family()), td.to_json()),
        Desired::Revision(r) => (r.name(), r.body.clone()),
    };
    let named = args
        .before_container
        .as_deref()
        .or(match changed {
            [one] => Some(one.as_str()),
            _ => None,
        })
        .or(s.container.as_deref());
    let container = pick_container(&what, &body, named).map_err(|e| {
        Error::usage(
            format!("--before: {e}"),
            e.hint().replace("--container", "--before-container"),
        )
    })?;
    let service = match s.target.service() {
        Some(name) => Some(described_service(s, aws, name).await?),
        None => None,
    };
    Ok(Arc::new(Before {
        typed: command.typed,
        command: command.words,
        container,
        placement: placement(s, service.as_ref(), "ecs-roll/before"),
        timeout: command.timeout,
        leave_running: command.leave_running,
        tasks: aws.one_offs.clone(),
        logs: aws.logs.clone(),
    }))
}
