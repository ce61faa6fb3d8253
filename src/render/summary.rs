//! The final result on stdout: a few lines and a table per instance, or one JSON document.

use std::fmt::Write;

use super::human;
use crate::engine::Failure;
use crate::engine::diagnosis::{diagnose, evidence};
use crate::engine::outcome::{InstanceReport, Outcome, RunResult};

pub fn text(o: &Outcome) -> String {
    let mut s = String::new();
    let changes = o.image_changes();
    let target = o.target.as_ref().map_or("(none)".to_string(), |t| {
        match (&t.image, changes.as_slice()) {
            // Several containers changed (or an unnamed one): each by name.
            (_, [_, _, ..]) | (None, [_]) => {
                let each: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{}={}", c.container, c.new))
                    .collect();
                format!("{} ({})", t.name, each.join(", "))
            }
            (Some(img), _) => format!("{} ({img})", t.name),
            (None, _) => t.name.clone(),
        }
    });
    let headline = match o.result {
        RunResult::Succeeded => match &o.service {
            Some(svc) => format!(
                "{} succeeded: {target} serves every task of service {svc}, healthy in its load balancers",
                o.command
            ),
            None => format!("{} succeeded: {target} serves on every instance", o.command),
        },
        RunResult::Planned => format!("{} planned (dry run, nothing changed): {target}", o.command),
        RunResult::Failed => format!("{} FAILED: {target}", o.command),
        RunResult::RolledBack if o.command == "abort" => format!(
            "abort: ECS rolled {target} back; {} serves every task of service {}, healthy in its load balancers",
            o.previous.as_ref().map_or("?", |p| p.name.as_str()),
            o.service.as_deref().unwrap_or("?")
        ),
        RunResult::RolledBack => format!(
            "{} FAILED and was rolled back to {}",
            o.command,
            o.previous.as_ref().map_or("?", |p| p.name.as_str())
        ),
        RunResult::Interrupted => format!("{} INTERRUPTED: {target}", o.command),
    };
    let _ = writeln!(s, "{headline} ({}{})", human(o.duration), predicted(o));
    if o.target.as_ref().is_some_and(|t| t.images.len() > 1) {
        s.push_str(&image_change_lines(&changes));
    }
    if let Some(run) = &o.before {
        let _ = write!(s, "before: {}", super::oneoff::text(&run.report));
    }
    if let Some(f) = &o.failure {
        let d = diagnose(&f.cause);
        let _ = writeln!(s, "cause: {}", super::failure::report(f));
        let _ = writeln!(s, "diagnosis: {}", super::diagnosis::explanation(&d));
        let _ = writeln!(s, "hint: {}", super::diagnosis::hint(&d));
        if let Some(log) = &o.failure_log {
            s.push_str(&super::failure_log::text(log));
        }
    }
    if let Some(f) = &o.rollback_failure {
        let _ = writeln!(s, "the rollback failed too: {}", super::failure::report(f));
    }
    if let Some(next) = super::next::next_step(o) {
        let _ = writeln!(s, "{next}");
    }
    if o.service.is_some() {
        s.push_str(&tasks_table(&o.tasks));
    } else {
        s.push_str(&instances_table(&o.instances));
    }
    if let Some(p) = &o.pruned {
        s.push_str(&super::prune::text(p));
    }
    s
}

/// `; predicted 6m16s` beside the duration of a run that rolled something out.
pub fn predicted(o: &Outcome) -> String {
    match &o.predicted {
        Some(p) if !o.steps.is_empty() => format!("; predicted {}", human(p.total)),
        _ => String::new(),
    }
}

/// `image web: acme/web:v1 -> acme/web:v2`, one line per changed container.
pub fn image_change_lines(changes: &[crate::engine::outcome::ImageChange]) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "image {}: {} -> {}\n",
                c.container,
                c.old.as_deref().unwrap_or("(new container)"),
                c.new
            )
        })
        .collect()
}

pub fn instances_table(instances: &[InstanceReport]) -> String {
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                i.ec2_instance_id.clone(),
                i.availability_zone.clone().unwrap_or_else(|| "-".into()),
                if i.revisions.is_empty() {
                    "-".into()
                } else {
                    i.revisions.join(",")
                },
                i.task_status.clone().unwrap_or_else(|| "-".into()),
                i.health.clone().unwrap_or_else(|| "not registered".into()),
            ]
        })
        .collect();
    table(
        &["INSTANCE", "ZONE", "REVISION", "TASK", "LOAD BALANCER"],
        &rows,
    )
}

