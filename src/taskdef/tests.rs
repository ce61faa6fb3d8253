//! Table tests of task definition parsing, editing and comparison.

use serde_json::json;

use super::*;

fn doc(v: Value) -> String {
    v.to_string()
}

fn parse(v: Value) -> Result<TaskDefinition, TaskDefError> {
    TaskDefinition::parse(&doc(v), "td.json")
}

fn td(v: Value) -> TaskDefinition {
    parse(v).unwrap_or_else(|e| panic!("should parse: {e}"))
}

fn image(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

fn web(image: &str) -> Value {
    json!({"name": "web", "image": image, "memory": 256})
}

fn problem(r: Result<TaskDefinition, TaskDefError>) -> String {
    match r {
        Err(TaskDefError::Shape { path, problem }) => {
            assert_eq!(path, "td.json");
            problem
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn malformed_or_truncated_json_is_a_json_error_naming_the_file() {
    for text in [
        "",
        "{",
        r#"{"family": "web", "containerDefinitions": ["#,
        "{family: web}",
        "[1, 2",
    ] {
        match TaskDefinition::parse(text, "td.json") {
            Err(TaskDefError::Json { path, detail }) => {
                assert_eq!(path, "td.json");
                assert!(!detail.is_empty());
            }
            other => panic!("{text:?}: expected a JSON error, got {other:?}"),
        }
    }
}

#[test]
fn shape_errors_say_what_is_wrong() {
    let cases = [
        (json!([1]), "must be a JSON object"),
        (
            json!({"containerDefinitions": [web("nginx")]}),
            "\"family\" is missing",
        ),
        (
            json!({"family": 7, "containerDefinitions": [web("nginx")]}),
            "\"family\" must be a string",
        ),
        (
            json!({"family": "has space", "containerDefinitions": [web("nginx")]}),
            "is not valid",
        ),
        (
            json!({"family": "web"}),
            "\"containerDefinitions\" is missing",
        ),
        (
            json!({"family": "web", "containerDefinitions": []}),
            "\"containerDefinitions\" is empty",
        ),
        (
            json!({"family": "web", "containerDefinitions": {}}),
            "must be an array",
        ),
        (
            json!({"family": "web", "containerDefinitions": ["web"]}),
            "containerDefinitions[0] must be an object",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"image": "nginx"}]}),
            "containerDefinitions[0] has no \"name\"",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"name": "web"}]}),
            "container \"web\" has no \"image\"",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": ""}]}),
            "has no \"image\"",
        ),
        (
            json!({"family": "web", "containerDefinitions": [web("a"), web("b")]}),
            "two containers are named \"web\"",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx", "portMappings": {}}]}),
            "\"portMappings\" must be an array",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx",
                "portMappings": [{"containerPort": 70000}]}]}),
            "containerPort 70000 is not a port number",
        ),
        (
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx",
                "portMappings": [{"containerPort": 80, "hostPort": "80"}]}]}),
            "hostPort \"80\" is not a port number",
        ),
    ];
    for (v, want) in cases {
        let got = problem(parse(v.clone()));
        assert!(got.contains(want), "{v}: {got:?} should contain {want:?}");
    }
}

#[test]
fn misspelt_fields_are_refused_with_a_suggestion() {
    let cases = [
        ("containerDefinition", "containerDefinitions"),
        ("Family", "family"),
        ("exectionRoleArn", "executionRoleArn"),
        ("netwrokMode", "networkMode"),
        ("tagz", "tags"),
    ];
    for (typo, known) in cases {
        let mut v = json!({"family": "web", "containerDefinitions": [web("nginx")]});
        v[typo] = json!("x");
        if typo == "containerDefinition" {
            v.as_object_mut().unwrap().remove("containerDefinitions");
            v[typo] = json!([web("nginx")]);
        }
        let got = problem(parse(v));
        assert!(
            got.contains(&format!("unknown field {typo:?}: did you mean {known:?}?")),
            "{typo}: {got}"
        );
    }
}

