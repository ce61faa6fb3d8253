//! The history of a target, kept in AWS so `ecs-roll history` works from any machine: beside
//! what `history` records when a rollout starts (when, by whom, what ran before), how each run
//! ended, written on the revision it rolled out once it has ended: the command, the result,
//! the strategy and the duration, tied to the rollout's start (`TAG_DEPLOYED_AT`) so a record
//! left by an earlier rollout of the same revision is never taken for this one's. Two small
//! tags (ECS allows 50 per resource, 256 characters per value, and none of `;,()`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::history::{self, TAG_DEPLOYED_AT, TAG_DEPLOYED_BY, TAG_ROLLOUT};
use super::outcome::{Outcome, RunResult};
use super::plan;
use super::wait::with_retry;
use crate::platform::{ApiError, Ecs, Revision};
use crate::taskdef::TaskDefinition;

/// Tag on a revision: how its last rollout ended, `COMMAND RESULT STRATEGY SECONDS STARTED`,
/// e.g. `deploy succeeded rolling 42 2026-01-01T10:00:00.000000001Z`.
pub const TAG_RUN: &str = "ecs-roll:run";
/// Tag on a revision: the commit (`GITHUB_SHA`) its last rollout was made from.
pub const TAG_COMMIT: &str = "ecs-roll:commit";

/// How a run ended, as `TAG_RUN` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub command: String,
    pub result: String,
    pub strategy: String,
    pub duration: Duration,
    /// The `TAG_DEPLOYED_AT` of the rollout it ended.
    pub started: String,
}

impl RunRecord {
    pub fn tag(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.command,
            self.result,
            self.strategy,
            self.duration.as_secs(),
            self.started
        )
    }

    pub fn parse(tag: &str) -> Option<RunRecord> {
        let f: Vec<&str> = tag.split_whitespace().collect();
        let [command, result, strategy, secs, started] = f.as_slice() else {
            return None;
        };
        Some(RunRecord {
            command: command.to_string(),
            result: result.to_string(),
            strategy: strategy.to_string(),
            duration: Duration::from_secs(secs.parse().ok()?),
            started: started.to_string(),
        })
    }
}

/// The tags that record how a rollout that started at `started` ended.
pub fn run_tags(record: &RunRecord, commit: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([(TAG_RUN.to_string(), record.tag())]);
    if let Some(c) = commit {
        tags.insert(TAG_COMMIT.to_string(), c.to_string());
    }
    tags
}

/// The standalone plan's strategy, as the history shows it.
pub fn strategy_word(s: &plan::Strategy) -> &'static str {
    match s {
        plan::Strategy::Nothing => "nothing",
        plan::Strategy::BlueGreen => "blue_green",
        plan::Strategy::Surge { .. } => "surge",
        plan::Strategy::Rolling => "rolling",
    }
}

/// One deploy or rollback ecs-roll made, as `ecs-roll history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// When it started (RFC 3339).
    pub at: String,
    /// `deploy` or `rollback`.
    pub command: String,
    /// `family:revision`.
    pub revision: String,
    /// Container name -> image.
    pub images: BTreeMap<String, String>,
    pub strategy: Option<String>,
    /// succeeded, failed, rolled-back, interrupted; None: not recorded (under way, or the run
    /// was killed).
    pub result: Option<String>,
    pub duration_seconds: Option<u64>,
    pub by: Option<String>,
    pub commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub cluster: String,
    pub family: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub entries: Vec<HistoryEntry>,
    /// Service mode: the deployments ECS reports for the service now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ecs_deployments: Vec<EcsDeployment>,
}

/// One of a service's deployments as ECS reports it.
#[derive(Debug, Serialize)]
pub struct EcsDeployment {
    pub id: String,
    pub status: String,
    pub revision: String,
    pub rollout_state: Option<String>,
    pub created_at: Option<String>,
    /// DescribeServiceDeployments' status, where the endpoint has it.
    pub deployment_status: Option<String>,
}

