//! The deploy engine: observes, decides with pure functions (`plan`, `verdict`), acts through
//! the platform traits, waits on tokio time, and reports through typed events.

pub mod context;
pub mod deploy;
pub mod events;
pub mod observe;
pub mod outcome;
pub mod plan;
pub mod rollout;
pub mod verdict;
pub mod wait;

pub use context::{Cancel, Ctx, Timeouts};
pub use deploy::{Desired, Options};
pub use events::{Event, Observer, Phase};
pub use outcome::{Outcome, RunResult};
pub mod lock;
pub mod service;
