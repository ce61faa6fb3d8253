//! Ctrl-C and SIGTERM while a command runs.

use std::sync::Arc;

use crate::engine::{Cancel, Event, Observer};

/// First Ctrl-C/SIGTERM: finish the step in progress, then stop. Second: exit at once.
pub fn watch_signals(cancel: Cancel, observer: Arc<dyn Observer>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                cancel.request();
                observer.event(&Event::Interrupting);
            } else {
                eprintln!(
                    "second interrupt: aborting at once; run the same command again to resume, or `ecs-roll rollback`"
                );
                // Release the deploy lock (briefly), so the rerun is not blocked by its own lock.
                crate::engine::lock::release_all(std::time::Duration::from_secs(2)).await;
                std::process::exit(crate::error::exit::INTERRUPTED);
            }
        }
    });
}
