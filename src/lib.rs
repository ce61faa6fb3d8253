//! ecs-roll: zero-downtime deploys and rollbacks for Amazon ECS.
//!
//! Layout: `cli` (clap only) -> `settings` (validated, typed) -> `commands` (one module per
//! command) -> `engine` (decides from what it observed) -> `platform` (narrow traits) implemented
//! by `aws` (the SDK) and `sim` (an in-memory ECS + ELB for tests and benchmarks). The engine
//! emits typed events; `render` turns them into terminal bars, plain CI lines or JSON.
//!
//! `sim` is built only with the `sim` feature (and for the library's own unit tests): the
//! integration tests and the benchmark get it through the package's dev-dependency on itself,
//! so the shipped binary does not carry it.

pub mod aws;
pub mod batch;
pub mod changes;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod engine;
pub mod error;
pub mod image;
pub mod overrides;
pub mod platform;
pub mod ratelimit;
pub mod registry;
pub mod render;
pub mod secrets;
pub mod settings;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod suggest;
pub mod taskdef;
