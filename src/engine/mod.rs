//! The deploy engine: observes, decides with pure functions (`plan`, `verdict`), acts through
//! the platform traits, waits on tokio time, and reports through typed events.

pub mod alarms;
pub mod context;
pub mod deploy;
pub mod diagnosis;
pub mod events;
pub mod failure;
pub mod failure_log;
pub mod gate;
pub mod history;
pub mod images;
pub mod observe;
pub mod outcome;
pub mod plan;
pub mod predict;
pub mod progress;
pub mod prune;
pub mod refusal;
pub mod rollback;
pub mod rollout;
pub mod run_record;
pub mod skeleton;
pub mod timeline;
pub mod verdict;
pub mod wait;

pub use context::{Cancel, Ctx, StandaloneCtx, Timeouts};
pub use deploy::{Desired, Options};
pub use events::{Action, Event, Observer, Phase, Warning};
pub use failure::{Failure, FailureReport};
pub use outcome::{Outcome, RunResult};
pub use progress::{Progress, Wait};
pub mod lock;
pub mod oneoff;
pub mod service;
