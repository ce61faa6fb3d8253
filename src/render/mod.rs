//! Turning engine events and outcomes into output. Progress goes to stderr (bars on a
//! terminal, plain lines elsewhere); the final result goes to stdout as text or JSON, so
//! `--output json | jq` sees only the document.

pub mod bars;
pub mod diagnosis;
pub mod failure;
pub mod failure_log;
pub mod github;
pub mod history;
pub mod images;
pub mod jsonl;
pub mod lock;
pub mod next;
pub mod oneoff;
pub mod plain;
pub mod prune;
pub mod refusal;
pub mod summary;
pub mod targets;
pub mod timeline;
pub mod watch;

use std::sync::Arc;

use crate::engine::Observer;
use crate::settings::Mode;

/// The progress renderer for a mode.
pub fn progress(mode: Mode) -> Arc<dyn Observer> {
    match mode {
        Mode::Bars => Arc::new(bars::Bars::new()),
        Mode::Plain => Arc::new(plain::Plain::new(false)),
        Mode::GithubActions => Arc::new(plain::Plain::new(true)),
    }
}

/// `12.3s`, `2m 5s`: durations as people read them.
pub fn human(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = d.as_secs();
        format!("{}m {}s", s / 60, s % 60)
    }
}

/// `5m`, `1h 30m`: a limit as it was given.
/// `web-5xx (Threshold Crossed: ...) and web-p99`: alarms with CloudWatch's reason.
pub fn alarms_with_reasons(alarms: &[crate::platform::Alarm]) -> String {
    let each: Vec<String> = alarms
        .iter()
        .map(|a| match &a.reason {
            Some(r) => format!("{} ({r})", a.name),
            None => a.name.clone(),
        })
        .collect();
    each.join(" and ")
}

pub fn human_limit(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}
