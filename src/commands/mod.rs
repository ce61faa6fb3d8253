//! One module per command. This one runs the command line (loading the settings, then the
//! command) and a command over its targets; what the commands share lives beside it, and is
//! re-exported here: `wiring` (connecting to AWS, the engine's contexts), `signals`
//! (Ctrl-C/SIGTERM), `output` (errors, progress, the outcome), `revisions` (the revision
//! running now, the task definition to deploy).

pub mod abort;
pub mod before;
pub mod completions;
pub mod deploy;
pub mod diff;
pub mod family;
pub mod history;
pub mod matrix;
pub mod multi;
pub mod prune;
pub mod rollback;
pub mod run;
pub mod status;
mod status_service;
pub mod unlock;
pub mod watch;

mod output;
mod revisions;
mod signals;
mod wiring;

pub use output::{finish, progress};
pub use revisions::{
    current_revision, deployable_revision, desired, desired_definition, resolve_revision,
    service_revision,
};
pub use signals::watch_signals;
pub use wiring::{Aws, connect, connect_limited, context, run_engine, service_context};

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::cli::{Cli, Command, OutputFormat};
use crate::config;
use crate::engine::outcome::Outcome;
use crate::engine::{Cancel, Observer};
use crate::error::Error;
use crate::settings::Settings;

/// Runs the command and returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let output = cli.global.output.unwrap_or(OutputFormat::Text);
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            output::report_error(&e, output);
            e.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    let loaded = || {
        let cwd = std::env::current_dir().map_err(|e| {
            Error::usage(
                format!("cannot read the current directory: {e}"),
                "run from an existing directory",
            )
        })?;
        config::load(cli.global.config.as_deref(), &cwd)
    };
    match cli.command {
        Command::Deploy(args) => deploy::run(&cli.global, *args, loaded()?).await,
        Command::Rollback(args) => rollback::run(&cli.global, args, loaded()?).await,
        Command::Abort(args) => abort::run(&cli.global, args, loaded()?).await,
        Command::Run(args) => run::run(&cli.global, args, loaded()?).await,
        Command::Status(args) => status::run(&cli.global, &args, loaded()?).await,
        Command::Diff(args) => diff::run(&cli.global, args, loaded()?).await,
        Command::Unlock(source) => unlock::run(&cli.global, &source, loaded()?).await,
        Command::Prune(args) => prune::run(&cli.global, args, loaded()?).await,
        Command::History(args) => history::run(&cli.global, args, loaded()?).await,
        Command::Matrix => matrix::run(&loaded()?),
        // Generated from the command line alone: no settings, no AWS.
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { dir } => completions::man(dir.as_deref()),
    }
}

/// Runs `one` for the selected target, or for every selected target at once.
pub async fn run_targets<F, Fut>(mut targets: Vec<(String, Settings)>, one: F) -> Result<i32, Error>
where
    F: Fn(Settings, Arc<dyn Observer>, Cancel, Option<Arc<crate::batch::Shared>>) -> Fut,
    Fut: std::future::Future<Output = Result<(Outcome, ApiCalls), Error>> + Send + 'static,
{
    if targets.len() > 1 {
        let counted = move |s, observer, cancel, limiter| {
            let fut = one(s, observer, cancel, limiter);
            async move {
                let (mut o, calls) = fut.await?;
                o.api_calls = calls.snapshot();
                Ok(o)
            }
        };
        return Ok(multi::run(targets, counted).await);
    }
    let (_, s) = targets.remove(0);
    let recording = crate::engine::timeline::Recording::new(progress(&s));
    let observer: Arc<dyn Observer> = recording.clone();
    let cancel = Cancel::default();
    watch_signals(cancel.clone(), observer.clone());
    let (mut outcome, calls) = one(s.clone(), observer.clone(), cancel, None).await?;
    outcome.timeline = recording.timeline();
    Ok(finish(outcome, &s, &calls, observer.as_ref()))
}
