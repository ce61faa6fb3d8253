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
    /// Every container's image, by container name.
    pub images: BTreeMap<String, String>,
}

/// One container whose image a run changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    pub container: String,
    /// None: the container is new in the target revision.
    pub old: Option<String>,
    pub new: String,
}

/// The containers whose image differs between two task definition documents, by name.
pub fn definition_image_changes(
    from: &serde_json::Value,
    to: &serde_json::Value,
) -> Vec<ImageChange> {
    let images = |td: &serde_json::Value| -> BTreeMap<String, String> {
        td["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["name"].as_str()?.into(), c["image"].as_str()?.into())))
            .collect()
    };
    let info = |images| RevisionInfo {
        arn: String::new(),
        name: String::new(),
        revision: 0,
        image: None,
        images,
    };
    image_changes(Some(&info(images(from))), &info(images(to)))
}

/// The containers whose image differs between what ran and what is rolled out, by name.
pub fn image_changes(previous: Option<&RevisionInfo>, target: &RevisionInfo) -> Vec<ImageChange> {
    target
        .images
        .iter()
        .filter_map(|(container, new)| {
            let old = previous.and_then(|p| p.images.get(container)).cloned();
            (old.as_ref() != Some(new)).then(|| ImageChange {
                container: container.clone(),
                old,
                new: new.clone(),
            })
        })
        .collect()
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
    /// Service mode: the ARN of the service deployment this deploy started, where
    /// DescribeServiceDeployments told it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment_arn: Option<String>,
    /// What went wrong, when the result is not a success: `kind` and the cause's fields
    /// (renderers add the `message`).
    pub failure: Option<FailureReport>,
    pub rollback_failure: Option<FailureReport>,
    /// `--keep-revisions`: the old revisions deregistered after the deploy succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<super::prune::PruneReport>,
    /// `deploy --before`: the command's one-off task (`before` in the outputs, made by
    /// `render::oneoff`).
    #[serde(skip)]
    pub before: Option<super::oneoff::before::BeforeRun>,
    /// Every event of the run with its time (`timeline` in JSON, the charts of the job
    /// summary; made by `render::timeline`). Empty where the run was not recorded.
    #[serde(skip)]
    pub timeline: super::timeline::Timeline,
    /// The failed container's last log lines (`failure.evidence.log`, made by `render`).
    #[serde(skip)]
    pub failure_log: Option<super::failure_log::LogExcerpt>,
    #[serde(rename = "seconds", with = "secs")]
    pub duration: Duration,
    /// How long the rollout was expected to take (`predicted_seconds`, `predicted_from`).
    #[serde(flatten)]
    pub predicted: Option<Prediction>,
    pub api_calls: BTreeMap<String, u64>,
}

impl Outcome {
    /// A run of `command` on a target before it did anything: nothing rolled out, no steps,
    /// no failure. Each run fills in what its preflight found.
    pub fn planned(command: &str, cluster: &str, family: &str, load_balancer: String) -> Outcome {
        Outcome {
            command: command.to_string(),
            result: RunResult::Planned,
            cluster: cluster.to_string(),
            family: family.to_string(),
            load_balancer,
            previous: None,
            target: None,
            plan: None,
            steps: Vec::new(),
            rollback_steps: Vec::new(),
            instances: Vec::new(),
            service: None,
            tasks: Vec::new(),
            service_deployment_arn: None,
            failure: None,
            rollback_failure: None,
            pruned: None,
            before: None,
            timeline: Default::default(),
            failure_log: None,
            duration: Duration::ZERO,
            predicted: None,
            api_calls: BTreeMap::new(),
        }
    }

    /// The result's exit code; a deploy whose `--before` command failed exits with the one-off
    /// code (4), as `ecs-roll run` of that command would.
    pub fn exit_code(&self) -> i32 {
        match (&self.result, self.failure.as_ref().map(|f| &f.cause)) {
            (RunResult::Failed, Some(super::Failure::BeforeFailed(_))) => {
                crate::error::exit::ONE_OFF_FAILED
            }
            (result, _) => result.exit_code(),
        }
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

    /// Each container whose image this run changes (none without a target).
    pub fn image_changes(&self) -> Vec<ImageChange> {
        self.target
            .as_ref()
            .map(|t| image_changes(self.previous.as_ref(), t))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(images: &[(&str, &str)]) -> RevisionInfo {
        RevisionInfo {
            arn: String::new(),
            name: "app:1".into(),
            revision: 1,
            image: None,
            images: images
                .iter()
                .map(|(c, i)| (c.to_string(), i.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_changes_are_the_containers_whose_image_differs_old_and_new() {
        let before = rev(&[("web", "w:1"), ("worker", "k:1"), ("log", "f:1")]);
        let after = rev(&[
            ("web", "w:2"),
            ("worker", "k:2"),
            ("log", "f:1"),
            ("new", "n:1"),
        ]);
        let got: Vec<(String, Option<String>, String)> = image_changes(Some(&before), &after)
            .into_iter()
            .map(|c| (c.container, c.old, c.new))
            .collect();
        let want = [
            ("new", None, "n:1"),
            ("web", Some("w:1"), "w:2"),
            ("worker", Some("k:1"), "k:2"),
        ];
        let want: Vec<(String, Option<String>, String)> = want
            .iter()
            .map(|(c, o, n)| (c.to_string(), o.map(String::from), n.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(image_changes(Some(&before), &before).is_empty());
    }

    #[test]
    fn the_changes_between_two_documents_are_read_from_their_containers() {
        let td = |web: &str, worker: &str| {
            serde_json::json!({"containerDefinitions": [
                {"name": "web", "image": web}, {"name": "worker", "image": worker}
            ]})
        };
        let got = definition_image_changes(&td("w:1", "k:1"), &td("w:1", "k:2"));
        assert_eq!(
            got,
            [ImageChange {
                container: "worker".into(),
                old: Some("k:1".into()),
                new: "k:2".into()
            }]
        );
    }
}
