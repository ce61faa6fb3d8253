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
    if output == OutputFormat::Json {
        let doc = serde_json::json!({
            "result": e.result_word(),
            "exit_code": e.exit_code(),
            "error": e.to_string(),
            "hint": e.hint(),
            "nothing_changed": e.nothing_changed(),
            // What refused the run, as fields (`kind` and the facts), when a check did.
            "refusal": e.refusal(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
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
        OutputFormat::Text => print!("{}", render::summary::text(&outcome)),
    }
    if s.mode == Mode::GithubActions {
        render::github::publish(&outcome);
    }
    outcome.exit_code()
}

pub fn progress(s: &Settings) -> Arc<dyn Observer> {
    render::progress(s.mode)
}
