//! Property tests (proptest) of every parser of user input: task definition files, ecs-roll.toml,
//! image references, durations and counts. Arbitrary text, arbitrary JSON and mutations of the
//! real task definitions go in; none may panic, and what parses must be stable:
//!
//! * a parsed task definition's `to_json` parses again to the same document, carries no
//!   read-only field, and everything ecs-roll derives from it (ports, reservation, display,
//!   image swap) works;
//! * a valid image reference prints back exactly as it was written, and parses again to the
//!   same reference; references built from the grammar are accepted;
//! * durations and counts mean what they say.
//!
//! Case counts are modest (the whole file runs in a few seconds); failures are not persisted
//! to disk (proptest prints the minimal input).

use std::time::Duration;

use ecs_roll::config;
use ecs_roll::image::ImageRef;
use ecs_roll::settings::{parse_count, parse_duration};
use ecs_roll::taskdef::{READ_ONLY_FIELDS, TaskDefinition};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

const REFERENCE: &str = include_str!("../taskdefs/cb-prototype.json");
const FULL: &str = include_str!("fixtures/taskdef-full.json");

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// JSON documents

/// Keys a task definition has, so random documents get deep enough to be interesting.
const KEYS: &[&str] = &[
    "family",
    "containerDefinitions",
    "name",
    "image",
    "portMappings",
    "containerPort",
    "hostPort",
    "protocol",
    "networkMode",
    "cpu",
    "memory",
    "environment",
    "value",
    "secrets",
    "valueFrom",
    "taskDefinition",
    "tags",
    "key",
    "revision",
    "status",
    "taskDefinitionArn",
    "requiresCompatibilities",
    "famly",
    "containerDefinition",
    "volumes",
    "essential",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "\\PC{0,12}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..70_000).prop_map(Value::from),
        // Floats as people write them. Arbitrary f64s do not survive serde_json's default
        // parsing exactly (see `arbitrary_floats_survive_a_round_trip`).
        (-1_000_000i64..1_000_000, 0u32..4)
            .prop_map(|(n, scale)| Value::from(n as f64 / 10f64.powi(scale as i32))),
        "\\PC{0,24}".prop_map(Value::from),
        prop::sample::select(
            &[
                "cb-prototype",
                "nginx:1.27",
                "rafabor/prototype-4-cb:v0.0.2",
                "bridge",
                "awsvpc",
                "host",
                "512",
                "1 vCPU",
                "2 GB",
                "",
            ][..]
        )
        .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a document, at the `at`th node (pre-order, modulo the node count).
#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Replace(usize, Value),
    Insert(usize, String, Value),
    /// Wrap the whole document as DescribeTaskDefinition prints it.
    Wrap,
    DuplicateFirstContainer,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Remove),
        4 => (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        3 => (any::<usize>(), key(), json_value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        1 => Just(Mutation::Wrap),
        1 => Just(Mutation::DuplicateFirstContainer),
    ]
}

/// Pre-order paths of every node (a path is the list of keys/indices from the root).
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(json!(i));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                here.push(json!(k));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        Value::String(k) => &mut v[k.as_str()],
        _ => unreachable!(),
    })
}

fn apply(doc: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    match m {
        Mutation::Remove(i) => {
            let path = &all[i % all.len()];
            if let Some((last, parent)) = path.split_last() {
                match (node_mut(doc, parent), last) {
                    (Value::Array(a), Value::Number(n)) => {
                        a.remove(n.as_u64().unwrap() as usize);
                    }
                    (Value::Object(o), Value::String(k)) => {
                        o.remove(k);
                    }
                    _ => {}
                }
            }
        }
        Mutation::Replace(i, v) => *node_mut(doc, &all[i % all.len()]) = v.clone(),
        Mutation::Insert(i, k, v) => {
            // Into the nearest object at or above the chosen node.
            let path = &all[i % all.len()];
            for end in (0..=path.len()).rev() {
                if let Value::Object(o) = node_mut(doc, &path[..end]) {
                    o.insert(k.clone(), v.clone());
                    break;
                }
            }
        }
        Mutation::Wrap => {
            let inner = doc.take();
            *doc = json!({"taskDefinition": inner, "tags": [{"key": "k", "value": "v"}]});
        }
        Mutation::DuplicateFirstContainer => {
            if let Some(Value::Array(cs)) = doc.get_mut("containerDefinitions")
                && let Some(first) = cs.first().cloned()
            {
                cs.push(first);
            }
        }
    }
}

fn mutated(base: &'static str) -> impl Strategy<Value = Value> {
    prop::collection::vec(mutation(), 1..5).prop_map(move |ms| {
        let mut doc: Value = serde_json::from_str(base).unwrap();
        for m in &ms {
            apply(&mut doc, m);
        }
        doc
    })
}

