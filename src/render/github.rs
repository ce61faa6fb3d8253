//! GitHub Actions: step outputs in $GITHUB_OUTPUT and a Markdown job summary in
//! $GITHUB_STEP_SUMMARY. Progress lines and annotations come from the plain renderer.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use super::human;
use crate::engine::diagnosis::diagnose;
use crate::engine::outcome::{Outcome, RunResult};

/// The step outputs, as name/value pairs.
pub fn outputs(o: &Outcome) -> Vec<(&'static str, String)> {
    let mut pairs = common_outputs(o);
    // Service mode: the service deployment ECS tracks the deploy by (empty where the
    // endpoint does not tell it).
    if o.service.is_some() {
        let arn = o.service_deployment_arn.clone().unwrap_or_default();
        pairs.push(("service-deployment-arn", arn));
    }
    // `--before`: how its one-off task ended.
    if let Some(b) = &o.before {
        pairs.extend([
            ("before-result", b.report.result().word().to_string()),
            ("before-task-arn", b.report.task_arn.clone()),
            (
                "before-exit-codes",
                super::oneoff::before_json(b)["exit_codes"].to_string(),
            ),
        ]);
    }
    pairs
}

fn common_outputs(o: &Outcome) -> Vec<(&'static str, String)> {
    vec![
        (
            "task-definition-arn",
            o.target.as_ref().map(|t| t.arn.clone()).unwrap_or_default(),
        ),
        (
            "previous-task-definition-arn",
            o.previous
                .as_ref()
                .map(|t| t.arn.clone())
                .unwrap_or_default(),
        ),
        (
            "revision",
            o.target
                .as_ref()
                .map(|t| t.revision.to_string())
                .unwrap_or_default(),
        ),
        (
            "image",
            o.target
                .as_ref()
                .and_then(|t| t.image.clone())
                .unwrap_or_default(),
        ),
        // Each changed container's new image, as a JSON object (for fromJSON).
        (
            "images",
            serde_json::Value::Object(
                o.image_changes()
                    .into_iter()
                    .map(|c| (c.container, c.new.into()))
                    .collect(),
            )
            .to_string(),
        ),
        ("result", o.result.word().to_string()),
        (
            "duration-seconds",
            format!("{:.0}", o.duration.as_secs_f64()),
        ),
        (
            "predicted-seconds",
            o.predicted
                .as_ref()
                .map_or(String::new(), |p| format!("{:.0}", p.total.as_secs_f64())),
        ),
    ]
}

/// Registers each value as a mask (`::add-mask::`, a line at a time: the runner masks
/// lines), so the runner hides it in everything printed after.
pub fn add_masks(values: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in mask_lines(values) {
        let _ = writeln!(err, "{line}");
    }
}

