//! The engine on the simulated platform (`ecs_roll::sim`), whole deploys under tokio's paused
//! clock: one test binary, one module per mode.
//!
//! * `standalone`: standalone tasks behind a classic ELB (rolling, blue/green, surge, ...);
//! * `service`: ECS services (classic ELB, ALB, Fargate, circuit breaker, ...).

mod mermaid;
mod oneoff;
mod service;
mod standalone;
