//! The result of one command over several targets: one JSON document with a `targets` array,
//! and in GitHub Actions the step outputs (`result`, `exit-code`, and `results`: per target, as
//! JSON) and one job summary table. Each target's entry is the document it would print alone.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::engine::outcome::Outcome;
use crate::error::Error;

/// How one target of the command ended.
pub type TargetEnd = (String, Result<Outcome, Error>);

/// The word for all targets together: their common one, or `failed` when they differ (as
/// the exit code is 1 then: something needs a look).
pub fn result_word(ends: &[TargetEnd]) -> &'static str {
    let words: Vec<&str> = ends.iter().map(|(_, r)| word(r)).collect();
    match words.first() {
        Some(first) if words.iter().all(|w| w == first) => first,
        _ => "failed",
    }
}

fn word(r: &Result<Outcome, Error>) -> &'static str {
    match r {
        Ok(o) => o.result.word(),
        Err(e) => e.result_word(),
    }
}

/// `{"result", "exit_code", "targets": [{"name", ...the target's own document}]}`.
pub fn json(ends: &[TargetEnd], exit_code: i32) -> String {
    serde_json::to_string_pretty(&json_value(ends, exit_code)).unwrap_or_default()
}

/// The document of [`json`], as a value.
pub fn json_value(ends: &[TargetEnd], exit_code: i32) -> Value {
    let targets: Vec<Value> = ends
        .iter()
        .map(|(name, r)| {
            let mut v = match r {
                Ok(o) => super::summary::json_value(o),
                Err(e) => super::summary::error_json_value(e),
            };
            v["name"] = name.clone().into();
            v
        })
        .collect();
    json!({
        "result": result_word(ends),
        "exit_code": exit_code,
        "targets": targets,
    })
}

/// The step outputs: the common result and exit code, and `results` keyed by target.
pub fn outputs(ends: &[TargetEnd], exit_code: i32) -> Vec<(&'static str, String)> {
    let mut results = serde_json::Map::new();
    for (name, r) in ends {
        let entry = match r {
            Ok(o) => Value::Object(
                super::github::outputs(o)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect(),
            ),
            Err(e) => json!({
                "result": e.result_word(),
                "error": e.to_string(),
                "exit-code": e.exit_code().to_string(),
            }),
        };
        results.insert(name.clone(), entry);
    }
    vec![
        ("result", result_word(ends).to_string()),
        ("exit-code", exit_code.to_string()),
        ("results", Value::Object(results).to_string()),
    ]
}

/// One table for the job summary: a row per target.
pub fn summary_markdown(ends: &[TargetEnd]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    // The command, from a target that got far enough to say it.
    let command = ends
        .iter()
        .find_map(|(_, r)| r.as_ref().ok().map(|o| format!(" {}", o.command)))
        .unwrap_or_default();
    let mut s = format!(
        "### ecs-roll{command}: {} ({} targets)\n\n| target | result | revision | took | what happened |\n|---|---|---|---|---|\n",
        result_word(ends),
        ends.len()
    );
    for (name, r) in ends {
        let (revision, took, what) = match r {
            Ok(o) => (
                o.target.as_ref().map_or("–".into(), |t| t.name.clone()),
                super::human(o.duration),
                o.failure
                    .as_ref()
                    .map(super::failure::report)
                    .unwrap_or_default(),
            ),
            Err(e) => ("–".into(), "–".into(), format!("{e} ({})", e.hint())),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {took} | {} |",
            cell(name),
            word(r),
            cell(&revision),
            cell(&what)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::refusal::Refusal;

    fn refused(service: &str) -> Result<Outcome, Error> {
        Err(Error::refused(Refusal::ServiceNotFound {
            service: service.into(),
            cluster: "prod".into(),
        }))
    }

    #[test]
    fn one_document_names_every_target_with_its_own_result() {
        let ends = vec![
            ("web".to_string(), refused("web")),
            ("api".to_string(), refused("api")),
        ];
        let doc: Value = serde_json::from_str(&json(&ends, 2)).unwrap();
        assert_eq!(doc["result"], "refused");
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(doc["targets"][1]["name"], "api");
        assert_eq!(doc["targets"][1]["result"], "refused");
        assert_eq!(doc["targets"][1]["refusal"]["kind"], "service_not_found");
        let out = outputs(&ends, 2);
        let results: Value = serde_json::from_str(&out[2].1).unwrap();
        assert_eq!(results["web"]["result"], "refused");
        let md = summary_markdown(&ends);
        assert!(md.contains("| web | refused |"), "{md}");
    }

    #[test]
    fn targets_that_end_differently_are_failed_together() {
        let ends = vec![
            ("web".to_string(), refused("web")),
            (
                "api".to_string(),
                Err(Error::failed("boom", "look at the log")),
            ),
        ];
        assert_eq!(result_word(&ends), "failed");
    }
}
