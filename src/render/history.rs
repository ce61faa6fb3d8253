//! `ecs-roll history` as text: one row per deploy or rollback, newest first, then a service's
//! deployments as ECS reports them.

use crate::engine::run_record::History;
use crate::platform::ApiError;

use super::summary::table;

pub fn text(h: &History) -> String {
    let mut out = match &h.service {
        Some(svc) => format!(
            "history of service {svc} (family {}) in cluster {}\n",
            h.family, h.cluster
        ),
        None => format!("history of family {} in cluster {}\n", h.family, h.cluster),
    };
    if h.entries.is_empty() {
        out.push_str("no deploy or rollback recorded by ecs-roll\n");
    } else {
        let rows: Vec<Vec<String>> = h
            .entries
            .iter()
            .map(|e| {
                let dash = || "-".to_string();
                vec![
                    e.at.clone(),
                    e.command.clone(),
                    e.revision.clone(),
                    e.result.clone().unwrap_or_else(|| "unrecorded".into()),
                    e.duration_seconds
                        .map_or_else(dash, |s| super::human(std::time::Duration::from_secs(s))),
                    e.strategy.clone().unwrap_or_else(dash),
                    e.by.clone().unwrap_or_else(dash),
                    e.commit
                        .as_deref()
                        .map_or_else(dash, |c| c.chars().take(12).collect()),
                    e.images
                        .iter()
                        .map(|(c, i)| format!("{c}={i}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "WHEN", "COMMAND", "REVISION", "RESULT", "DURATION", "STRATEGY", "WHO", "COMMIT",
                "IMAGES",
            ],
            &rows,
        ));
    }
    if !h.ecs_deployments.is_empty() {
        out.push_str("deployments ECS reports for the service:\n");
        let rows: Vec<Vec<String>> = h
            .ecs_deployments
            .iter()
            .map(|d| {
                let dash = || "-".to_string();
                vec![
                    d.created_at.clone().unwrap_or_else(dash),
                    d.status.clone(),
                    d.revision.clone(),
                    d.rollout_state.clone().unwrap_or_else(dash),
                    d.deployment_status.clone().unwrap_or_else(dash),
                    d.id.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "CREATED",
                "STATUS",
                "REVISION",
                "ROLLOUT",
                "DEPLOYMENT",
                "ID",
            ],
            &rows,
        ));
    }
    out
}

/// The warning when how a run ended could not be recorded.
pub fn unrecorded(e: &ApiError) -> String {
    format!("warning: how this run ended is not in `ecs-roll history`: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::run_record::HistoryEntry;

    #[test]
    fn the_table_has_a_row_per_rollout_with_who_when_and_how_it_ended() {
        let entry = |cmd: &str, rev: &str, result: Option<&str>| HistoryEntry {
            at: "2026-01-01T10:00:00Z".into(),
            command: cmd.into(),
            revision: rev.into(),
            images: [("web".to_string(), "acme/web:v2".to_string())].into(),
            strategy: Some("rolling".into()),
            result: result.map(String::from),
            duration_seconds: Some(42),
            by: Some("alice@laptop".into()),
            commit: Some("0123456789abcdef".into()),
        };
        let h = History {
            cluster: "c".into(),
            family: "app".into(),
            service: None,
            entries: vec![
                entry("rollback", "app:1", Some("succeeded")),
                entry("deploy", "app:2", None),
            ],
            ecs_deployments: Vec::new(),
        };
        let t = text(&h);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("WHEN"), "{t}");
        assert!(
            lines[2].contains("rollback") && lines[2].contains("app:1"),
            "{t}"
        );
        assert!(
            lines[2].contains("succeeded") && lines[2].contains("42.0s"),
            "{t}"
        );
        assert!(
            lines[2].contains("alice@laptop") && lines[2].contains("0123456789ab "),
            "{t}"
        );
        assert!(lines[2].contains("web=acme/web:v2"), "{t}");
        assert!(lines[3].contains("unrecorded"), "{t}");
    }
}
