//! Table tests of the deploy flags' parsing and of the containers they change.

use serde_json::json;

use super::*;

fn td(containers: &[(&str, &str)]) -> TaskDefinition {
    let defs: Vec<_> = containers
        .iter()
        .map(|(n, i)| json!({"name": n, "image": i, "memory": 128}))
        .collect();
    TaskDefinition::parse(
        &json!({"family": "app", "containerDefinitions": defs}).to_string(),
        "td.json",
    )
    .unwrap()
}

fn args(v: &[&str]) -> Vec<ImageArg> {
    v.iter().map(|s| parse_image_arg(s).unwrap()).collect()
}

fn usage_message(r: Result<impl std::fmt::Debug, Error>) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    e.to_string()
}

#[test]
fn an_image_flag_is_a_plain_image_or_a_container_and_an_image() {
    let cases = [
        ("acme/web:v2", None, "acme/web:v2"),
        ("web=acme/web:v2", Some("web"), "acme/web:v2"),
        (
            "side-car=localhost:5000/x:1",
            Some("side-car"),
            "localhost:5000/x:1",
        ),
    ];
    for (input, container, image) in cases {
        let a = parse_image_arg(input).unwrap();
        assert_eq!(a.container.as_deref(), container, "{input}");
        assert_eq!(a.image.to_string(), image, "{input}");
    }
}

#[test]
fn a_malformed_container_equals_image_is_a_usage_error_naming_it() {
    for (bad, says) in [
        ("=acme/web:v2", "no container name"),
        ("web=", "invalid image"),
        ("web=Acme/Web", "invalid image"),
        ("web=acme/web:v2=x", "invalid image"),
    ] {
        let msg = usage_message(parse_image_arg(bad));
        assert!(msg.contains(says) && msg.contains(bad), "{bad}: {msg}");
    }
}

#[test]
fn images_go_to_the_containers_they_name_or_fit() {
    let web_worker = td(&[("web", "acme/web:v1"), ("worker", "acme/worker:v1")]);
    // (--image values, --container, the containers and images chosen)
    type Case = (
        &'static [&'static str],
        Option<&'static str>,
        &'static [(&'static str, &'static str)],
    );
    let cases: [Case; 5] = [
        (
            &["web=acme/web:v2", "worker=acme/worker:v2"],
            None,
            &[("web", "acme/web:v2"), ("worker", "acme/worker:v2")],
        ),
        (&["acme/worker:v2"], None, &[("worker", "acme/worker:v2")]),
        (
            &["acme/web:v2", "worker=acme/worker:v2"],
            None,
            &[("web", "acme/web:v2"), ("worker", "acme/worker:v2")],
        ),
        (
            &["other/thing:1"],
            Some("worker"),
            &[("worker", "other/thing:1")],
        ),
        (
            &["worker=other/thing:1"],
            Some("web"),
            &[("worker", "other/thing:1")],
        ),
    ];
    for (given, default, want) in cases {
        let got = assign_images(&web_worker, default, &args(given)).unwrap();
        let got: Vec<(String, String)> = got.into_iter().map(|(c, i)| (c, i.to_string())).collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(c, i)| (c.to_string(), i.to_string()))
            .collect();
        assert_eq!(got, want, "{given:?}");
    }
}

#[test]
fn an_image_for_a_single_container_definition_needs_no_name() {
    let one = td(&[("app", "nginx:1.26")]);
    let got = assign_images(&one, None, &args(&["other/x:2"])).unwrap();
    assert_eq!(got[0].0, "app");
}