/// Columns as wide as their widest cell, two spaces apart.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    s
}

pub fn json(o: &Outcome) -> String {
    serde_json::to_string_pretty(&json_value(o)).unwrap_or_default()
}

/// The result document of a command that ended in an error (nothing to report but it).
pub fn error_json(e: &crate::error::Error) -> String {
    serde_json::to_string_pretty(&error_json_value(e)).unwrap_or_default()
}

pub fn error_json_value(e: &crate::error::Error) -> serde_json::Value {
    serde_json::json!({
        "result": e.result_word(),
        "exit_code": e.exit_code(),
        "error": e.to_string(),
        "hint": e.hint(),
        "nothing_changed": e.nothing_changed(),
        // What refused the run, as fields (`kind` and the facts), when a check did.
        "refusal": e.refusal(),
    })
}

pub fn json_value(o: &Outcome) -> serde_json::Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    v["exit_code"] = o.exit_code().into();
    // Each container whose image changes, old and new.
    v["images"] = serde_json::to_value(o.image_changes()).unwrap_or_default();
    if let Some(run) = &o.before {
        v["before"] = super::oneoff::before_json(run);
    }
    // Every event with its time, for tools that draw the run.
    v["timeline"] = super::timeline::json(&o.timeline);
    // What to do now, as the text summary says it (every command in it works as printed).
    v["next_step"] = super::next::next_step(o).into();
    // Beside the cause's typed fields, the sentence the text summary prints.
    for (key, f) in [
        ("failure", &o.failure),
        ("rollback_failure", &o.rollback_failure),
    ] {
        if let Some(f) = f {
            v[key]["message"] = super::failure::report(f).into();
            diagnosis_fields(&mut v[key], &f.cause);
        }
    }
    if let (Some(log), Some(_)) = (&o.failure_log, &o.failure) {
        v["failure"]["evidence"]["log"] = super::failure_log::json(log);
    }
    v
}

/// Beside `kind` and `message`: the diagnosis's name in `cause`, its typed fields in
/// `diagnosis`, its sentence in `explanation`, what to do in `hint`, and the evidence.
fn diagnosis_fields(v: &mut serde_json::Value, f: &Failure) {
    let d = diagnose(f);
    v["cause"] = d.kind().into();
    v["explanation"] = super::diagnosis::explanation(&d).into();
    v["hint"] = super::diagnosis::hint(&d).into();
    v["diagnosis"] = serde_json::to_value(&d).unwrap_or_default();
    v["evidence"] = serde_json::to_value(evidence(f)).unwrap_or_default();
}

pub fn tasks_table(tasks: &[crate::engine::outcome::TaskReport]) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.task_id.clone(),
                t.revision.clone(),
                t.last_status.clone(),
                t.host.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["TASK", "REVISION", "STATUS", "HOST"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::outcome::TaskReport;

    #[test]
    fn the_task_table_keeps_its_columns_for_36_character_task_ids() {
        let task = |id: &str, host: &str| TaskReport {
            task_id: id.into(),
            revision: "web:12".into(),
            last_status: "RUNNING".into(),
            host: Some(host.into()),
            health: Vec::new(),
        };
        let text = tasks_table(&[
            // A task id of 36 characters (a UUID, as some tasks have) and one of 32.
            task(
                "5e0a3b7c-9d1f-4c2a-8b6e-0f1e2d3c4b5a",
                "i-0a1b2c3d4e5f67890",
            ),
            task("0123456789abcdef0123456789abcdef", "10.0.1.17"),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        let column = |l: &str, word: &str| l.find(word).unwrap();
        for l in &lines[1..] {
            assert_eq!(column(l, "web:12"), column(lines[0], "REVISION"), "{text}");
            assert_eq!(column(l, "RUNNING"), column(lines[0], "STATUS"), "{text}");
        }
        assert!(
            lines[1].contains("5e0a3b7c-9d1f-4c2a-8b6e-0f1e2d3c4b5a  web:12"),
            "{text}"
        );
    }
}