/// The `::add-mask::` commands for `values`, each line of each value once.
pub fn mask_lines(values: &[String]) -> Vec<String> {
    let mut lines: Vec<&str> = values
        .iter()
        .flat_map(|v| v.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort_unstable();
    lines.dedup();
    lines
        .into_iter()
        .map(|l| format!("::add-mask::{}", super::plain::escape(l)))
        .collect()
}

/// Before a diff is printed: every value masking hides on either side, as masks.
pub fn mask_diff(event: &crate::engine::Event) {
    if let crate::engine::Event::Diff {
        from_definition,
        to_definition,
        ..
    } = event
    {
        let mut values = crate::secrets::secret_values(from_definition);
        values.extend(crate::secrets::secret_values(to_definition));
        add_masks(&values);
    }
}

/// Appends outputs in the heredoc form, which is safe for any value.
pub fn write_outputs(path: &Path, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for (k, v) in pairs {
        let mut delim = "ECS_ROLL_EOF".to_string();
        while v.contains(&delim) {
            delim.push('_');
        }
        writeln!(f, "{k}<<{delim}\n{v}\n{delim}")?;
    }
    Ok(())
}

pub fn summary_markdown(o: &Outcome) -> String {
    let mut s = String::new();
    let icon = match o.result {
        RunResult::Succeeded | RunResult::Planned => "✅",
        RunResult::RolledBack => "↩️",
        RunResult::Failed | RunResult::Interrupted => "❌",
    };
    let _ = writeln!(
        s,
        "### {icon} ecs-roll {}: {}\n",
        o.command,
        o.result.word()
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Cluster | `{}` |", o.cluster);
    let _ = writeln!(s, "| Task family | `{}` |", o.family);
    let _ = writeln!(s, "| Load balancer | `{}` |", o.load_balancer);
    let rev = |r: &Option<crate::engine::outcome::RevisionInfo>| {
        r.as_ref().map_or("-".to_string(), |r| {
            format!("`{}` ({})", r.name, r.image.as_deref().unwrap_or("?"))
        })
    };
    let _ = writeln!(s, "| Previous revision | {} |", rev(&o.previous));
    let _ = writeln!(s, "| New revision | {} |", rev(&o.target));
    for c in o.image_changes() {
        let old = c.old.as_deref().unwrap_or("(new container)");
        let _ = writeln!(s, "| Image `{}` | `{old}` → `{}` |", c.container, c.new);
    }
    if let Some(p) = &o.plan {
        let _ = writeln!(s, "| Strategy | {} |", p.strategy);
    }
    let _ = writeln!(s, "| Duration | {} |", human(o.duration));
    let calls: u64 = o.api_calls.values().sum();
    let _ = writeln!(s, "| AWS API calls | {calls} |");
    if let Some(f) = &o.failure {
        let cause = super::failure::report(f);
        let d = diagnose(&f.cause);
        let _ = writeln!(s, "\n**Cause:** {}", cause.replace('|', "\\|"));
        let said = super::diagnosis::explanation(&d);
        let _ = writeln!(s, "\n**Diagnosis:** {}", said.replace('|', "\\|"));
        let hint = super::diagnosis::hint(&d);
        let _ = writeln!(s, "\n**What to do:** {}", hint.replace('|', "\\|"));
        if let Some(log) = &o.failure_log {
            s.push_str(&super::failure_log::markdown(log));
        }
    }
    if let Some(next) = super::next::next_step(o) {
        let _ = writeln!(s, "\n**Next:** {}", next.replace('|', "\\|"));
    }
    if let Some(b) = &o.before {
        let _ = writeln!(s, "\n#### Before the rollout: `{}`\n", b.command);
        s.push_str(&super::oneoff::body_markdown(&b.report));
    }
    if !o.steps.is_empty() || !o.rollback_steps.is_empty() {
        let _ = writeln!(s, "\n| Step | Took | Predicted | |\n|---|---|---|---|");
        for (prefix, steps) in [("", &o.steps), ("rollback: ", &o.rollback_steps)] {
            for st in steps {
                let _ = writeln!(
                    s,
                    "| {prefix}{} | {} | {} | {} |",
                    st.title,
                    human(st.took),
                    st.predicted.map_or("-".into(), human),
                    if st.ok { "ok" } else { "failed" }
                );
            }
        }
    }
    if o.service.is_some() {
        let _ = writeln!(
            s,
            "\n| Task | Revision | Status | Host |\n|---|---|---|---|"
        );
        for t in &o.tasks {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                t.task_id,
                t.revision,
                t.last_status,
                t.host.as_deref().unwrap_or("-")
            );
        }
        s.push_str(&super::timeline::markdown(o));
        return s;
    }
    let _ = writeln!(
        s,
        "\n| Instance | Zone | Revision | Task | Load balancer |\n|---|---|---|---|---|"
    );
    for i in &o.instances {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            i.ec2_instance_id,
            i.availability_zone.as_deref().unwrap_or("-"),
            if i.revisions.is_empty() {
                "-".to_string()
            } else {
                i.revisions.join(", ")
            },
            i.task_status.as_deref().unwrap_or("-"),
            i.health.as_deref().unwrap_or("not registered")
        );
    }
    s.push_str(&super::timeline::markdown(o));
    s
}

