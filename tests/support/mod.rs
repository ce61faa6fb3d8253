//! Test harness shared by the integration tests: a private moto_server per test, the
//! reference setup seeded into it, inspection of the resulting AWS state and a
//! load-balancer health sampler. Use it with `#[path = "../support/mod.rs"] mod support;` in
//! the `main.rs` of a test binary (`tests/e2e/`, `tests/contract/`).
//!
//! ```ignore
//! use crate::support::{MotoServer, SeedOptions};
//!
//! let moto = MotoServer::start();
//! let seeded = moto.seed(&SeedOptions::default());
//! let sampler = moto.health_sampler();
//! let out = moto.ecs_roll().args(["deploy", "--image", "rafabor/prototype-4-cb:v0.0.2"]).output().unwrap();
//! let health = sampler.stop();
//! assert!(health.min_in_service >= 2);
//! let state = moto.inspect();
//! ```
//!
//! Needs `python3` with the packages of requirements-test.txt (scripts/test.sh installs
//! them). `$PYTHON` overrides the interpreter.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod moto;

pub use moto::*;
