//! `--output json-lines`: the engine's events as they happen, one JSON object a line on
//! stdout, for tools that follow a deploy live; the last line is the result document.
//!
//! The envelope (schema/json-lines.schema.json): every line has `type` (what the line is:
//! `phase`, `diff`, `plan`, `service_plan`, `service_event`, `revision`, `step_started`,
//! `action`, `wait_started`, `wait_progress`, `wait_finished`, `step_finished`, `warning`,
//! `rollback_started`, `interrupting`, and last `result`), `at` (when it was written, RFC 3339
//! UTC) and `target` (the target's name when one command has several, else null); the rest
//! are the event's fields. The `result` line carries the `--output json` document in
//! `document`.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::engine::{Action, Event, Observer};

/// Writes each event as a line on stdout.
pub struct JsonLines {
    target: Option<String>,
}

impl JsonLines {
    /// `target`: the name of one target among several (None for a single target).
    pub fn new(target: Option<String>) -> JsonLines {
        JsonLines { target }
    }
}

impl Observer for JsonLines {
    fn event(&self, event: &Event) {
        if let Some((kind, fields)) = event_fields(event) {
            emit(&line(kind, self.target.as_deref(), fields));
        }
    }
}

/// The last line: the result document of the command (`--output json`'s, compact).
pub fn result(document: Value) {
    emit(&line("result", None, json!({ "document": document })));
}

fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// `{"type", "at", "target", ...fields}`.
pub fn line(kind: &str, target: Option<&str>, fields: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), kind.into());
    m.insert(
        "at".into(),
        humantime::format_rfc3339_millis(std::time::SystemTime::now())
            .to_string()
            .into(),
    );
    m.insert("target".into(), target.map(String::from).into());
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    Value::Object(m)
}

/// The line's type and fields of one event; None for those that are not for the stream
/// (`Finished`: the result line follows).
pub fn event_fields(event: &Event) -> Option<(&'static str, Value)> {
    let secs = |d: &std::time::Duration| d.as_secs_f64();
    Some(match event {
        Event::Phase(p) => ("phase", json!({ "phase": p, "title": p.title() })),
        Event::Diff { from, to, .. } => (
            "diff",
            json!({ "from": from, "to": to, "diff": super::plain::unified_diff(event) }),
        ),
        Event::Plan(plan) => ("plan", json!({ "plan": plan })),
        Event::ServicePlan(plan) => ("service_plan", json!({ "plan": plan })),
        Event::ServiceEvent { at, message } => {
            ("service_event", json!({ "ecs_at": at, "message": message }))
        }
        Event::Revision {
            name,
            arn,
            image,
            reused,
            previous,
        } => (
            "revision",
            json!({ "name": name, "arn": arn, "image": image, "reused": reused, "previous": previous }),
        ),
        Event::StepStarted {
            index,
            total,
            title,
            predicted,
            left,
        } => (
            "step_started",
            json!({
                "index": index, "total": total, "title": title,
                "predicted_seconds": predicted.as_ref().map(secs),
                "left_seconds": left.as_ref().map(secs),
            }),
        ),
        Event::Gates { alarms, bake } => (
            "gates",
            json!({
                "alarms": alarms, "bake_seconds": secs(bake),
                "message": super::plain::gates_text(alarms, *bake),
            }),
        ),
        Event::Prediction(p) => (
            "prediction",
            json!({
                "predicted_seconds": secs(&p.total),
                "steps_predicted_seconds": p.steps.iter().map(secs).collect::<Vec<_>>(),
                "predicted_from": p.learned_from,
                "message": super::plain::prediction_text(p),
            }),
        ),
        Event::Action(a) => (
            "action",
            json!({ "action": action_kind(a), "message": super::plain::action(a) }),
        ),
        Event::WaitStarted { what, limit } => {
            let mut v = serde_json::to_value(what).unwrap_or_default();
            v["limit_seconds"] = secs(limit).into();
            ("wait_started", v)
        }
        Event::WaitProgress { what, progress } => {
            let mut v = serde_json::to_value(what).unwrap_or_default();
            v["progress"] = serde_json::to_value(progress).unwrap_or_default();
            v["message"] = super::failure::progress(progress).into();
            ("wait_progress", v)
        }
        Event::WaitFinished { what, took } => {
            let mut v = serde_json::to_value(what).unwrap_or_default();
            v["seconds"] = secs(took).into();
            ("wait_finished", v)
        }
        Event::StepFinished { index, total, took } => (
            "step_finished",
            json!({ "index": index, "total": total, "seconds": secs(took) }),
        ),
        Event::Warning(w) => ("warning", json!({ "message": super::plain::warning(w) })),
        Event::RollbackStarted { cause, to, by_ecs } => (
            "rollback_started",
            json!({ "cause": super::failure::message(cause), "to": to, "by_ecs": by_ecs }),
        ),
        Event::BeforePlanned { command, container } => (
            "before_planned",
            json!({ "command": command, "container": container, "message": super::plain::describe(event) }),
        ),
        Event::OneOff(e) => (
            "one_off",
            json!({ "event": super::oneoff::event_kind(e), "message": super::oneoff::event_line(e) }),
        ),
        Event::BeforeEnded(run) => (
            "before_ended",
            json!({ "before": super::oneoff::before_json(run) }),
        ),
        Event::Interrupting => ("interrupting", json!({})),
        Event::Finished => return None,
    })
}

fn action_kind(a: &Action) -> &'static str {
    match a {
        Action::TaskStarted { .. } => "task_started",
        Action::InstancesRegistered { .. } => "instances_registered",
        Action::InstancesDeregistered { .. } => "instances_deregistered",
        Action::StraysDeregistered { .. } => "strays_deregistered",
        Action::Draining { .. } => "draining",
        Action::TaskStopped { .. } => "task_stopped",
        Action::DeploymentStarted { .. } => "deployment_started",
        Action::ConfigurationRestored { .. } => "configuration_restored",
        Action::ServiceDeploymentStopped { .. } => "service_deployment_stopped",
    }
}

/// Several observers told the same events (stderr progress and the stdout stream).
pub struct Both(
    pub std::sync::Arc<dyn Observer>,
    pub std::sync::Arc<dyn Observer>,
);

impl Observer for Both {
    fn event(&self, event: &Event) {
        self.0.event(event);
        self.1.event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Phase;

    #[test]
    fn every_line_has_type_at_and_target_then_the_events_fields() {
        let (kind, fields) = event_fields(&Event::Phase(Phase::Rollout)).unwrap();
        let v = line(kind, Some("web"), fields);
        assert_eq!(v["type"], "phase");
        assert_eq!(v["target"], "web");
        assert_eq!(v["phase"], "rollout");
        let at = v["at"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(at).is_ok(), "{at}");
        let v = line("result", None, json!({"document": {"result": "succeeded"}}));
        assert_eq!(v["target"], Value::Null);
        assert_eq!(v["document"]["result"], "succeeded");
    }

    #[test]
    fn finished_is_not_a_line_of_its_own() {
        assert!(event_fields(&Event::Finished).is_none());
        assert_eq!(
            event_fields(&Event::Interrupting).unwrap().0,
            "interrupting"
        );
    }
}
