//! Table tests of the env and secret flags: parsing, the shape of a secret's reference, and
//! their effect on a task definition.

use serde_json::{Value, json};

use super::*;

fn td(containers: &[&str]) -> TaskDefinition {
    let defs: Vec<_> = containers
        .iter()
        .map(|n| {
            json!({"name": n, "image": "acme/x:1", "memory": 128,
                   "environment": [{"name": "KEEP", "value": "1"}, {"name": "OLD", "value": "x"}],
                   "secrets": [{"name": "TOKEN", "valueFrom": "/app/token"}]})
        })
        .collect();
    TaskDefinition::parse(
        &json!({"family": "app", "containerDefinitions": defs}).to_string(),
        "td.json",
    )
    .unwrap()
}

/// `container`'s (environment, secrets) as (name, value) pairs.
type Pairs = Vec<(String, String)>;

fn vars(td: &TaskDefinition, container: &str) -> (Pairs, Pairs) {
    let doc = td.to_json();
    let c = doc["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == container)
        .unwrap()
        .clone();
    let pairs = |list: &str, value: &str| -> Vec<(String, String)> {
        c[list]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e: &Value| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e[value].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    (pairs("environment", "value"), pairs("secrets", "valueFrom"))
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn env_flags_parse_into_a_container_a_name_and_a_value() {
    let set = |c: Option<&str>, n: &str, v: &str| EnvEdit {
        container: c.map(String::from),
        name: n.into(),
        change: EnvChange::Set(v.into()),
    };
    let cases = [
        ("LOG_LEVEL=debug", set(None, "LOG_LEVEL", "debug")),
        ("worker:QUEUE=jobs", set(Some("worker"), "QUEUE", "jobs")),
        ("EMPTY=", set(None, "EMPTY", "")),
        (
            "DATABASE_URL=postgres://u:p@h:5432/db?x=1",
            set(None, "DATABASE_URL", "postgres://u:p@h:5432/db?x=1"),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_env(input).unwrap(), want, "{input}");
    }
    assert_eq!(
        parse_unset("web:OLD").unwrap(),
        EnvEdit {
            container: Some("web".into()),
            name: "OLD".into(),
            change: EnvChange::Unset,
        }
    );
    assert_eq!(
        parse_secret("DB_PASSWORD=/prod/db").unwrap().change,
        EnvChange::Secret {
            value_from: "/prod/db".into()
        }
    );
}

#[test]
fn malformed_env_flags_are_usage_errors_that_never_repeat_a_value() {
    let cases: [(Result<EnvEdit, Error>, &str); 7] = [
        (parse_env("LOG_LEVEL"), "no '=VALUE'"),
        (parse_env("=hunter2"), "not a variable name"),
        (parse_env(":X=hunter2"), "not a container name"),
        (parse_env("my app:X=hunter2"), "not a container name"),
        (parse_unset("X=hunter2"), "takes a name"),
        (parse_secret("X"), "no '=VALUE_FROM'"),
        (
            parse_secret("X=hunter2 is not an arn"),
            "not an SSM parameter",
        ),
    ];
    for (got, says) in cases {
        let e = got.unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = format!("{e} {}", e.hint());
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("hunter2"), "a value leaked: {text}");
    }
    assert!(
        parse_env("LOG_LEVEL")
            .unwrap_err()
            .hint()
            .contains("--env LOG_LEVEL=VALUE")
    );
}

#[test]
fn a_secret_reference_is_an_ssm_parameter_or_a_secrets_manager_arn() {
    for ok in [
        "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db-password",
        "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/x",
        "/prod/db-password",
        "db_password",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf:password::",
    ] {
        assert!(valid_value_from(ok), "{ok}");
    }
    for bad in [
        "",
        "arn:aws:s3:::bucket/key",
        "arn:aws:ssm:us-east-1:123:parameter/x",
        "arn:aws:ssm:us-east-1:123456789012:document/x",
        "arn:aws:secretsmanager:eu-west-1:123456789012:db",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a:b:c:d:e",
        "not a name",
        "//double",
        "arn:aws:ssm",
    ] {
        assert!(!valid_value_from(bad), "{bad}");
    }
}

#[test]
fn edits_set_replace_move_and_remove_variables_in_their_container_only() {
    let base = td(&["web", "worker"]);
    let edits = parse_all(
        &["OLD=y".into(), "NEW=z".into(), "worker:QUEUE=jobs".into()],
        &["KEEP".into()],
        &["TOKEN_TWO=/app/t2".into(), "worker:OLD=/app/old".into()],
    )
    .unwrap();
    let out = apply_env(&base, Some("web"), &edits).unwrap();
    let (env, secrets) = vars(&out, "web");
    assert_eq!(
        env,
        owned(&[("OLD", "y"), ("NEW", "z")]),
        "in place, then appended"
    );
    assert_eq!(
        secrets,
        owned(&[("TOKEN", "/app/token"), ("TOKEN_TWO", "/app/t2")])
    );
    let (env, secrets) = vars(&out, "worker");
    assert_eq!(
        env,
        owned(&[("KEEP", "1"), ("QUEUE", "jobs")]),
        "OLD became a secret"
    );
    assert_eq!(
        secrets,
        owned(&[("TOKEN", "/app/token"), ("OLD", "/app/old")])
    );
}

#[test]
fn edits_without_a_container_need_one_implied_and_each_variable_once() {
    let two = td(&["web", "worker"]);
    let cases: [(&[&str], Option<&str>, &str); 3] = [
        (&["X=1"], None, "no single --image says which one"),
        (&["db:X=1"], Some("web"), "no container named \"db\""),
        (&["X=1", "web:X=2"], Some("web"), "given twice"),
    ];
    for (env, default, says) in cases {
        let edits = parse_all(
            &env.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &[],
            &[],
        )
        .unwrap();
        let e = apply_env(&two, default, &edits).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(says), "{env:?}: {e}");
    }
}

#[test]
fn the_implied_container_is_the_images_then_the_configured_then_the_only_one() {
    let two = td(&["web", "worker"]);
    let one = td(&["app"]);
    let images = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = [
        (&two, images(&["worker"]), Some("web"), Some("worker")),
        (&two, images(&["web", "worker"]), Some("web"), Some("web")),
        (&two, images(&["web", "worker"]), None, None),
        (&two, images(&[]), None, None),
        (&one, images(&[]), None, Some("app")),
    ];
    for (td, imgs, configured, want) in cases {
        assert_eq!(
            default_container(td, &imgs, configured).as_deref(),
            want,
            "{imgs:?} {configured:?}"
        );
    }
}

#[test]
fn the_values_to_mask_are_secret_references_and_secret_looking_values() {
    let edits = parse_all(
        &["DB_PASSWORD=hunter2".into(), "LOG_LEVEL=debug".into()],
        &["OLD".into()],
        &["API=/app/api".into()],
    )
    .unwrap();
    assert_eq!(masked_values(&edits), ["hunter2", "/app/api"]);
}

#[test]
fn a_flag_replaces_the_configs_edit_of_the_same_variable() {
    let configured = parse_all(&["A=1".into(), "web:B=2".into(), "B=3".into()], &[], &[]).unwrap();
    let flags = parse_all(&[], &["A".into()], &["web:B=/p/b".into()]).unwrap();
    let got: Vec<String> = with_flags_over(configured, flags)
        .iter()
        .map(|e| format!("{} {:?}:{}", e.flag(), e.container, e.name))
        .collect();
    assert_eq!(
        got,
        [
            "--env None:B",
            "--unset-env None:A",
            "--secret Some(\"web\"):B",
        ]
    );
}