/// What must hold for every document that parses.
fn check_parsed(td: &TaskDefinition) -> Result<(), TestCaseError> {
    let body = td.to_json();
    for f in READ_ONLY_FIELDS {
        prop_assert!(body.get(*f).is_none(), "read-only {f} kept: {body}");
    }
    let again = TaskDefinition::parse(&body.to_string(), "again");
    prop_assert!(
        again.is_ok(),
        "to_json does not parse again: {again:?}\n{body}"
    );
    let again = again.unwrap();
    prop_assert_eq!(&again, td, "to_json parses to another document");
    prop_assert_eq!(again.to_json(), body);
    prop_assert!(td.same_as(td));
    // What ecs-roll derives from a parsed document must not panic either.
    let _ = td.static_host_ports();
    let _ = td.reservation();
    let _ = td.network_mode();
    let _ = td.unknown_fields();
    let shown = td.display_json();
    prop_assert!(serde_json::from_str::<Value>(&shown).is_ok(), "{shown}");
    let image = ImageRef::parse("example.com/team/app:v2").unwrap();
    for name in td.container_names() {
        let swapped = td.with_image(&name, &image);
        prop_assert_eq!(swapped.image_of(&name), Some("example.com/team/app:v2"));
        prop_assert_eq!(swapped.family(), td.family());
    }
    let _ = td.pick_container(None, &image);
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn task_definition_parse_never_panics_on_text(text in "\\PC{0,200}") {
        if let Ok(td) = TaskDefinition::parse(&text, "fuzz") {
            check_parsed(&td)?;
        }
    }

    #[test]
    fn image_refs_never_panic_and_print_back_as_written(s in "\\PC{0,80}") {
        if let Ok(r) = ImageRef::parse(&s) {
            prop_assert_eq!(r.to_string(), s.clone());
            prop_assert_eq!(ImageRef::parse(&r.to_string()), Ok(r));
        }
    }

    #[test]
    fn image_refs_from_the_alphabet_never_panic(s in "[a-zA-Z0-9:/@._+-]{0,90}") {
        if let Ok(r) = ImageRef::parse(&s) {
            prop_assert_eq!(r.to_string(), s.clone());
            prop_assert_eq!(ImageRef::parse(&r.to_string()), Ok(r));
        }
    }

    #[test]
    fn durations_and_counts_never_panic(s in "\\PC{0,30}") {
        let _ = parse_duration(&s, "--timeout");
        let _ = parse_count(&s);
    }

    #[test]
    fn duration_like_text_never_panics(s in "[-+ ]?[0-9]{0,25}(\\.[0-9]{0,3})?[ ]?(ns|us|ms|s|m|h|d|w|M|y|min|sec|hours)?([ ][0-9]{1,5}(s|m|h))?") {
        if let Ok(d) = parse_duration(&s, "--timeout") {
            prop_assert!(!d.is_zero());
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn task_definition_parse_never_panics_on_json(doc in json_value()) {
        if let Ok(td) = TaskDefinition::parse(&doc.to_string(), "fuzz") {
            check_parsed(&td)?;
        }
    }

    #[test]
    fn mutated_reference_task_definitions(doc in mutated(REFERENCE)) {
        if let Ok(td) = TaskDefinition::parse(&doc.to_string(), "fuzz") {
            check_parsed(&td)?;
        }
    }

    #[test]
    fn mutated_full_task_definitions(doc in mutated(FULL)) {
        if let Ok(td) = TaskDefinition::parse(&doc.to_string(), "fuzz") {
            check_parsed(&td)?;
        }
    }

    #[test]
    fn config_parse_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = config::parse(&text);
    }

    #[test]
    fn config_parse_never_panics_on_toml_like_text(
        lines in prop::collection::vec(
            (
                prop_oneof![
                    4 => prop::sample::select(config::KEYS).prop_map(String::from),
                    1 => "[a-z_]{1,16}",
                    1 => "\\PC{0,10}",
                ],
                prop_oneof![
                    Just("\"cb-prototype\"".to_string()),
                    "-?[0-9]{1,22}",
                    "\"\\PC{0,20}\"",
                    "'\\PC{0,20}'",
                    Just("true".to_string()),
                    Just("[1, 2]".to_string()),
                    Just("{ a = 1 }".to_string()),
                    Just("\"\"\"\nmulti\n\"\"\"".to_string()),
                    "\\PC{0,10}",
                ],
            ),
            0..8,
        ),
        header in prop::option::of(prop_oneof![Just("[app]"), Just("[[app]]"), Just("[x]")]),
    ) {
        let mut text = header.map(|h| format!("{h}\n")).unwrap_or_default();
        for (k, v) in &lines {
            text.push_str(&format!("{k} = {v}\n"));
        }
        match config::parse(&text) {
            Ok(c) => {
                if let Some(n) = c.count {
                    prop_assert!(text.contains(&n.to_string()));
                }
            }
            Err(e) => {
                prop_assert!(!e.is_empty());
                // `line N:` points into the text.
                if let Some(n) = e.strip_prefix("line ").and_then(|r| r.split(':').next()) {
                    let n: usize = n.parse().unwrap();
                    prop_assert!(n >= 1 && n <= text.lines().count() + 1, "{e}\n{text}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Image references built from the grammar

fn component() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,8}",
        prop::collection::vec(
            (
                prop_oneof![Just("."), Just("_"), Just("__"), Just("-"), Just("--")],
                "[a-z0-9]{1,8}",
            ),
            0..3,
        ),
    )
        .prop_map(|(head, rest)| {
            let mut s = head;
            for (sep, part) in rest {
                s.push_str(sep);
                s.push_str(&part);
            }
            s
        })
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("localhost".to_string()),
        prop::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 2..4).prop_map(|l| l.join(".")),
    ]
}

fn image_ref() -> impl Strategy<Value = String> {
    (
        prop::option::of((host(), prop::option::of(1u32..65536))),
        prop::collection::vec(component(), 1..4),
        prop::option::of("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,20}"),
        prop::option::of("[0-9a-f]{64}"),
    )
        // Without a registry, a first component with a '.' (or `localhost`) would be read
        // as a registry host, as Docker reads it.
        .prop_filter(
            "no registry-like first component",
            |(registry, path, _, _)| {
                registry.is_some() || (!path[0].contains('.') && path[0] != "localhost")
            },
        )
        .prop_map(|(registry, path, tag, digest)| {
            let mut s = String::new();
            if let Some((h, port)) = registry {
                s.push_str(&h);
                if let Some(p) = port {
                    s.push_str(&format!(":{p}"));
                }
                s.push('/');
            }
            s.push_str(&path.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push_str("@sha256:");
                s.push_str(&d);
            }
            s
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn valid_image_refs_are_accepted_and_round_trip(s in image_ref()) {
        let r = ImageRef::parse(&s);
        prop_assert!(r.is_ok(), "{s}: {r:?}");
        let r = r.unwrap();
        prop_assert_eq!(r.to_string(), s.clone());
        prop_assert_eq!(ImageRef::parse(&r.to_string()), Ok(r.clone()));
        prop_assert!(!r.repository.is_empty());
    }

    #[test]
    fn seconds_minutes_and_hours_mean_what_they_say(n in 1u64..10_000_000, unit in 0usize..4) {
        let (text, secs) = match unit {
            0 => (n.to_string(), n),
            1 => (format!("{n}s"), n),
            2 => (format!("{n}m"), n * 60),
            _ => (format!("{n}h"), n * 3600),
        };
        prop_assert_eq!(parse_duration(&text, "t").ok(), Some(Duration::from_secs(secs)));
        prop_assert_eq!(parse_duration(&format!(" {text} "), "t").ok(), Some(Duration::from_secs(secs)));
    }

    #[test]
    fn counts_are_positive_whole_numbers(n in any::<i64>()) {
        let r = parse_count(&n.to_string());
        if n >= 1 {
            prop_assert_eq!(r.ok(), Some(n as usize));
        } else {
            prop_assert!(r.is_err());
        }
    }
}

#[test]
fn zero_and_negative_durations_are_refused() {
    for s in ["0", "0s", "-5s", "-1", "0m 0s", "", "  ", "1x", "s"] {
        assert!(parse_duration(s, "t").is_err(), "{s:?}");
    }
}

/// A float such as 1.20331263343992e-49 comes back from `to_json` exactly (serde_json's
/// `float_roundtrip`), so `same_as` finds the identical revision.
#[test]
fn arbitrary_floats_survive_a_round_trip() {
    let text = REFERENCE.replace("\"cpu\": 256", "\"cpu\": [1.20331263343992e-49]");
    let td = TaskDefinition::parse(&text, "float").unwrap();
    let again = TaskDefinition::parse(&td.to_json().to_string(), "again").unwrap();
    assert_eq!(again, td);
}

/// A document with a `taskDefinition` member is DescribeTaskDefinition output only when it is
/// no task definition itself: a definition's own `taskDefinition` member (unknown to ECS,
/// kept as it is) is never unwrapped, so a round trip keeps the family.
#[test]
fn a_nested_task_definition_member_survives_a_round_trip() {
    let mut mid: Value = serde_json::from_str(REFERENCE).unwrap();
    let mut other = mid.clone();
    other["family"] = json!("other");
    mid["taskDefinition"] = other;
    let td = TaskDefinition::parse(&json!({ "taskDefinition": mid }).to_string(), "x").unwrap();
    let again = TaskDefinition::parse(&td.to_json().to_string(), "again").unwrap();
    assert_eq!(again.family(), td.family());
}
