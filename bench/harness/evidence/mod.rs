//! The experiment behind the proposed src/ change "evidence-driven waits" for standalone
//! deploys: `deploy.rs` and `rollout.rs` are copies of src/engine/deploy.rs and
//! src/engine/rollout.rs (paths adjusted, the engine's own types reused) whose waits are
//! changed as described in bench/README.md; `wait.rs` is `wait::until` with a wake-up hint.
//! Running the copy with the engine's own waits gives the engine's numbers exactly, so the
//! before/after difference is the change alone.

// Generated and not committed: rustfmt must not go looking for them on a fresh clone.
#[rustfmt::skip]
#[allow(dead_code, clippy::all)]
mod deploy;
#[rustfmt::skip]
#[allow(dead_code, clippy::all)]
mod rollout;
mod wait;

use ecs_roll::engine::deploy::{Desired, Options};
use ecs_roll::engine::{Ctx, Outcome};
use ecs_roll::error::Error;
use ecs_roll::taskdef::TaskDefinition;

pub async fn deploy(ctx: &Ctx, td: TaskDefinition, opts: &Options) -> Result<Outcome, Error> {
    deploy::run(ctx, Desired::Definition(td), opts).await
}
