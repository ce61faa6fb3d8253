//! The result of a run, for renderers (final summary, `--output json`, GitHub step outputs).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::failure::{FailureReport, secs};
use super::plan::Plan;
use crate::error::exit;

/// How long one step took, and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub title: String,
    #[serde(with = "secs")]
    pub took: Duration,
    pub ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    Succeeded,
    /// Nothing changed: --dry-run.
    Planned,
    Failed,
    RolledBack,
    Interrupted,
}

impl RunResult {
    pub fn exit_code(self) -> i32 {
        match self {
            RunResult::Succeeded | RunResult::Planned => exit::SUCCESS,
            RunResult::Failed => exit::FAILURE,
            RunResult::RolledBack => exit::ROLLED_BACK,
            RunResult::Interrupted => exit::INTERRUPTED,
        }
    }

    /// The word every output uses: JSON `result`, step outputs, summaries, annotations.
    pub fn word(self) -> &'static str {
        match self {
            RunResult::Succeeded => "succeeded",
            RunResult::Planned => "planned",
            RunResult::Failed => "failed",
            RunResult::RolledBack => "rolled-back",
            RunResult::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionInfo {
    pub arn: String,
    /// `family:revision`.
    pub name: String,
    pub revision: i64,
    /// The image of the deployed container.
    pub image: Option<String>,
}

/// Where one container instance stands at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceReport {
    pub ec2_instance_id: String,
    pub availability_zone: Option<String>,
    /// `family:revision` of each task of the family running there.
    pub revisions: Vec<String>,
    pub task_status: Option<String>,
    /// InService / OutOfService / Unknown, or None when not registered.
    pub health: Option<String>,
}

/// Where one task of a service stands at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    pub task_id: String,
    /// `family:revision`.
    pub revision: String,
    pub last_status: String,
    /// The EC2 instance or the IP address it runs on.
    pub host: Option<String>,
    /// `load balancer: state` for each load balancer of the service.
    pub health: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub command: String,
    pub result: RunResult,
    pub cluster: String,
    pub family: String,
    pub load_balancer: String,
    /// The revision that ran before (the rollback target).
    pub previous: Option<RevisionInfo>,
    /// The revision rolled out.
    pub target: Option<RevisionInfo>,
    pub plan: Option<Plan>,
    pub steps: Vec<StepReport>,
    pub rollback_steps: Vec<StepReport>,
    pub instances: Vec<InstanceReport>,
    /// Service mode: the service, and where each of its tasks stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskReport>,
    /// What went wrong, when the result is not a success: `kind` and the cause's fields
    /// (renderers add the `message`).
    pub failure: Option<FailureReport>,
    pub rollback_failure: Option<FailureReport>,
    /// `--keep-revisions`: the old revisions deregistered after the deploy succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<super::prune::PruneReport>,
    #[serde(with = "secs")]
    pub duration: Duration,
    pub api_calls: BTreeMap<String, u64>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        self.result.exit_code()
    }
}
