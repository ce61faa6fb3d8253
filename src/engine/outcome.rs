//! The result of a run, for renderers (final summary, `--output json`, GitHub step outputs).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::failure::{FailureReport, opt_secs, secs};
use super::plan::Plan;
use super::predict::Prediction;
use crate::error::exit;

/// How long one step took against what was predicted, and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub title: String,
    #[serde(rename = "seconds", with = "secs")]
    pub took: Duration,
    #[serde(rename = "predicted_seconds", with = "opt_secs")]
    pub predicted: Option<Duration>,
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
    #[serde(rename = "seconds", with = "secs")]
    pub duration: Duration,
    /// How long the rollout was expected to take (`predicted_seconds`, `predicted_from`).
    #[serde(flatten)]
    pub predicted: Option<Prediction>,
    pub api_calls: BTreeMap<String, u64>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        self.result.exit_code()
    }

    /// Gives each step its share of the prediction (steps run in plan order).
    pub fn set_steps(&mut self, steps: Vec<StepReport>) {
        self.steps = steps;
        if let Some(p) = &self.predicted {
            for (step, predicted) in self.steps.iter_mut().zip(&p.steps) {
                step.predicted = Some(*predicted);
            }
        }
    }
}
