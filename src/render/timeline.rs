//! A run as pictures, from its timed events (`engine::timeline`): a Mermaid `gantt` of the
//! phases, steps, ECS's lifecycle stages (native strategies) and waits, each step's planned duration beside the actual one, the failed
//! step and the rollback marked; a Mermaid `xychart-beta` of the healthy targets per revision
//! over time with the same numbers as a table (the chart has no legend); and `timeline` in
//! `--output json`. GitHub renders Mermaid blocks in job summaries.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::outcome::Outcome;
use crate::engine::progress::{Progress, Wait};
use crate::engine::timeline::{Timed, Timeline};
use crate::engine::{Action, Event, Phase};

/// `[{"elapsed_seconds", "at", "type", ...the json-lines fields}]`.
pub fn json(t: &Timeline) -> Value {
    let rows: Vec<Value> = t
        .events
        .iter()
        .filter_map(|e| {
            let (kind, fields) = super::jsonl::event_fields(&e.event)?;
            // `elapsed_seconds`: events have fields of their own named `seconds`.
            let mut row = json!({ "elapsed_seconds": secs(e.at), "type": kind });
            if let Some(start) = t.started {
                row["at"] = humantime::format_rfc3339_millis(start + e.at)
                    .to_string()
                    .into();
            }
            if let (Value::Object(r), Value::Object(f)) = (&mut row, fields) {
                r.extend(f);
            }
            Some(row)
        })
        .collect();
    Value::Array(rows)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A bar's name: Mermaid's gantt syntax ends a name at `:` and a line at `;` or `#`.
fn label(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, ':' | ';' | '#' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// One bar: `name :tags, id, start, end` in milliseconds (`dateFormat x`), at least 1 ms long.
fn bar(out: &mut String, name: &str, tags: &[&str], id: &str, start: Duration, end: Duration) {
    let (s, e) = (ms(start), ms(end).max(ms(start) + 1));
    let mut t: Vec<&str> = tags.to_vec();
    t.push(id);
    let _ = writeln!(out, "    {} :{}, {s}, {e}", label(name), t.join(", "));
}

struct Span {
    name: String,
    start: Duration,
    end: Option<Duration>,
    /// For a step: how long it was planned to take.
    planned: Option<Duration>,
}

/// The phases, steps and waits of the run, each with its start and end (None: still open
/// when the run ended: it failed or was interrupted).
#[derive(Default)]
struct Spans {
    phases: Vec<(Phase, Span)>,
    steps: Vec<Span>,
    waits: Vec<Span>,
    /// Native strategies: each lifecycle stage ECS reported (bake time included).
    stages: Vec<Span>,
    rollback_at: Option<Duration>,
}

fn spans(events: &[Timed]) -> Spans {
    let mut s = Spans::default();
    for Timed { at, event } in events {
        let at = *at;
        match event {
            Event::Phase(p) => {
                if let Some((_, last)) = s.phases.last_mut() {
                    last.end.get_or_insert(at);
                }
                s.phases.push((*p, span(p.title(), at, None)));
            }
            Event::StepStarted {
                index,
                total,
                title,
                predicted,
                ..
            } => s.steps.push(span(
                &format!("step {index}/{total} {title}"),
                at,
                *predicted,
            )),
            Event::StepFinished { .. } => {
                if let Some(open) = s.steps.iter_mut().rev().find(|x| x.end.is_none()) {
                    open.end = Some(at);
                }
            }
            Event::WaitStarted { what, .. } => {
                s.waits.push(span(&super::failure::wait(what), at, None));
            }
            Event::WaitFinished { what, .. } => {
                if let Some(open) = s.waits.iter_mut().rev().find(|x| x.end.is_none()) {
                    open.end = Some(at);
                }
                if matches!(what, Wait::Deployment { .. })
                    && let Some(last) = s.stages.last_mut()
                {
                    last.end.get_or_insert(at);
                }
            }
            Event::RollbackStarted { .. } => {
                s.rollback_at.get_or_insert(at);
            }
            Event::WaitProgress {
                progress: Progress::Deployment(d),
                ..
            } => {
                if let Some(stage) = &d.lifecycle_stage {
                    let open = s.stages.last().filter(|x| x.end.is_none());
                    if open.is_none_or(|x| &x.name != stage) {
                        if let Some(last) = s.stages.last_mut() {
                            last.end.get_or_insert(at);
                        }
                        s.stages.push(span(stage, at, None));
                    }
                }
            }
            _ => {}
        }
    }
    s
}

fn span(name: &str, start: Duration, planned: Option<Duration>) -> Span {
    Span {
        name: name.to_string(),
        start,
        end: None,
        planned,
    }
}

/// The Mermaid gantt of `o`'s run; None when nothing was recorded.
pub fn gantt(o: &Outcome) -> Option<String> {
    let events = &o.timeline.events;
    // Bars still open at the end of the run reach its last event (the outcome's duration is
    // counted from the engine's start, not the command's).
    let end = events.last()?.at;
    let s = spans(events);
    let target = o.target.as_ref().map_or("", |t| t.name.as_str());
    let mut out = String::from("gantt\n");
    let _ = writeln!(
        out,
        "    title {}",
        label(&format!(
            "ecs-roll {} {target} {}",
            o.command,
            o.result.word()
        ))
    );
    out.push_str("    dateFormat x\n    axisFormat %M.%S\n");
    out.push_str("    section Phases\n");
    for (i, (phase, p)) in s.phases.iter().enumerate() {
        let tags: &[&str] = match phase {
            Phase::Rollback => &["crit"],
            _ => &["done"],
        };
        bar(
            &mut out,
            &p.name,
            tags,
            &format!("p{i}"),
            p.start,
            p.end.unwrap_or(end),
        );
    }
    if !s.steps.is_empty() {
        out.push_str("    section Steps\n");
        for (i, st) in s.steps.iter().enumerate() {
            let (tags, name): (&[&str], String) = match st.end {
                Some(e) => (
                    &["done"],
                    format!("{} took {}", st.name, super::human(e - st.start)),
                ),
                None => (&["crit"], format!("{} FAILED", st.name)),
            };
            let stop = st.end.or(s.rollback_at).unwrap_or(end);
            bar(&mut out, &name, tags, &format!("s{i}"), st.start, stop);
        }
        if s.steps.iter().any(|st| st.planned.is_some()) {
            out.push_str("    section Planned\n");
            for (i, st) in s.steps.iter().enumerate() {
                if let Some(p) = st.planned {
                    let name = format!("{} planned {}", st.name, super::human(p));
                    bar(
                        &mut out,
                        &name,
                        &[],
                        &format!("q{i}"),
                        st.start,
                        st.start + p,
                    );
                }
            }
        }
    }
    if !s.stages.is_empty() {
        out.push_str("    section Lifecycle\n");
        for (i, st) in s.stages.iter().enumerate() {
            let stop = st.end.unwrap_or(end);
            bar(
                &mut out,
                &st.name,
                &["active"],
                &format!("l{i}"),
                st.start,
                stop,
            );
        }
    }
    if !s.waits.is_empty() {
        out.push_str("    section Waits\n");
        for (i, w) in s.waits.iter().enumerate() {
            let tags: &[&str] = if w.end.is_some() {
                &["done"]
            } else {
                &["crit"]
            };
            let stop = w.end.or(s.rollback_at).unwrap_or(end);
            bar(&mut out, &w.name, tags, &format!("w{i}"), w.start, stop);
        }
    }
    Some(out)
}

/// Healthy targets of the old and the new revision after each change, as seen in the events:
/// instances InService and drained (classic ELB), or a service deployment's healthy and old
/// targets.
pub fn healthy(o: &Outcome) -> Vec<(Duration, usize, usize)> {
    let (mut old, mut new, mut back) = (0usize, 0usize, false);
    let mut out = Vec::new();
    for Timed { at, event } in &o.timeline.events {
        let before = (old, new);
        match event {
            Event::Plan(p) => old = p.in_service_before,
            Event::ServicePlan(p) => old = usize::try_from(p.desired).unwrap_or(0),
            Event::RollbackStarted { .. } => back = true,
            Event::WaitFinished {
                what: Wait::InService { instances, .. },
                ..
            } => {
                let n = instances.len();
                if back { old += n } else { new += n }
            }
            Event::Action(Action::Draining { instances, .. }) => {
                let n = instances.len();
                if back {
                    new = new.saturating_sub(n);
                } else {
                    old = old.saturating_sub(n);
                }
            }
            // A service deployment's wait ends once the other revision's targets are gone.
            Event::WaitFinished {
                what: Wait::Deployment { .. },
                ..
            } => {
                if back {
                    new = 0
                } else {
                    old = 0
                }
            }
            Event::WaitProgress {
                progress: Progress::Deployment(d),
                ..
            } => {
                (old, new) = if back {
                    (d.healthy, d.old_targets)
                } else {
                    (d.old_targets, d.healthy)
                };
            }
            _ => continue,
        }
        if out.is_empty() || (old, new) != before {
            out.push((*at, old, new));
        }
    }
    out
}

fn names(o: &Outcome) -> (String, String) {
    let old = o.previous.as_ref().map_or("old".into(), |p| p.name.clone());
    let new = o.target.as_ref().map_or("new".into(), |t| t.name.clone());
    (old, new)
}

/// The xychart of [`healthy`] and the same as a table; None with fewer than two points.
pub fn healthy_markdown(o: &Outcome) -> Option<String> {
    let points = healthy(o);
    if points.len() < 2 {
        return None;
    }
    let (old, new) = names(o);
    let top = points
        .iter()
        .map(|(_, a, b)| (*a).max(*b))
        .max()
        .unwrap_or(1)
        .max(1);
    let xs: Vec<String> = points
        .iter()
        .map(|(t, ..)| format!("\"{}s\"", secs(*t)))
        .collect();
    let series = |f: fn(&(Duration, usize, usize)) -> usize| -> String {
        points
            .iter()
            .map(|p| f(p).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::from("```mermaid\nxychart-beta\n");
    let _ = writeln!(
        s,
        "    title \"Healthy targets: bars {}, line {}\"",
        label(&old).replace('"', ""),
        label(&new).replace('"', "")
    );
    let _ = writeln!(s, "    x-axis [{}]", xs.join(", "));
    let _ = writeln!(s, "    y-axis \"healthy targets\" 0 --> {top}");
    let _ = writeln!(s, "    bar [{}]", series(|p| p.1));
    let _ = writeln!(s, "    line [{}]", series(|p| p.2));
    s.push_str("```\n\n");
    let _ = writeln!(s, "| At | {old} | {new} |\n|---|---|---|");
    for (t, a, b) in &points {
        let _ = writeln!(s, "| {}s | {a} | {b} |", secs(*t));
    }
    Some(s)
}

/// The job summary's pictures: the gantt, then the healthy targets.
pub fn markdown(o: &Outcome) -> String {
    let Some(g) = gantt(o) else {
        return String::new();
    };
    let mut s = format!("\n#### Timeline\n\n```mermaid\n{g}```\n");
    if let Some(h) = healthy_markdown(o) {
        let _ = write!(s, "\n#### Healthy targets\n\n{h}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_has_nothing_that_ends_a_gantt_bar() {
        assert_eq!(
            label("step 1/3: replace i-1; #2\nx"),
            "step 1/3 replace i-1 2 x"
        );
    }
}
