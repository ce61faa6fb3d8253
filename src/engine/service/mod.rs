//! Service mode: deploying an ECS service by UpdateService, watching exactly our deployment
//! (its rollout state, its tasks, and their health in every load balancer of the service),
//! and rolling back when ECS or the evidence says it failed.

pub mod configuration;
pub mod observe;
pub mod run;
pub mod watch;

use std::sync::Arc;

use serde::Serialize;

use super::context::Ctx;
use crate::platform::{EcsServices, TargetGroups};

pub use run::run;

/// A run against one service: the common context plus the service APIs.
pub struct ServiceCtx {
    /// `family` is the service's task definition family; `load_balancer` is unused.
    pub ctx: Ctx,
    pub services: Arc<dyn EcsServices>,
    pub target_groups: Arc<dyn TargetGroups>,
    pub service: String,
}

/// What ecs-roll will do to a service, shown before it does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    pub service: String,
    pub desired: i64,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY.
    pub strategy: String,
    pub current: (Option<i64>, Option<i64>),
    pub chosen: configuration::Choice,
    /// Whether ecs-roll sets the deployment configuration (and restores it afterwards).
    pub changes_configuration: bool,
    pub capacity: String,
    pub load_balancers: Vec<String>,
    /// Resuming the watch of a deployment of the same revision already under way.
    pub resuming: Option<String>,
}

pub fn plan_text(p: &ServicePlan) -> String {
    let pct = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    let mut s = format!(
        "plan: {} deployment of service {} ({} task(s)); capacity: {}",
        p.strategy.to_lowercase(),
        p.service,
        p.desired,
        p.capacity
    );
    if let Some(id) = &p.resuming {
        s.push_str(&format!("\n  resuming the watch of deployment {id}"));
    }
    if p.strategy == "ROLLING" {
        s.push_str(&format!(
            "\n  deployment configuration: maximumPercent {} / minimumHealthyPercent {}{}",
            p.chosen.maximum_percent,
            p.chosen.minimum_healthy_percent,
            if p.changes_configuration {
                format!(
                    " (now {}/{}; restored afterwards)",
                    pct(p.current.0),
                    pct(p.current.1)
                )
            } else {
                " (unchanged)".to_string()
            }
        ));
        s.push_str(&format!(
            "\n  {} new task(s) at once beside the old ones; at least {} of {} healthy throughout{}",
            p.chosen.surge,
            p.chosen.min_healthy_tasks,
            p.desired,
            if p.chosen.downtime { " (DOWNTIME accepted with --allow-downtime)" } else { "" }
        ));
    }
    if !p.load_balancers.is_empty() {
        s.push_str(&format!(
            "\n  health gates: {}",
            p.load_balancers.join(", ")
        ));
    }
    s
}