/// The rollouts recorded on `revisions`, newest first, at most `limit`. A revision holds the
/// record of its last rollout only: one rolled out again shows that one.
pub fn entries(revisions: &[Revision], limit: usize) -> Vec<HistoryEntry> {
    let mut found: Vec<(SystemTime, HistoryEntry)> = revisions
        .iter()
        .filter_map(|r| Some((history::deployed_at(r)?, entry(r)?)))
        .collect();
    found.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    found.into_iter().take(limit).map(|(_, e)| e).collect()
}

fn entry(r: &Revision) -> Option<HistoryEntry> {
    let at = r.tags.get(TAG_DEPLOYED_AT)?.clone();
    // A record of an earlier rollout of this revision says nothing about this one.
    let record = r
        .tags
        .get(TAG_RUN)
        .and_then(|t| RunRecord::parse(t))
        .filter(|rec| rec.started == at);
    let rollout = r.tags.get(TAG_ROLLOUT).map(String::as_str);
    let command = match (&record, rollout) {
        (Some(rec), _) => rec.command.clone(),
        (None, Some("rollback" | "rollback-completed")) => "rollback".into(),
        _ => "deploy".into(),
    };
    let result = match (&record, rollout) {
        (Some(rec), _) => Some(rec.result.clone()),
        (None, Some("rollback-completed")) => Some(RunResult::Succeeded.word().to_string()),
        _ => None,
    };
    let td = TaskDefinition::from_revision(r);
    Some(HistoryEntry {
        at,
        command,
        revision: r.name(),
        images: td
            .container_names()
            .into_iter()
            .filter_map(|c| Some((c.clone(), td.image_of(&c)?.to_string())))
            .collect(),
        strategy: record.as_ref().map(|rec| rec.strategy.clone()),
        result,
        duration_seconds: record.as_ref().map(|rec| rec.duration.as_secs()),
        by: r.tags.get(TAG_DEPLOYED_BY).cloned(),
        commit: record
            .and(r.tags.get(TAG_COMMIT).cloned())
            .filter(|c| !c.is_empty()),
    })
}

