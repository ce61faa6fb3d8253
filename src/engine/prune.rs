//! Old revisions: deregistering the family's ACTIVE revisions older than the newest N, after
//! a successful deploy (`--keep-revisions N`) or on demand (`ecs-roll prune --keep N`).
//!
//! Which revisions go is `plan`'s to decide, a pure function of what was listed, what runs
//! anywhere in the cluster, the rollback target and the one-off tags. A revision that cannot
//! be deregistered is a warning in the report, never a failed deploy.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::history::TAG_PREVIOUS;
use super::outcome::{Outcome, RunResult};
use super::wait::with_retry;
use crate::platform::{ApiError, ApiResult, Ecs, EcsServices, short};

/// Tag on a revision registered for a one-off task (`ecs-roll run`): never pruned, whatever
/// its age, since nothing else records that it is still wanted.
pub use super::oneoff::variant::TAG_ONE_OFF;

/// The fewest revisions `--keep-revisions` / `prune --keep` may keep: the one rolled out and
/// one to return to.
pub const MIN_KEEP: usize = 2;

/// Why a revision older than the newest N stays (or, for the newest N, that it is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    /// Among the newest N ACTIVE revisions.
    Newest,
    /// The revision a plain `ecs-roll rollback` returns to.
    RollbackTarget,
    /// A service's deployment or a task of the cluster uses it.
    Running,
    /// Tagged `ecs-roll:one-off`.
    OneOff,
}

impl KeepReason {
    pub fn describe(self) -> &'static str {
        match self {
            KeepReason::Newest => "among the newest",
            KeepReason::RollbackTarget => "the rollback target",
            KeepReason::Running => "runs in the cluster",
            KeepReason::OneOff => "a one-off variant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// `family:revision`.
    pub revision: String,
    pub reason: KeepReason,
}

/// What `plan` decided: newest first in both lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// `family:revision` of each revision to deregister.
    pub deregister: Vec<String>,
    pub kept: Vec<Kept>,
}

/// A revision that could not be deregistered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneFailure {
    pub revision: String,
    pub error: String,
}

/// What a prune did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub family: String,
    pub keep: usize,
    pub dry_run: bool,
    /// Deregistered (with `dry_run`: would be), newest first.
    pub deregistered: Vec<String>,
    pub kept: Vec<Kept>,
    /// Revisions whose deregistration failed: warnings.
    pub failed: Vec<PruneFailure>,
    /// Why nothing was pruned at all (the revisions or the cluster could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The revision number of `family:N` or of an ARN ending in it.
fn number(name: &str) -> Option<i64> {
    short(name).rsplit_once(':')?.1.parse().ok()
}

/// Which of the family's ACTIVE revisions (`listed`, ARNs or `family:N`) go: every one older
/// than the newest `keep`, except the rollback target, one in use anywhere in the cluster
/// (`in_use`, `family:N`) and one tagged one-off (`one_off`, `family:N`).
pub fn plan(
    listed: &[String],
    keep: usize,
    rollback_target: Option<&str>,
    in_use: &BTreeSet<String>,
    one_off: &BTreeSet<String>,
) -> PrunePlan {
    let mut names: Vec<(i64, String)> = listed
        .iter()
        .filter_map(|a| Some((number(a)?, short(a).to_string())))
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.0));
    names.dedup();
    let target = rollback_target.map(short);
    let mut out = PrunePlan::default();
    for (i, (_, name)) in names.into_iter().enumerate() {
        let reason = if i < keep {
            Some(KeepReason::Newest)
        } else if target == Some(name.as_str()) {
            Some(KeepReason::RollbackTarget)
        } else if in_use.contains(&name) {
            Some(KeepReason::Running)
        } else if one_off.contains(&name) {
            Some(KeepReason::OneOff)
        } else {
            None
        };
        match reason {
            Some(reason) => out.kept.push(Kept {
                revision: name,
                reason,
            }),
            None => out.deregister.push(name),
        }
    }
    out
}