#[test]

fn a_singular_of_an_ies_plural_is_a_typo() {
    let v = json!({"family": "web", "containerDefinitions": [web("nginx")], "requiresCompatibility": ["EC2"]});
    let got = problem(parse(v));
    assert!(
        got.contains("did you mean \"requiresCompatibilities\"?"),
        "{got}"
    );
}

#[test]
fn unknown_fields_that_are_no_typo_are_kept_and_sent() {
    let t = td(json!({
        "family": "web",
        "containerDefinitions": [web("nginx")],
        "futureField": {"x": 1},
        "somethingNew": true,
    }));
    assert_eq!(t.unknown_fields(), ["futureField", "somethingNew"]);
    assert_eq!(t.to_json()["futureField"], json!({"x": 1}));
    assert_eq!(t.to_json()["somethingNew"], json!(true));
}

#[test]
fn read_only_fields_of_a_revision_are_stripped() {
    let mut v = json!({"family": "web", "containerDefinitions": [web("nginx")], "cpu": "256"});
    for (i, f) in READ_ONLY_FIELDS.iter().enumerate() {
        v[*f] = json!(format!("value {i}"));
    }
    let t = td(v);
    let out = t.to_json();
    for f in READ_ONLY_FIELDS {
        assert!(out.get(*f).is_none(), "{f} should be stripped");
    }
    assert_eq!(
        out,
        json!({"family": "web", "containerDefinitions": [web("nginx")], "cpu": "256"})
    );
}

#[test]
fn describe_task_definition_output_is_unwrapped_with_its_tags() {
    let described = json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "family": "web",
            "revision": 3,
            "status": "ACTIVE",
            "containerDefinitions": [web("nginx:1")],
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "compatibilities": ["EC2"],
            "registeredAt": "2024-01-01T00:00:00Z",
        },
        "tags": [{"key": "team", "value": "payments"}],
    });
    let t = td(described);
    assert_eq!(t.family(), "web");
    assert_eq!(
        t.to_json(),
        json!({"family": "web", "containerDefinitions": [web("nginx:1")], "tags": [{"key": "team", "value": "payments"}]})
    );
}

#[test]
fn from_revision_strips_read_only_fields_of_the_raw_body() {
    let rev = Revision {
        arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3".into(),
        family: "web".into(),
        revision: 3,
        body: json!({"family": "web", "revision": 3, "status": "ACTIVE", "containerDefinitions": [web("nginx")],
            "futureField": 1}),
        tags: Default::default(),
    };
    let t = TaskDefinition::from_revision(&rev);
    assert_eq!(
        t.to_json(),
        json!({"family": "web", "containerDefinitions": [web("nginx")], "futureField": 1})
    );
}

fn two_containers() -> TaskDefinition {
    td(json!({"family": "web", "containerDefinitions": [
        web("registry.example.com/team/web:v1"),
        {"name": "sidecar", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40", "memory": 64},
    ]}))
}

#[test]
fn pick_container_chooses_the_named_the_only_or_the_same_repository() {
    let single = td(json!({"family": "web", "containerDefinitions": [web("nginx:1")]}));
    let two = two_containers();
    let new = image("registry.example.com/team/web:v2");
    let other = image("redis:7");
    // (task definition, --container, new image, chosen container or error text)
    type Case<'a> = (
        &'a TaskDefinition,
        Option<&'a str>,
        &'a ImageRef,
        Result<&'a str, &'a str>,
    );
    let cases: [Case; 6] = [
        (&single, None, &other, Ok("web")),
        (&single, Some("web"), &other, Ok("web")),
        (&two, None, &new, Ok("web")),
        (&two, Some("sidecar"), &new, Ok("sidecar")),
        (
            &two,
            Some("db"),
            &new,
            Err("no container named \"db\" (it has: web, sidecar)"),
        ),
        (
            &two,
            None,
            &other,
            Err("has 2 containers (web, sidecar); say which one"),
        ),
    ];
    for (t, named, img, want) in cases {
        let got = t.pick_container(named, img).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w),
            (Err(g), Err(w)) => assert!(g.contains(w), "{g:?} should contain {w:?}"),
            (g, w) => panic!("{named:?} {img}: got {g:?}, want {w:?}"),
        }
    }
}