#[test]
fn unknown_twice_named_and_ambiguous_containers_are_refused_naming_them() {
    let web_worker = td(&[("web", "acme/app:v1"), ("worker", "acme/app:v1")]);
    let cases: [(&[&str], &[&str]); 4] = [
        (&["db=acme/app:v2"], &["\"db\"", "web, worker"]),
        (
            &["web=acme/app:v2", "web=acme/app:v3"],
            &["\"web\"", "two images"],
        ),
        (&["acme/app:v2"], &["web, worker", "several containers"]),
        (&["other/x:1"], &["web, worker", "none runs"]),
    ];
    for (given, says) in cases {
        let msg = usage_message(assign_images(&web_worker, None, &args(given)));
        for s in says {
            assert!(msg.contains(s), "{given:?}: {msg}");
        }
    }
}

#[test]
fn every_assigned_image_lands_in_its_container_and_nothing_else_changes() {
    let base = td(&[
        ("web", "acme/web:v1"),
        ("worker", "acme/worker:v1"),
        ("log", "fluent:1"),
    ]);
    let images = assign_images(
        &base,
        None,
        &args(&["web=acme/web:v2", "worker=acme/worker:v2"]),
    )
    .unwrap();
    let out = apply_images(&base, &images);
    assert_eq!(out.image_of("web"), Some("acme/web:v2"));
    assert_eq!(out.image_of("worker"), Some("acme/worker:v2"));
    assert_eq!(out.image_of("log"), Some("fluent:1"));
}

#[test]
fn the_flags_say_what_to_roll_out_or_are_refused_together() {
    let img = ["acme/web:v2".to_string()];
    let none: [String; 0] = [];
    // (images, --revision, --task-definition given) -> what is rolled out, or the error.
    type Case<'a> = (
        &'a [String],
        Option<&'a str>,
        bool,
        Result<&'a str, &'a str>,
    );
    let cases: [Case; 8] = [
        (&img, None, false, Ok("definition with 1 image(s)")),
        (&img, None, true, Ok("definition with 1 image(s)")),
        (&none, None, true, Ok("definition with 0 image(s)")),
        (&none, Some("7"), false, Ok("revision 7")),
        (&none, Some(" web:7 "), false, Ok("revision web:7")),
        (&img, Some("7"), false, Err("takes no --image")),
        (
            &none,
            Some("7"),
            true,
            Err("--revision and --task-definition"),
        ),
        (&none, None, false, Err("nothing to deploy")),
    ];
    for (images, revision, file, want) in cases {
        let got = release(&Flags {
            images,
            revision,
            task_definition_given: file,
            ..Flags::default()
        });
        match (got, want) {
            (Ok(Release::Revision(r)), Ok(w)) => assert_eq!(format!("revision {r}"), w),
            (Ok(Release::Definition { images, .. }), Ok(w)) => {
                assert_eq!(format!("definition with {} image(s)", images.len()), w)
            }
            (Err(e), Err(w)) => {
                assert_eq!(e.exit_code(), 2);
                assert!(e.to_string().contains(w), "{e}");
            }
            (got, want) => panic!("{images:?} {revision:?} {file}: got {got:?}, want {want:?}"),
        }
    }
    assert!(
        release(&Flags {
            revision: Some(""),
            ..Flags::default()
        })
        .is_err()
    );
}

#[test]
fn variable_flags_alone_are_a_release_and_never_go_with_a_revision() {
    let env = ["LOG_LEVEL=debug".to_string()];
    let secret = ["DB_PASSWORD=/prod/db".to_string()];
    match release(&Flags {
        env: &env,
        ..Flags::default()
    }) {
        Ok(Release::Definition { images, env }) => {
            assert!(images.is_empty());
            assert_eq!(env.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    for (env, secrets, says) in [
        (&env[..], &[][..], "takes no --env"),
        (&[][..], &secret[..], "takes no --secret"),
    ] {
        let e = release(&Flags {
            revision: Some("7"),
            env,
            secrets,
            ..Flags::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    let bad = ["LOG_LEVEL".to_string()];
    let e = release(&Flags {
        env: &bad,
        ..Flags::default()
    })
    .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string()
            .contains("--env \"LOG_LEVEL\" has no '=VALUE'"),
        "{e}"
    );
}
