//! `ecs-roll status --watch`: the status read again every few seconds and drawn again only
//! when it changed (`render::watch`), until Ctrl-C (exit 130) or, with `--until-stable`, the
//! target is stable (exit 0).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::Aws;
use crate::error::{Error, exit};
use crate::settings::Settings;

/// How often the status is read by default.
pub const EVERY: Duration = Duration::from_secs(2);

pub async fn watch(
    s: &Settings,
    aws: &Aws,
    until_stable: bool,
    every: Duration,
) -> Result<i32, Error> {
    let terminal = std::io::stdout().is_terminal();
    let mut shown: Vec<String> = Vec::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let snapshot = super::status::snapshot(s, aws).await?;
        let frame: Vec<String> = snapshot.text().lines().map(String::from).collect();
        let clock = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let out = crate::render::watch::redraw(&shown, &frame, terminal, &clock);
        if !out.is_empty() {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
            shown = frame;
        }
        if until_stable && snapshot.stable() {
            return Ok(exit::SUCCESS);
        }
        tokio::select! {
            _ = &mut interrupted => return Ok(exit::INTERRUPTED),
            _ = tokio::time::sleep(every) => {}
        }
    }
}