#[test]
fn pick_container_is_ambiguous_when_two_share_the_repository() {
    let t = td(json!({"family": "web", "containerDefinitions": [
        web("app:v1"),
        {"name": "worker", "image": "app:v1", "memory": 128},
    ]}));
    let err = t.pick_container(None, &image("app:v2")).unwrap_err();
    assert_eq!(
        err,
        TaskDefError::AmbiguousContainer {
            count: 2,
            names: "web, worker".into()
        }
    );
}

#[test]
fn with_image_changes_only_the_chosen_container() {
    let t = two_containers();
    let before = t.to_json();
    let after = t
        .with_image("web", &image("registry.example.com/team/web:v2"))
        .to_json();
    assert_eq!(
        after["containerDefinitions"][0]["image"],
        "registry.example.com/team/web:v2"
    );
    let mut expected = before.clone();
    expected["containerDefinitions"][0]["image"] = json!("registry.example.com/team/web:v2");
    assert_eq!(after, expected);
    assert_eq!(t.to_json(), before, "the original is untouched");
    assert_eq!(t.image_of("web"), Some("registry.example.com/team/web:v1"));
}

fn with_ports(mode: Option<&str>, mappings: Value) -> TaskDefinition {
    let mut v = json!({"family": "web", "containerDefinitions": [
        {"name": "web", "image": "nginx", "memory": 128, "portMappings": mappings},
        {"name": "metrics", "image": "exporter", "memory": 32, "portMappings": [{"containerPort": 9100, "hostPort": 9100}]},
    ]});
    if let Some(m) = mode {
        v["networkMode"] = json!(m);
    }
    td(v)
}

