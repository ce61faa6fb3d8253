//! Service mode: deploying an ECS service by UpdateService, watching exactly our deployment
//! (its rollout state, its tasks, and their health in every load balancer of the service),
//! and rolling back when ECS or the evidence says it failed.

pub mod configuration;
pub mod watch;