/// Whether a run's outcome lets `--keep-revisions` prune: a deploy that succeeded (not a dry
/// run, not a failed or rolled-back one, whose revisions are what a rerun needs).
pub fn prunes_after(outcome: &Outcome) -> bool {
    outcome.result == RunResult::Succeeded
}

/// `--keep-revisions`: after a deploy that succeeded, the prune of its family with its
/// previous revision as the rollback target; None after any other outcome. A prune that could
/// not read what it needs is a report with its `error`: the deploy stays a success.
pub async fn after_deploy(
    ecs: &dyn Ecs,
    services: &dyn EcsServices,
    outcome: &Outcome,
    keep: usize,
) -> Option<PruneReport> {
    if !prunes_after(outcome) {
        return None;
    }
    let family = &outcome.family;
    let failed = |e: ApiError| PruneReport {
        error: Some(e.to_string()),
        ..PruneReport::empty(family, keep, false)
    };
    let target = match (&outcome.previous, &outcome.target) {
        (Some(p), _) => Some(p.name.clone()),
        // A rerun that changed nothing may report no previous: the one recorded on the
        // revision rolled out is what `rollback` returns to. Unknown, nothing is pruned.
        (None, Some(t)) if !t.arn.is_empty() => {
            match with_retry(|| ecs.describe_task_definition(&t.arn)).await {
                Ok(r) => r.tags.get(TAG_PREVIOUS).cloned(),
                Err(e) => return Some(failed(e)),
            }
        }
        (None, _) => None,
    };
    let report = prune(
        ecs,
        services,
        &outcome.cluster,
        family,
        keep,
        target.as_deref(),
        false,
    )
    .await;
    Some(report.unwrap_or_else(failed))
}

impl PruneReport {
    fn empty(family: &str, keep: usize, dry_run: bool) -> PruneReport {
        PruneReport {
            family: family.to_string(),
            keep,
            dry_run,
            deregistered: Vec::new(),
            kept: Vec::new(),
            failed: Vec::new(),
            error: None,
        }
    }
}

/// Lists, judges and (unless `dry_run`) deregisters. An error reading the revisions or the
/// cluster comes before any change; a revision that cannot be deregistered is in `failed`.
pub async fn prune(
    ecs: &dyn Ecs,
    services: &dyn EcsServices,
    cluster: &str,
    family: &str,
    keep: usize,
    rollback_target: Option<&str>,
    dry_run: bool,
) -> ApiResult<PruneReport> {
    let (plan, arns) = decide(ecs, services, cluster, family, keep, rollback_target).await?;
    let mut report = PruneReport::empty(family, keep, dry_run);
    report.kept = plan.kept;
    for name in plan.deregister {
        if !dry_run {
            let arn = arns.get(&name).cloned().unwrap_or_else(|| name.clone());
            if let Err(e) = with_retry(|| ecs.deregister_task_definition(&arn)).await {
                report.failed.push(PruneFailure {
                    revision: name,
                    error: e.to_string(),
                });
                continue;
            }
        }
        report.deregistered.push(name);
    }
    Ok(report)
}

/// The plan, and the ARN of each listed revision by `family:N`.
async fn decide(
    ecs: &dyn Ecs,
    services: &dyn EcsServices,
    cluster: &str,
    family: &str,
    keep: usize,
    rollback_target: Option<&str>,
) -> ApiResult<(PrunePlan, BTreeMap<String, String>)> {
    let listed = with_retry(|| ecs.list_task_definitions(family)).await?;
    let arns: BTreeMap<String, String> = listed
        .iter()
        .map(|a| (short(a).to_string(), a.clone()))
        .collect();
    let in_use = in_use(ecs, services, cluster).await?;
    let first = plan(&listed, keep, rollback_target, &in_use, &BTreeSet::new());
    // Only the revisions that would go are described, for their tags.
    let mut one_off = BTreeSet::new();
    for name in &first.deregister {
        let r = with_retry(|| ecs.describe_task_definition(name)).await?;
        if r.tags.contains_key(TAG_ONE_OFF) {
            one_off.insert(name.clone());
        }
    }
    let plan = plan(&listed, keep, rollback_target, &in_use, &one_off);
    Ok((plan, arns))
}

