//! Table tests of the duration prediction.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::engine::plan::tests::slot;
use crate::engine::plan::{Step, Strategy};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn lb(interval: u64, healthy: u32, draining: Option<u64>) -> ClassicLoadBalancer {
    ClassicLoadBalancer {
        name: "lb".into(),
        instances: Vec::new(),
        listeners: Vec::new(),
        health_check: HealthCheck {
            target: "HTTP:5555/testme".into(),
            interval: secs(interval),
            timeout: secs(5),
            healthy_threshold: healthy,
            unhealthy_threshold: 2,
        },
        connection_draining: draining.map(secs),
        cross_zone: true,
        availability_zones: Vec::new(),
    }
}

fn plan_of(actions: Vec<Action>) -> Plan {
    Plan {
        strategy: Strategy::Rolling,
        count: actions.len(),
        steps: actions
            .into_iter()
            .map(|action| Step {
                action,
                in_service_during: 2,
                in_service_after: 3,
            })
            .collect(),
        in_service_before: 3,
        downtime: false,
    }
}

fn replace(i: usize) -> Action {
    Action::Replace {
        slot: slot(i, Some("td:1")),
    }
}

#[test]
fn without_a_record_each_step_is_predicted_from_the_load_balancer_settings() {
    // The reference ELB: checks every 30 s, 2 to be healthy, 60 s of draining.
    let reference = lb(30, 2, Some(60));
    let cases = [
        (replace(0), 60 + 5 + 30 + 60),
        (
            Action::Launch {
                slots: vec![slot(0, None)],
            },
            30 + 60,
        ),
        (
            Action::Retire {
                slots: vec![slot(0, Some("td:1"))],
            },
            60 + 5,
        ),
        (
            Action::Register {
                slots: vec![slot(0, Some("td:2"))],
            },
            60,
        ),
        (
            Action::Deregister {
                slots: vec![slot(0, None)],
            },
            60,
        ),
    ];
    for (action, want) in cases {
        let p = standalone(&reference, &plan_of(vec![action.clone()]), secs(0), None);
        assert_eq!(p.steps, [secs(want)], "{action:?}");
        assert_eq!(p.learned_from, None);
    }
    // The health grace period delays InService; no draining costs nothing.
    let p = standalone(&lb(10, 3, None), &plan_of(vec![replace(0)]), secs(20), None);
    assert_eq!(p.steps, [secs(5 + 30 + 30 + 20)]);
}

#[test]
fn a_recorded_deploy_predicts_the_kinds_of_step_it_had_and_settings_the_rest() {
    let observed = Observed::parse("replace=125.5 launch=40");
    let plan = plan_of(vec![
        replace(0),
        replace(1),
        Action::Retire {
            slots: vec![slot(2, Some("td:1"))],
        },
    ]);
    let p = standalone(
        &lb(30, 2, Some(60)),
        &plan,
        secs(0),
        Some(("td:1".into(), observed)),
    );
    let replace = Duration::from_secs_f64(125.5);
    assert_eq!(p.steps, [replace, replace, secs(65)]);
    assert_eq!(p.total, replace * 2 + secs(65));
    assert_eq!(p.learned_from.as_deref(), Some("td:1"));
    assert_eq!(p.left_after(1), replace + secs(65));
}

#[test]
fn the_record_is_the_mean_per_kind_and_reads_back_as_written() {
    let o = Observed::from_steps(&[
        (StepKind::Replace, secs(120)),
        (StepKind::Replace, Duration::from_millis(130_500)),
        (StepKind::Retire, secs(65)),
    ]);
    assert_eq!(o.tag(), "retire=65.0 replace=125.2");
    assert_eq!(Observed::parse(&o.tag()).tag(), o.tag());
}

#[test]
fn a_damaged_record_is_read_for_what_it_holds() {
    for (tag, want) in [
        (
            "replace=12 bogus=3 launch=x retire=-1 register=inf",
            "replace=12.0",
        ),
        ("", ""),
        ("replace", ""),
        ("launch=1e3", "launch=1000.0"),
    ] {
        assert_eq!(Observed::parse(tag).tag(), want, "{tag}");
    }
    let rev = |tags: &[(&str, &str)]| Revision {
        arn: "arn:td:1".into(),
        family: "td".into(),
        revision: 1,
        body: serde_json::Value::Null,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    };
    assert_eq!(Observed::of(&rev(&[])), None);
    assert_eq!(Observed::of(&rev(&[(TAG_TIMINGS, "bogus=1")])), None);
    let (name, o) = Observed::of(&rev(&[(TAG_TIMINGS, "rollout=300")])).unwrap();
    assert_eq!((name.as_str(), o.tag().as_str()), ("td:1", "rollout=300.0"));
}

#[test]
fn a_service_rolls_in_rounds_its_deployment_configuration_allows() {
    let timings = ServiceTimings {
        healthy: secs(150),
        draining: secs(300),
    };
    let per_round = 30 + 150 + 300 + 5;
    let choice = |surge: i64, min_healthy_tasks: i64| Choice {
        maximum_percent: 200,
        minimum_healthy_percent: 100,
        min_healthy_tasks,
        surge,
        downtime: false,
    };
    let cases = [
        // desired, surge, min healthy -> rounds
        (3, 3, 3, 1),
        (3, 1, 3, 3),
        (3, 0, 2, 3),
        (4, 1, 3, 2),
        (0, 0, 0, 1),
    ];
    for (desired, surge, min, rounds) in cases {
        let p = service(desired, &choice(surge, min), timings, None);
        assert_eq!(p.total, secs(per_round * rounds), "{desired} {surge} {min}");
        assert_eq!(p.learned_from, None);
    }
    let learned = Some(("web:4".into(), Observed::parse("rollout=410.2")));
    let p = service(3, &choice(3, 3), timings, learned);
    assert_eq!(p.steps, [Duration::from_secs_f64(410.2)]);
    assert_eq!(p.learned_from.as_deref(), Some("web:4"));
    // A record without a rollout (a standalone deploy's) teaches a service nothing.
    let p = service(
        3,
        &choice(3, 3),
        timings,
        Some(("web:4".into(), Observed::parse("replace=1"))),
    );
    assert_eq!((p.total, p.learned_from), (secs(per_round), None));
}