/// Writes the step outputs and appends to the job summary where GitHub asks for them; a
/// failure to write is reported but does not change the command's result.
pub(crate) fn write_step(pairs: &[(&str, String)], summary: &str) {
    if let Some(p) = std::env::var_os("GITHUB_OUTPUT")
        && let Err(e) = write_outputs(Path::new(&p), pairs)
    {
        eprintln!("::warning::could not write step outputs: {e}");
    }
    if let Some(p) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| f.write_all(summary.as_bytes()));
        if let Err(e) = r {
            eprintln!("::warning::could not write the job summary: {e}");
        }
    }
}

/// The outputs, the summary and an annotation of a failure.
pub fn publish(o: &Outcome) {
    write_step(&outputs(o), &summary_markdown(o));
    match o.result {
        RunResult::Failed | RunResult::Interrupted => {
            eprintln!(
                "::error::ecs-roll {} {}: {}",
                o.command,
                o.result.word(),
                super::plain::escape(&failure_text(o))
            );
        }
        RunResult::RolledBack => {
            eprintln!(
                "::error::ecs-roll {} failed and was rolled back: {}",
                o.command,
                super::plain::escape(&failure_text(o))
            );
        }
        _ => {}
    }
}

/// Several targets: the common outputs with `results` per target, one summary table, and an
/// annotation per target that did not succeed.
pub fn publish_targets(ends: &[super::targets::TargetEnd], exit_code: i32) {
    write_step(
        &super::targets::outputs(ends, exit_code),
        &super::targets::summary_markdown(ends),
    );
    for (name, r) in ends {
        let text = match r {
            Ok(o) if o.exit_code() != 0 => {
                format!("{} {}: {}", o.command, o.result.word(), failure_text(o))
            }
            Ok(_) => continue,
            Err(e) => format!("{e} ({})", e.hint()),
        };
        eprintln!(
            "::error::{}",
            super::plain::escape(&format!("{name}: {text}"))
        );
    }
}

/// A command that ended in an error still leaves its outputs and a summary, so a workflow can
/// branch on `result` and a reader sees why.
pub fn publish_error(e: &crate::error::Error) {
    let pairs = [
        ("result", e.result_word().to_string()),
        ("error", e.to_string()),
        ("exit-code", e.exit_code().to_string()),
    ];
    let changed = if e.nothing_changed() {
        "Nothing was changed in AWS."
    } else {
        "AWS may have been changed; see the log."
    };
    let summary = format!(
        "### ❌ ecs-roll: {}\n\n{}\n\n**What to do:** {}\n",
        e.to_string().replace('|', "\\|"),
        changed,
        e.hint()
    );
    write_step(&pairs, &summary);
}

/// The failure, its diagnosis and the hint, for the one-line `::error` annotation.
fn failure_text(o: &Outcome) -> String {
    o.failure.as_ref().map_or_else(String::new, |f| {
        let d = diagnose(&f.cause);
        format!(
            "{} (diagnosis: {}; hint: {}{})",
            super::failure::report(f),
            super::diagnosis::explanation(&d),
            super::diagnosis::hint(&d),
            o.failure_log
                .as_ref()
                .and_then(super::failure_log::last_line)
                .unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_every_value_is_registered_once_as_a_mask() {
        let values = [
            "hunter2".to_string(),
            "line one\nline two".to_string(),
            "hunter2".to_string(),
            "100%".to_string(),
            "  ".to_string(),
        ];
        assert_eq!(
            mask_lines(&values),
            [
                "::add-mask::100%25",
                "::add-mask::hunter2",
                "::add-mask::line one",
                "::add-mask::line two",
            ]
        );
    }
}
