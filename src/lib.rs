//! ecs-roll: zero-downtime deploys and rollbacks for Amazon ECS.
//!
//! Layout: `cli` (clap only) -> `settings` (validated, typed) -> `commands` (one module per
//! command) -> `engine` (decides from what it observed) -> `platform` (narrow traits) implemented
//! by `aws` (the SDK) and `sim` (an in-memory ECS + ELB for tests and benchmarks). The engine
//! emits typed events; `render` turns them into terminal bars, plain CI lines or JSON.

pub mod aws;
pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod engine;
pub mod error;
pub mod image;
pub mod platform;
pub mod ratelimit;
pub mod render;
pub mod secrets;
pub mod settings;
pub mod sim;
pub mod suggest;
pub mod taskdef;