/// `family:N` of every revision in use anywhere in the cluster: its tasks (standalone or of a
/// service), and every deployment of every service (one scaling up may run no task yet).
async fn in_use(
    ecs: &dyn Ecs,
    services: &dyn EcsServices,
    cluster: &str,
) -> ApiResult<BTreeSet<String>> {
    let mut used: BTreeSet<String> = with_retry(|| ecs.cluster_tasks(cluster))
        .await?
        .iter()
        .map(|t| short(&t.task_definition_arn).to_string())
        .collect();
    let listed = with_retry(|| services.list_services(cluster)).await?;
    // DescribeServices takes at most 10 services a call.
    for batch in listed.chunks(10) {
        for svc in with_retry(|| services.describe_services(cluster, batch)).await? {
            used.insert(short(&svc.task_definition).to_string());
            used.extend(
                svc.deployments
                    .iter()
                    .map(|d| short(&d.task_definition).to_string()),
            );
        }
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_revisions_older_than_the_newest_n_and_not_wanted_for_another_reason_go() {
        let listed: Vec<String> = (1..=6)
            .map(|n| format!("arn:aws:ecs:us-east-1:1:task-definition/app:{n}"))
            .collect();
        use KeepReason::*;
        // (keep, rollback target, in use, one-off) -> (deregistered, kept with reasons)
        type Case = (
            usize,
            Option<&'static str>,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
            &'static [(&'static str, KeepReason)],
        );
        let cases: &[Case] = &[
            (
                2,
                None,
                &[],
                &[],
                &["app:4", "app:3", "app:2", "app:1"],
                &[("app:6", Newest), ("app:5", Newest)],
            ),
            // The rollback target, by name or by ARN, survives however old.
            (
                2,
                Some("app:2"),
                &[],
                &[],
                &["app:4", "app:3", "app:1"],
                &[
                    ("app:6", Newest),
                    ("app:5", Newest),
                    ("app:2", RollbackTarget),
                ],
            ),
            (
                3,
                Some("arn:aws:ecs:us-east-1:1:task-definition/app:1"),
                &["app:3", "web:1"],
                &["app:2"],
                &[],
                &[
                    ("app:6", Newest),
                    ("app:5", Newest),
                    ("app:4", Newest),
                    ("app:3", Running),
                    ("app:2", OneOff),
                    ("app:1", RollbackTarget),
                ],
            ),
            // A newest one that also runs is kept as one of the newest.
            (
                2,
                Some("app:6"),
                &["app:6", "app:1"],
                &[],
                &["app:4", "app:3", "app:2"],
                &[("app:6", Newest), ("app:5", Newest), ("app:1", Running)],
            ),
            (
                10,
                None,
                &[],
                &[],
                &[],
                &[
                    ("app:6", Newest),
                    ("app:5", Newest),
                    ("app:4", Newest),
                    ("app:3", Newest),
                    ("app:2", Newest),
                    ("app:1", Newest),
                ],
            ),
        ];
        for (keep, target, used, one_off, gone, kept) in cases {
            let p = plan(&listed, *keep, *target, &set(used), &set(one_off));
            assert_eq!(
                p.deregister,
                set_vec(gone),
                "keep {keep}, target {target:?}"
            );
            let want: Vec<Kept> = kept
                .iter()
                .map(|(r, reason)| Kept {
                    revision: r.to_string(),
                    reason: *reason,
                })
                .collect();
            assert_eq!(p.kept, want, "keep {keep}, target {target:?}");
        }
        assert_eq!(
            plan(&[], 2, None, &set(&[]), &set(&[])),
            PrunePlan::default()
        );
    }

    fn set_vec(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }
}