/// After a run that changed something, records how it ended on the revision it rolled out
/// (and, when it was rolled back, on the revision it returned to, which the rollback
/// re-recorded as rolled out). Errors are returned for a warning: the run's result stands.
pub async fn record(
    ecs: &dyn Ecs,
    outcome: &Outcome,
    strategy: &str,
    commit: Option<&str>,
) -> Vec<ApiError> {
    let mut errors = Vec::new();
    if outcome.result == RunResult::Planned {
        return errors;
    }
    let Some(target) = outcome.target.as_ref().filter(|t| !t.arn.is_empty()) else {
        return errors;
    };
    let forward: Duration = outcome.steps.iter().map(|s| s.took).sum();
    let back: Duration = outcome.rollback_steps.iter().map(|s| s.took).sum();
    let run = RunRecord {
        command: outcome.command.clone(),
        result: outcome.result.word().to_string(),
        strategy: strategy.to_string(),
        duration: outcome.duration.max(forward + back),
        started: String::new(),
    };
    let started = match tag_run(ecs, &target.arn, run.clone(), commit, None).await {
        Ok(at) => at,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let (RunResult::RolledBack, Some(prev)) = (outcome.result, &outcome.previous) {
        let back_run = RunRecord {
            command: "rollback".into(),
            result: RunResult::Succeeded.word().to_string(),
            duration: back,
            ..run
        };
        if let Err(e) = tag_run(ecs, &prev.arn, back_run, commit, started).await {
            errors.push(e);
        }
    }
    errors
}

/// Tags `arn` with `run`, tied to its recorded start; with `after`, only when that start is
/// later (the revision was re-recorded by this run's rollback). Returns the start.
async fn tag_run(
    ecs: &dyn Ecs,
    arn: &str,
    mut run: RunRecord,
    commit: Option<&str>,
    after: Option<SystemTime>,
) -> Result<Option<SystemTime>, ApiError> {
    let rev = with_retry(|| ecs.describe_task_definition(arn)).await?;
    let (Some(at), Some(text)) = (history::deployed_at(&rev), rev.tags.get(TAG_DEPLOYED_AT)) else {
        return Ok(None);
    };
    if after.is_some_and(|a| at <= a) {
        return Ok(None);
    }
    run.started = text.clone();
    let mut tags = run_tags(&run, commit);
    // An earlier run's commit must not pass for this one's: emptied (ECS allows empty values).
    if commit.is_none() && rev.tags.contains_key(TAG_COMMIT) {
        tags.insert(TAG_COMMIT.to_string(), String::new());
    }
    with_retry(|| ecs.tag_task_definition(arn, &tags)).await?;
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rev(n: i64, tags: &[(&str, &str)]) -> Revision {
        Revision {
            arn: format!("arn:td/app:{n}"),
            family: "app".into(),
            revision: n,
            body: json!({"family": "app", "containerDefinitions": [
                {"name": "web", "image": format!("acme/web:v{n}")}
            ]}),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    const T1: &str = "2026-01-01T10:00:00Z";
    const T2: &str = "2026-01-01T10:05:00.000000001Z";
    const T3: &str = "2026-01-01T11:00:00Z";

    #[test]
    fn a_run_record_reads_back_what_was_written_and_holds_only_allowed_characters() {
        let r = RunRecord {
            command: "deploy".into(),
            result: "rolled-back".into(),
            strategy: "blue_green".into(),
            duration: Duration::from_secs(95),
            started: T2.into(),
        };
        assert_eq!(RunRecord::parse(&r.tag()), Some(r.clone()));
        assert!(
            r.tag()
                .chars()
                .all(|c| c.is_alphanumeric() || " +-=._:/@".contains(c)),
            "{}",
            r.tag()
        );
        assert_eq!(RunRecord::parse("deploy succeeded"), None);
        assert_eq!(RunRecord::parse("deploy succeeded rolling soon T"), None);
    }

    #[test]
    fn the_history_lists_rollouts_newest_first_with_how_each_ended() {
        let revs = [
            // Deployed, then returned to by a rollback that completed but left no record.
            rev(
                1,
                &[
                    (TAG_DEPLOYED_AT, T3),
                    (TAG_DEPLOYED_BY, "bob@laptop (pid 9)"),
                    (TAG_ROLLOUT, "rollback-completed"),
                    (TAG_RUN, "deploy succeeded rolling 30 2025-12-31T00:00:00Z"),
                    (TAG_COMMIT, "old"),
                ],
            ),
            rev(
                2,
                &[
                    (TAG_DEPLOYED_AT, T2),
                    (
                        TAG_DEPLOYED_BY,
                        "octocat in https://github.com/a/b/actions/runs/1",
                    ),
                    (TAG_ROLLOUT, "deploy"),
                    (TAG_RUN, &format!("deploy succeeded rolling 42 {T2}")),
                    (TAG_COMMIT, "abc123"),
                ],
            ),
            // Under way or killed: no record for this rollout.
            rev(3, &[(TAG_DEPLOYED_AT, T1), (TAG_ROLLOUT, "deploy")]),
            // Never rolled out by ecs-roll.
            rev(4, &[]),
        ];
        let got = entries(&revs, 20);
        let rows: Vec<_> = got
            .iter()
            .map(|e| {
                (
                    e.revision.as_str(),
                    e.command.as_str(),
                    e.result.as_deref(),
                    e.strategy.as_deref(),
                    e.duration_seconds,
                    e.commit.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("app:1", "rollback", Some("succeeded"), None, None, None),
                (
                    "app:2",
                    "deploy",
                    Some("succeeded"),
                    Some("rolling"),
                    Some(42),
                    Some("abc123")
                ),
                ("app:3", "deploy", None, None, None, None),
            ]
        );
        assert_eq!(got[1].images["web"], "acme/web:v2");
        assert_eq!(
            got[1].by.as_deref().unwrap(),
            "octocat in https://github.com/a/b/actions/runs/1"
        );
        assert_eq!(entries(&revs, 1).len(), 1);
        assert_eq!(entries(&revs, 1)[0].revision, "app:1");
    }
}
