//! What ecs-roll records on the revisions it rolls out (when, by whom, how many tasks, what ran
//! before) and reads back: which revision it rolled out last, and the task count that rollout
//! wanted. The record lives in AWS, on the revisions, so it survives a crashed or killed run.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::platform::Revision;

/// Tag on a revision: the revision that ran before ecs-roll last rolled this one out.
pub const TAG_PREVIOUS: &str = "ecs-roll:previous";
/// Tag on a revision: when ecs-roll last started rolling it out (RFC 3339).
pub const TAG_DEPLOYED_AT: &str = "ecs-roll:deployed-at";
/// Tag on a revision: how many tasks its last standalone rollout ran.
pub const TAG_COUNT: &str = "ecs-roll:count";
/// Tag on a revision: who last rolled it out.
pub const TAG_DEPLOYED_BY: &str = "ecs-roll:deployed-by";

/// Tag on a revision: what its last rollout was (`RolloutRecord`), so a plain `rollback` run
/// again after one that did not complete finishes it instead of turning around.
pub const TAG_ROLLOUT: &str = "ecs-roll:rollout";

/// What the last rollout of a revision was, as its `TAG_ROLLOUT` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutRecord {
    Deploy,
    /// A rollback ecs-roll has not seen complete: under way, interrupted, failed or killed.
    Rollback,
    /// A rollback that ended with the revision running and healthy everywhere.
    RollbackCompleted,
}

impl RolloutRecord {
    pub fn tag(self) -> &'static str {
        match self {
            RolloutRecord::Deploy => "deploy",
            RolloutRecord::Rollback => "rollback",
            RolloutRecord::RollbackCompleted => "rollback-completed",
        }
    }

    pub fn parse(tag: &str) -> Option<RolloutRecord> {
        [
            RolloutRecord::Deploy,
            RolloutRecord::Rollback,
            RolloutRecord::RollbackCompleted,
        ]
        .into_iter()
        .find(|r| r.tag() == tag)
    }
}

/// The record of a rollout starting now: when (to the nanosecond, so a deploy and the
/// rollback right after it never share an instant), by whom, and how many tasks.
pub fn rollout_tags(
    now: SystemTime,
    actor: &str,
    count: Option<usize>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (
            TAG_DEPLOYED_AT.to_string(),
            humantime::format_rfc3339_nanos(now).to_string(),
        ),
        (TAG_DEPLOYED_BY.to_string(), actor.to_string()),
    ]);
    if let Some(n) = count {
        tags.insert(TAG_COUNT.to_string(), n.to_string());
    }
    tags
}

/// When ecs-roll last started rolling `r` out. Parsed rather than compared as text: records
/// in whole seconds (older ecs-roll) and in nanoseconds do not sort as strings.
pub fn deployed_at(r: &Revision) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(r.tags.get(TAG_DEPLOYED_AT)?).ok()
}

/// The task count recorded on `r`.
pub fn recorded_count(r: &Revision) -> Option<usize> {
    r.tags.get(TAG_COUNT)?.parse().ok()
}

/// Among `candidates`, the revision ecs-roll started rolling out last (None when it rolled
/// out none of them). The candidates are what runs and the family's latest revision: a deploy
/// registers its revision (the latest then) or reuses a running or the latest one, so the one
/// it rolled out is among them even when all its tasks crashed.
pub fn last_rolled_out<'a>(
    candidates: impl IntoIterator<Item = &'a Revision>,
) -> Option<&'a Revision> {
    candidates
        .into_iter()
        .filter_map(|r| Some((deployed_at(r)?, r)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, r)| r)
}

/// The task count the last rollout among `candidates` recorded, if it recorded one.
pub fn last_recorded_count<'a>(
    candidates: impl IntoIterator<Item = &'a Revision>,
) -> Option<usize> {
    candidates
        .into_iter()
        .filter_map(|r| Some((deployed_at(r)?, recorded_count(r)?)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn rev(n: i64, tags: &[(&str, &str)]) -> Revision {
        Revision {
            arn: format!("arn:td/app:{n}"),
            family: "app".into(),
            revision: n,
            body: serde_json::Value::Null,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_last_rollout_is_found_by_its_recorded_instant_not_by_revision_number() {
        const SECONDS: &str = "2026-01-01T10:00:00Z";
        const LATER: &str = "2026-01-01T10:00:00.000000001Z";
        const EARLIER: &str = "2026-01-01T09:59:59.999999999Z";
        // (revisions as (number, deployed-at, count)) -> (last rolled out, its count)
        type Case = (
            &'static [(i64, Option<&'static str>, Option<&'static str>)],
            Option<i64>,
            Option<usize>,
        );
        let cases: &[Case] = &[
            // A rollback re-records an older revision: it is the last one, not the highest.
            (
                &[(1, Some(LATER), Some("3")), (2, Some(SECONDS), Some("2"))],
                Some(1),
                Some(3),
            ),
            // Whole seconds sort before a later instant of the same second ('.' < 'Z' as text).
            (
                &[(1, Some(SECONDS), Some("2")), (2, Some(LATER), Some("3"))],
                Some(2),
                Some(3),
            ),
            (
                &[(1, Some(EARLIER), Some("2")), (2, Some(SECONDS), Some("4"))],
                Some(2),
                Some(4),
            ),
            // Never rolled out by ecs-roll: nothing.
            (&[(1, None, None), (2, None, None)], None, None),
            (
                &[(1, None, Some("5")), (2, Some(SECONDS), Some("2"))],
                Some(2),
                Some(2),
            ),
            // The count is the one the last rollout that recorded a count recorded.
            (
                &[(1, Some(EARLIER), Some("2")), (2, Some(SECONDS), None)],
                Some(2),
                Some(2),
            ),
            (&[], None, None),
        ];
        for (revs, last, count) in cases {
            let revs: Vec<Revision> = revs
                .iter()
                .map(|(n, at, c)| {
                    let mut tags = Vec::new();
                    if let Some(at) = at {
                        tags.push((TAG_DEPLOYED_AT, *at));
                    }
                    if let Some(c) = c {
                        tags.push((TAG_COUNT, *c));
                    }
                    rev(*n, &tags)
                })
                .collect();
            assert_eq!(
                last_rolled_out(&revs).map(|r| r.revision),
                *last,
                "{revs:?}"
            );
            assert_eq!(last_recorded_count(&revs), *count, "{revs:?}");
        }
    }

    #[test]
    fn a_record_reads_back_what_was_written() {
        let at = UNIX_EPOCH + Duration::new(1_800_000_000, 123);
        let tags = rollout_tags(at, "me@host", Some(3));
        let r = rev(
            1,
            &tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        );
        assert_eq!(deployed_at(&r), Some(at));
        assert_eq!(recorded_count(&r), Some(3));
        assert_eq!(r.tags[TAG_DEPLOYED_BY], "me@host");
    }
}