#[test]
fn static_host_ports_by_network_mode() {
    let mappings = json!([
        {"containerPort": 80, "hostPort": 8080},
        {"containerPort": 443},
        {"containerPort": 5000, "hostPort": 0},
        {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
    ]);
    // Bridge (the default): only explicit non-zero host ports; dynamic ones are unknowable.
    assert_eq!(
        with_ports(None, mappings.clone()).static_host_ports(),
        [8080, 9100]
    );
    assert_eq!(
        with_ports(Some("bridge"), mappings.clone()).static_host_ports(),
        [8080, 9100]
    );
    // Host: the container port is the host port unless one is given.
    assert_eq!(
        with_ports(Some("host"), mappings.clone()).static_host_ports(),
        [443, 5000, 8080, 9100]
    );
    assert_eq!(
        with_ports(Some("bridge"), json!([])).static_host_ports(),
        [9100]
    );
}

#[test]

fn static_host_ports_are_none_in_awsvpc_mode() {
    let t = with_ports(
        Some("awsvpc"),
        json!([{"containerPort": 8080, "hostPort": 8080}, {"containerPort": 443}]),
    );
    assert_eq!(t.static_host_ports(), Vec::<u16>::new());
}

#[test]
fn reservation_prefers_the_task_size_then_sums_containers() {
    let containers = json!([
        {"name": "a", "image": "a", "cpu": 256, "memory": 512},
        {"name": "b", "image": "b", "cpu": 128, "memoryReservation": 64},
        {"name": "c", "image": "c"},
    ]);
    let cases = [
        (
            json!({}),
            Reservation {
                cpu: 384,
                memory: 576,
            },
        ),
        (
            json!({"cpu": "1024", "memory": "2048"}),
            Reservation {
                cpu: 1024,
                memory: 2048,
            },
        ),
        (
            json!({"cpu": 512}),
            Reservation {
                cpu: 512,
                memory: 576,
            },
        ),
        (
            json!({"memory": " 3072 "}),
            Reservation {
                cpu: 384,
                memory: 3072,
            },
        ),
    ];
    for (task_level, want) in cases {
        let mut v = json!({"family": "web", "containerDefinitions": containers});
        for (k, val) in task_level.as_object().unwrap() {
            v[k] = val.clone();
        }
        assert_eq!(td(v).reservation(), want, "{task_level}");
    }
}

#[test]

fn reservation_understands_unit_task_sizes() {
    let t = td(
        json!({"family": "web", "cpu": "1 vCPU", "memory": "2 GB", "containerDefinitions": [web("nginx")]}),
    );
    assert_eq!(
        t.reservation(),
        Reservation {
            cpu: 1024,
            memory: 2048
        }
    );
}

#[test]

fn reservation_uses_the_soft_limit_when_both_are_set() {
    let t = td(json!({"family": "web", "containerDefinitions": [
        {"name": "a", "image": "a", "memory": 1024, "memoryReservation": 256}
    ]}));
    assert_eq!(t.reservation().memory, 256);
}

#[test]
fn same_as_ignores_the_defaults_ecs_fills_in() {
    let file = td(json!({
        "family": "web",
        "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 256,
            "portMappings": [{"containerPort": 80, "hostPort": 8080}]}],
        "tags": [{"key": "team", "value": "a"}],
    }));
    let registered = td(json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4",
            "revision": 4,
            "status": "ACTIVE",
            "family": "web",
            "networkMode": "bridge",
            "volumes": [],
            "placementConstraints": [],
            "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 256, "cpu": 0,
                "essential": true, "environment": [], "mountPoints": [], "volumesFrom": [], "systemControls": [],
                "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]}],
        },
        "tags": [{"key": "team", "value": "b"}],
    }));
    assert!(
        file.same_as(&registered),
        "only ECS defaults and tags differ"
    );
    assert!(registered.same_as(&file));

    let differs = [
        file.with_image("web", &image("nginx:2")),
        td(
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 512,
            "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}),
        ),
        td(
            json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 256,
            "essential": false, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}),
        ),
        td(
            json!({"family": "web", "networkMode": "host", "containerDefinitions": [{"name": "web", "image": "nginx:1",
            "memory": 256, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}),
        ),
    ];
    for d in differs {
        assert!(!file.same_as(&d), "{}", d.display_json());
    }
}

#[test]
fn display_json_masks_secrets_and_drops_defaults() {
    let t = td(
        json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx", "essential": true,
        "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "PORT", "value": "80"}],
        "secrets": [{"name": "API_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:k"}]}]}),
    );
    let shown = t.display_json();
    assert!(
        !shown.contains("hunter2") && !shown.contains("secret:k"),
        "{shown}"
    );
    assert!(
        shown.contains("\"PORT\"") && shown.contains("\"80\""),
        "{shown}"
    );
    assert!(!shown.contains("essential"), "{shown}");
}

#[test]
fn the_full_fixture_parses_and_keeps_every_field() {
    let text = include_str!("../../tests/fixtures/taskdef-full.json");
    let raw: Value = serde_json::from_str(text).unwrap();
    let t = TaskDefinition::parse(text, "taskdef-full.json").unwrap();
    assert_eq!(t.to_json(), raw);
    assert_eq!(
        t.unknown_fields(),
        [
            "futureField",
            "containerDefinitions[0].futureContainerField"
        ]
    );
    for known in known_fields() {
        assert!(raw.get(known).is_some(), "the fixture lacks {known}");
    }
}

#[test]
fn udp_mappings_take_no_tcp_host_port() {
    let t = td(
        json!({"family": "web", "containerDefinitions": [{"name": "a", "image": "a", "memory": 64,
        "portMappings": [{"containerPort": 53, "hostPort": 53, "protocol": "udp"}, {"containerPort": 80, "hostPort": 8080}]}]}),
    );
    assert_eq!(t.static_host_ports(), vec![8080]);
}

