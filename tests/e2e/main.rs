//! End to end: the real ecs-roll binary (and the scripts around it) against a moto_server of
//! each test's own on 127.0.0.1: one test binary, one module per concern.
//!
//! * `standalone`, `bad_input`, `faults`, `iam`, `secrets`, `signals`: deploys, rollbacks and
//!   the other commands of the reference setup, under bad input, API faults, least
//!   privilege and signals, with no secret in any output;
//! * `services`: service deploys (scheduled by the patched moto), plain and under SIGTERM and
//!   kill -9 at every phase, each followed by a plain rerun;
//! * `github_actions`: the binary as a GitHub Actions step, and action.yml;
//! * `hints`: every command ecs-roll advises after a failure, run as printed; several targets;
//! * `install_script`: scripts/install-ecs-roll.sh (needs no moto);
//! * `testbed`: the test harness itself (moto_server, seeding, inspection, sampler).
//!
//! `harness` holds the helpers these share (running the binary, fingerprints, the loopback
//! proxy); `support` the moto_server harness shared with the contract tests.

#[path = "../support/mod.rs"]
mod support;

mod harness;

#[path = "../engine/mermaid.rs"]
mod mermaid;

mod abort;
mod alarms;
mod bad_input;
mod before;
mod diagnosis;
mod faults;
mod github_actions;
mod hints;
mod iam;
mod images;
mod install_script;
mod json_lines;
mod lock;
mod oneoff;
mod release;
mod revisions;
mod schema;
mod secrets;
mod services;
mod several_targets;
mod signals;
mod standalone;
mod target_flags;
mod taskdefs;
mod testbed;
mod watch;
