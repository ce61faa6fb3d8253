//! Masking of secret values before anything prints them: diffs, logs, JSON output and the
//! GitHub step summary all show task definitions through here.

use serde_json::Value;

pub const MASK: &str = "****";

/// Whether an environment variable's name says it holds a secret.
pub fn name_looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "KEY",
        "SECRET",
        "CREDENTIAL",
        "PRIVATE",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// Secret values shorter than this are masked where they stand but not searched for inside
/// other values: a one-character "password" would otherwise mask every digit of a port.
pub const MIN_EMBEDDED: usize = 4;

/// Masks `secrets[].valueFrom` and the values of secret-looking `environment` entries in every
/// container of a task definition document, and every such value that appears inside another
/// string of the document (a password inside `DATABASE_URL`).
pub fn mask_task_definition(td: &mut Value) {
    let values = secret_values(td);
    mask_by_name(td);
    scrub(td, &values);
}

/// Replaces every occurrence of `values` (the longest first, so one that contains another
/// goes whole) in every string of `v`.
pub fn scrub(v: &mut Value, values: &[String]) {
    let mut values: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= MIN_EMBEDDED)
        .collect();
    values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    scrub_in(v, &values);
}

fn scrub_in(v: &mut Value, values: &[&str]) {
    match v {
        Value::String(s) => {
            for secret in values {
                if s.contains(secret) {
                    *s = s.replace(secret, MASK);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_in(x, values)),
        Value::Object(m) => m.values_mut().for_each(|x| scrub_in(x, values)),
        _ => {}
    }
}

fn mask_by_name(td: &mut Value) {
    let Some(containers) = td
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for c in containers {
        if let Some(env) = c.get_mut("environment").and_then(Value::as_array_mut) {
            for e in env {
                let secret = e
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(name_looks_secret);
                if secret && e.get("value").is_some() {
                    e["value"] = Value::String(MASK.into());
                }
            }
        }
        if let Some(secrets) = c.get_mut("secrets").and_then(Value::as_array_mut) {
            for s in secrets {
                if s.get("valueFrom").is_some() {
                    s["valueFrom"] = Value::String(MASK.into());
                }
            }
        }
        // References to secrets elsewhere in the container: log driver options and private
        // registry credentials.
        if let Some(opts) = c
            .pointer_mut("/logConfiguration/secretOptions")
            .and_then(Value::as_array_mut)
        {
            for s in opts {
                if s.get("valueFrom").is_some() {
                    s["valueFrom"] = Value::String(MASK.into());
                }
            }
        }
        if let Some(rc) = c.pointer_mut("/repositoryCredentials/credentialsParameter") {
            *rc = Value::String(MASK.into());
        }
        // Log router options hold credentials too (`api_key`, `privatekey`, `http_passwd`).
        for path in SECRET_OPTION_MAPS {
            if let Some(opts) = c.pointer_mut(path).and_then(Value::as_object_mut) {
                for (k, v) in opts.iter_mut() {
                    if name_looks_secret(k) && v.is_string() {
                        *v = Value::String(MASK.into());
                    }
                }
            }
        }
    }
}

/// The option maps of a container whose secret-looking keys are masked.
const SECRET_OPTION_MAPS: [&str; 2] = [
    "/logConfiguration/options",
    "/firelensConfiguration/options",
];

/// The values `mask_task_definition` hides, so a renderer can also scrub free text
/// (and GitHub Actions can be told to mask them).
pub fn secret_values(td: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let containers = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for c in containers {
        for e in c
            .get("environment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if e.get("name")
                .and_then(Value::as_str)
                .is_some_and(name_looks_secret)
                && let Some(v) = e.get("value").and_then(Value::as_str)
                && !v.is_empty()
            {
                out.push(v.to_string());
            }
        }
        for s in c
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(v) = s.get("valueFrom").and_then(Value::as_str) {
                out.push(v.to_string());
            }
        }
        for path in SECRET_OPTION_MAPS {
            for (k, v) in c
                .pointer(path)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(v) = v.as_str().filter(|v| name_looks_secret(k) && !v.is_empty()) {
                    out.push(v.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_secret_environment_values_and_secret_references_only() {
        let mut td = json!({"containerDefinitions": [{
            "name": "app",
            "environment": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "api_token", "value": "t0k"},
                {"name": "PORT", "value": "5555"}
            ],
            "secrets": [{"name": "X", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}]
        }]});
        assert_eq!(
            secret_values(&td),
            vec!["arn:aws:ssm:us-east-1:1:parameter/x", "hunter2", "t0k"]
        );
        mask_task_definition(&mut td);
        let text = td.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("t0k") && !text.contains("parameter/x")
        );
        assert!(text.contains("5555"));
    }

    #[test]
    fn a_secret_value_inside_another_value_is_masked_there_too() {
        let mut td = json!({"containerDefinitions": [{
            "name": "app",
            "environment": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "DATABASE_URL", "value": "postgres://app:hunter2@db:5432/app"},
                {"name": "PIN", "value": "7"},
                {"name": "SHORT_SECRET", "value": "ab"},
                {"name": "PORT", "value": "5555ab7"}
            ],
            "command": ["serve", "--password=hunter2"]
        }]});
        mask_task_definition(&mut td);
        let text = td.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("postgres://app:****@db:5432/app"), "{text}");
        assert!(text.contains("--password=****"), "{text}");
        // Values too short to search for are masked only where they stand.
        assert!(text.contains("5555ab7"), "{text}");
    }

    #[test]
    fn log_router_options_named_like_secrets_are_masked() {
        let mut td = json!({"containerDefinitions": [{
            "name": "app",
            "logConfiguration": {"logDriver": "awsfirelens", "options": {
                "Name": "datadog", "apikey": "dd-123", "privatekey": "pk-456",
                "http_passwd": "pw-789", "Host": "http-intake.logs.datadoghq.com"
            }},
            "firelensConfiguration": {"type": "fluentbit", "options": {"api_key": "fb-1"}}
        }]});
        assert_eq!(
            secret_values(&td),
            vec!["dd-123", "fb-1", "pk-456", "pw-789"]
        );
        mask_task_definition(&mut td);
        let text = td.to_string();
        for secret in ["dd-123", "pk-456", "pw-789", "fb-1"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("datadog") && text.contains("http-intake"));
    }
}