#[test]
fn an_awsvpc_file_matches_its_revision_with_the_host_port_ecs_filled_in() {
    let file = td(
        json!({"family": "web", "networkMode": "awsvpc", "containerDefinitions": [{"name": "a", "image": "a", "memory": 64,
        "portMappings": [{"containerPort": 80}]}]}),
    );
    let registered = td(
        json!({"family": "web", "networkMode": "awsvpc", "containerDefinitions": [{"name": "a", "image": "a", "memory": 64,
        "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]}]}),
    );
    assert!(file.same_as(&registered));
    let other = td(
        json!({"family": "web", "networkMode": "awsvpc", "containerDefinitions": [{"name": "a", "image": "a", "memory": 64,
        "portMappings": [{"containerPort": 81, "hostPort": 81}]}]}),
    );
    assert!(!file.same_as(&other));
}

#[test]
fn misspelt_fields_below_the_top_level_are_refused_with_their_path() {
    let container = |extra: Value| {
        let mut c = web("nginx");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        json!({"family": "web", "containerDefinitions": [c]})
    };
    let cases = [
        (
            container(json!({"portBindings": [{"containerPort": 80}]})),
            r#"unknown field "containerDefinitions[0].portBindings" (ECS's ContainerDefinition has no "portBindings"): did you mean "portMappings"?"#,
        ),
        (
            container(json!({"portMappings": [{"containerPort": 80, "hostport": 80}]})),
            r#"unknown field "containerDefinitions[0].portMappings[0].hostport" (ECS's PortMapping has no "hostport"): did you mean "hostPort"?"#,
        ),
        (
            container(json!({"healthCheck": {"command": ["CMD"], "intervall": 5}})),
            r#"did you mean "interval"?"#,
        ),
        (
            json!({"family": "web", "containerDefinitions": [web("nginx")],
                   "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDir": "/"}}]}),
            r#"unknown field "volumes[0].efsVolumeConfiguration.rootDir" (ECS's EfsVolumeConfiguration has no "rootDir"): did you mean "rootDirectory"?"#,
        ),
    ];
    for (v, want) in cases {
        let got = problem(parse(v));
        assert!(got.contains(want), "{got}\n  should contain: {want}");
    }
}

#[test]
fn unknown_fields_below_the_top_level_that_are_no_typo_are_kept_with_a_note() {
    let mut c = web("nginx");
    c["inferenceDevices"] = json!(["x"]);
    let t = td(json!({"family": "web", "containerDefinitions": [c]}));
    assert_eq!(
        t.to_json()["containerDefinitions"][0]["inferenceDevices"],
        json!(["x"])
    );
    assert_eq!(
        t.field_notes(),
        [FieldNote::Unknown(
            "containerDefinitions[0].inferenceDevices".into()
        )]
    );
}

#[test]
fn free_form_maps_and_every_member_the_api_defines_pass() {
    let v = json!({
        "family": "web",
        "containerDefinitions": [{
            "name": "web", "image": "nginx", "memory": 256,
            "dockerLabels": {"anyLabel": "x"},
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"},
                                 "secretOptions": [{"name": "n", "valueFrom": "arn"}]},
            "restartPolicy": {"enabled": true, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
            "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"]}, "initProcessEnabled": true},
            "versionConsistency": "disabled",
            "portMappings": [{"containerPort": 80, "containerPortRange": "", "appProtocol": "http"}]
        }],
        "volumes": [{"name": "d", "dockerVolumeConfiguration": {"driverOpts": {"k": "v"}, "labels": {"a": "b"}}}],
    });
    let t = td(v.clone());
    assert_eq!(t.to_json(), v);
    assert!(t.field_notes().is_empty(), "{:?}", t.field_notes());
}

