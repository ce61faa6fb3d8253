//! Contract tests of the real AWS adapters (`ecs_roll::aws`) against a moto_server of each
//! test's own (and a canned-reply stub where moto falls short): one test binary.
//!
//! * `aws`: the standalone-mode adapters (ECS, classic ELB) and `load_sdk_config`;
//! * `aws_services`: the service-mode adapters (`EcsServices`, `TargetGroupsAdapter`).

#[path = "../support/mod.rs"]
mod support;

mod aws;
mod aws_services;
