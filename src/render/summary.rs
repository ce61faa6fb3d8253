//! The final result on stdout: a few lines and a table per instance, or one JSON document.

use std::fmt::Write;

use super::human;
use crate::engine::Failure;
use crate::engine::diagnosis::{diagnose, evidence};
use crate::engine::outcome::{InstanceReport, Outcome, RunResult};

pub fn text(o: &Outcome) -> String {
    let mut s = String::new();
    let target = o
        .target
        .as_ref()
        .map_or("(none)".to_string(), |t| match &t.image {
            Some(img) => format!("{} ({img})", t.name),
            None => t.name.clone(),
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
        RunResult::RolledBack => format!(
            "{} FAILED and was rolled back to {}",
            o.command,
            o.previous.as_ref().map_or("?", |p| p.name.as_str())
        ),
        RunResult::Interrupted => format!("{} INTERRUPTED: {target}", o.command),
    };
    let _ = writeln!(s, "{headline} ({})", human(o.duration));
    if let Some(f) = &o.failure {
        let d = diagnose(&f.cause);
        let _ = writeln!(s, "cause: {}", super::failure::report(f));
        let _ = writeln!(s, "diagnosis: {}", super::diagnosis::explanation(&d));
        let _ = writeln!(s, "hint: {}", super::diagnosis::hint(&d));
    }
    if let Some(f) = &o.rollback_failure {
        let _ = writeln!(s, "the rollback failed too: {}", super::failure::report(f));
    }
    if let Some(p) = &o.previous
        && matches!(o.result, RunResult::Succeeded | RunResult::Planned)
    {
        let _ = writeln!(
            s,
            "previous revision: {} ({}); `ecs-roll rollback` returns to it",
            p.name,
            p.image.as_deref().unwrap_or("?")
        );
    }
    match o.result {
        // A plain `rollback` finishes an interrupted rollback rather than undo it.
        RunResult::Interrupted if o.command == "rollback" => {
            let _ = writeln!(
                s,
                "every instance is either serving or out of the load balancer with no task; run the same command again to finish the rollback, or `ecs-roll rollback --to REVISION` to go elsewhere"
            );
        }
        RunResult::Interrupted => {
            let _ = writeln!(
                s,
                "every instance is either serving or out of the load balancer with no task; run the same command again to resume, or `ecs-roll rollback` to undo"
            );
        }
        RunResult::Failed => {
            let _ = writeln!(
                s,
                "where each instance stands is below; fix the cause and deploy again, or run `ecs-roll rollback`"
            );
        }
        _ => {}
    }
    if o.service.is_some() {
        s.push_str(&tasks_table(&o.tasks));
    } else {
        s.push_str(&instances_table(&o.instances));
    }
    s
}

pub fn instances_table(instances: &[InstanceReport]) -> String {
    let rows: Vec<[String; 5]> = instances
        .iter()
        .map(|i| {
            [
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
    let header = ["INSTANCE", "ZONE", "REVISION", "TASK", "LOAD BALANCER"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut s = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    s
}

pub fn json(o: &Outcome) -> String {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    v["exit_code"] = o.exit_code().into();
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
    serde_json::to_string_pretty(&v).unwrap_or_default()
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
    let mut s = String::from("TASK                              REVISION        STATUS    HOST\n");
    for t in tasks {
        let _ = writeln!(
            s,
            "{:<33} {:<15} {:<9} {}",
            t.task_id,
            t.revision,
            t.last_status,
            t.host.as_deref().unwrap_or("-")
        );
    }
    s
}