#[test]
fn empty_strings_for_enums_are_left_out_with_a_note() {
    let t = td(json!({
        "family": "web",
        "ipcMode": "",
        "containerDefinitions": [{
            "name": "web", "image": "nginx", "memory": 256, "versionConsistency": "",
            "portMappings": [{"containerPort": 80, "appProtocol": "", "name": ""}]
        }],
        "pidMode": "",
    }));
    assert_eq!(
        t.to_json(),
        json!({"family": "web", "containerDefinitions": [{
            "name": "web", "image": "nginx", "memory": 256,
            "portMappings": [{"containerPort": 80, "name": ""}]}]})
    );
    assert_eq!(
        t.field_notes(),
        [
            FieldNote::EmptyEnumDropped("ipcMode".into()),
            FieldNote::EmptyEnumDropped("containerDefinitions[0].versionConsistency".into()),
            FieldNote::EmptyEnumDropped(
                "containerDefinitions[0].portMappings[0].appProtocol".into()
            ),
            FieldNote::EmptyEnumDropped("pidMode".into()),
        ]
    );
}

#[test]
fn stripping_read_only_fields_keeps_the_order_of_the_others() {
    let text = r#"{"taskDefinitionArn": "arn", "family": "web", "revision": 3,
        "containerDefinitions": [{"name": "web", "image": "nginx"}], "status": "ACTIVE",
        "cpu": "256", "compatibilities": ["EC2"], "memory": "512", "networkMode": "bridge"}"#;
    let t = TaskDefinition::parse(text, "td.json").unwrap();
    let keys: Vec<&String> = t.body.keys().collect();
    assert_eq!(
        keys,
        [
            "family",
            "containerDefinitions",
            "cpu",
            "memory",
            "networkMode"
        ]
    );
}

#[test]
fn an_efs_volume_without_a_root_directory_matches_its_revision() {
    let volume = |efs: Value| {
        json!({"family": "web", "containerDefinitions": [web("nginx")],
               "volumes": [{"name": "data", "efsVolumeConfiguration": efs}]})
    };
    let file = td(volume(json!({"fileSystemId": "fs-1"})));
    let stored = td(volume(
        json!({"fileSystemId": "fs-1", "rootDirectory": "/"}),
    ));
    assert!(file.same_as(&stored));
    let elsewhere = td(volume(
        json!({"fileSystemId": "fs-1", "rootDirectory": "/app"}),
    ));
    assert!(!file.same_as(&elsewhere));
}

#[test]
fn pick_container_treats_docker_hub_spellings_as_one_repository() {
    let t = td(json!({"family": "web", "containerDefinitions": [
        {"name": "proxy", "image": "docker.io/library/nginx:1.25"},
        {"name": "app", "image": "acme/app:v1"},
    ]}));
    assert_eq!(
        t.pick_container(None, &image("nginx:1.27")).unwrap(),
        "proxy"
    );
    assert_eq!(
        t.pick_container(None, &image("docker.io/nginx:1.27"))
            .unwrap(),
        "proxy"
    );
    assert_eq!(
        t.pick_container(None, &image("docker.io/acme/app:v2"))
            .unwrap(),
        "app"
    );
}

/// `fields.rs` is what the generator makes of the aws-sdk-ecs that Cargo.lock pins: after an
/// upgrade of the crate this fails until the tables are generated again.
#[test]
fn the_field_tables_match_the_locked_aws_sdk_ecs_model() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let root = env!("CARGO_MANIFEST_DIR");
    let generated = Command::new("python3")
        .arg(format!("{root}/scripts/gen-taskdef-fields.py"))
        .output()
        .expect("python3 runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let mut fmt = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    fmt.stdin
        .take()
        .unwrap()
        .write_all(&generated.stdout)
        .unwrap();
    let formatted = fmt.wait_with_output().unwrap();
    assert!(formatted.status.success());
    let committed = include_str!("fields.rs");
    assert!(
        String::from_utf8_lossy(&formatted.stdout) == committed,
        "src/taskdef/fields.rs is stale: run scripts/gen-taskdef-fields.py > src/taskdef/fields.rs && rustfmt --edition 2024 src/taskdef/fields.rs"
    );
}
