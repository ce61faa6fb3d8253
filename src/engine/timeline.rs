//! The events of a run with when each happened: an observer that records them on its way
//! to the one that shows them, for the pictures of a run (`render::timeline`: a Mermaid
//! chart in the job summary) and `timeline` in `--output json`. Time is tokio's (paused in
//! tests), beside the wall clock the run started at.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{Event, Observer};

/// One event, `at` after the run started.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub at: Duration,
    pub event: Event,
}

/// What happened in a run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Wall-clock time of the start (None in tests that build one by hand).
    pub started: Option<SystemTime>,
    pub events: Vec<Timed>,
}

/// Records every event, then tells `inner`.
pub struct Recording {
    inner: Arc<dyn Observer>,
    start: Instant,
    started: SystemTime,
    events: Mutex<Vec<Timed>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn Observer>) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            start: Instant::now(),
            started: SystemTime::now(),
            events: Mutex::new(Vec::new()),
        })
    }

    pub fn timeline(&self) -> Timeline {
        Timeline {
            started: Some(self.started),
            events: self
                .events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

impl Observer for Recording {
    fn event(&self, event: &Event) {
        // Finished is the renderers' cue, not part of the run's story.
        if !matches!(event, Event::Finished) {
            self.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Timed {
                    at: self.start.elapsed(),
                    event: event.clone(),
                });
        }
        self.inner.event(event);
    }
}
