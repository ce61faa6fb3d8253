//! What a command prints: the error that ended it, its progress, and its outcome.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::cli::OutputFormat;
use crate::engine::outcome::Outcome;
use crate::engine::{Event, Observer};
use crate::error::Error;
use crate::render;
use crate::settings::{Mode, Settings};

pub(super) fn report_error(e: &Error, output: OutputFormat) {
    eprintln!("error: {e}");
    if !e.hint().is_empty() {
        eprintln!("  hint: {}", e.hint());
    }
    if e.nothing_changed() {
        eprintln!("  nothing was changed in AWS");
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        eprintln!(
            "::error::{}",
            render::plain::escape(&format!("{e} ({})", e.hint()))
        );
        // The step outputs and the job summary, on this end too.
        render::github::publish_error(e);
    }
    match output {
        OutputFormat::Json => println!("{}", render::summary::error_json(e)),
        OutputFormat::JsonLines => render::jsonl::result(render::summary::error_json_value(e)),
        OutputFormat::Text => {}
    }
}

/// Prints the outcome (text or JSON on stdout; GitHub outputs and summary) and returns the
/// exit code.
pub fn finish(
    mut outcome: Outcome,
    s: &Settings,
    calls: &ApiCalls,
    observer: &dyn Observer,
) -> i32 {
    observer.event(&Event::Finished);
    outcome.api_calls = calls.snapshot();
    match s.output {
        OutputFormat::Json => println!("{}", render::summary::json(&outcome)),
        OutputFormat::JsonLines => render::jsonl::result(render::summary::json_value(&outcome)),
        OutputFormat::Text => print!("{}", render::summary::text(&outcome)),
    }
    if s.mode == Mode::GithubActions {
        render::github::publish(&outcome);
    }
    outcome.exit_code()
}

/// Progress on stderr; with `--output json-lines` also each event as a line on stdout.
pub fn progress(s: &Settings) -> Arc<dyn Observer> {
    let shown = render::progress(s.mode);
    match s.output {
        OutputFormat::JsonLines => Arc::new(render::jsonl::Both(
            shown,
            Arc::new(render::jsonl::JsonLines::new(None)),
        )),
        _ => shown,
    }
}
