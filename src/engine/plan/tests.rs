use super::*;

const OLD: &str = "arn:td/app:1";
const NEW: &str = "arn:td/app:2";

pub(crate) fn slot(i: usize, rev: Option<&str>) -> Slot {
    let tasks = rev
        .map(|r| {
            vec![SlotTask {
                arn: format!("task-{i}"),
                task_definition_arn: r.into(),
                running: true,
            }]
        })
        .unwrap_or_default();
    let has = !tasks.is_empty();
    Slot {
        container_instance_arn: format!("ci-{i}"),
        ec2_instance_id: format!("i-{i}"),
        availability_zone: Some(format!("us-east-1{}", ["a", "b", "c"][i % 3])),
        tasks,
        registered: has,
        in_service: has,
        fits_target: !has,
        fits_after_stop: true,
    }
}

fn kinds(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| match &s.action {
            Action::Register { slots } => format!("register{}", slots.len()),
            Action::Launch { slots } => format!("launch{}", slots.len()),
            Action::Retire { slots } => format!("retire{}", slots.len()),
            Action::Replace { slot } => format!("replace:{}", slot.ec2_instance_id),
            Action::Deregister { slots } => format!(
                "deregister:{}",
                slots
                    .iter()
                    .map(|s| s.ec2_instance_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        })
        .collect()
}

#[test]
fn plans_by_spare_capacity() {
    struct Case {
        name: &'static str,
        slots: Vec<Slot>,
        count: usize,
        strategy: Strategy,
        steps: &'static [&'static str],
        min_in_service: usize,
    }
    let cases = vec![
        Case {
            name: "reference setup: 3 instances, no spare -> rolling in place",
            slots: (0..3).map(|i| slot(i, Some(OLD))).collect(),
            count: 3,
            strategy: Strategy::Rolling,
            steps: &["replace:i-0", "replace:i-1", "replace:i-2"],
            min_in_service: 2,
        },
        Case {
            name: "3 old + 3 free -> blue/green",
            slots: (0..6).map(|i| slot(i, (i < 3).then_some(OLD))).collect(),
            count: 3,
            strategy: Strategy::BlueGreen,
            steps: &["launch3", "retire3"],
            min_in_service: 3,
        },
        Case {
            name: "3 old + 1 free -> surge of 1",
            slots: (0..4).map(|i| slot(i, (i < 3).then_some(OLD))).collect(),
            count: 3,
            strategy: Strategy::Surge { surge: 1 },
            steps: &[
                "launch1", "retire1", "launch1", "retire1", "launch1", "retire1",
            ],
            min_in_service: 3,
        },
        Case {
            name: "scale up 2 -> 3 with 1 free",
            slots: (0..3).map(|i| slot(i, (i < 2).then_some(OLD))).collect(),
            count: 3,
            strategy: Strategy::Surge { surge: 1 },
            steps: &["launch1", "retire1", "launch1", "retire1", "launch1"],
            min_in_service: 2,
        },
        Case {
            name: "scale down 3 -> 1, no spare",
            slots: (0..3).map(|i| slot(i, Some(OLD))).collect(),
            count: 1,
            strategy: Strategy::Rolling,
            steps: &["replace:i-0", "retire2"],
            min_in_service: 1,
        },
        Case {
            name: "already converged",
            slots: (0..3).map(|i| slot(i, Some(NEW))).collect(),
            count: 3,
            strategy: Strategy::Nothing,
            steps: &[],
            min_in_service: 3,
        },
        Case {
            name: "resume: one instance already switched",
            slots: vec![slot(0, Some(NEW)), slot(1, Some(OLD)), slot(2, Some(OLD))],
            count: 3,
            strategy: Strategy::Rolling,
            steps: &["replace:i-1", "replace:i-2"],
            min_in_service: 2,
        },
    ];
    for c in cases {
        let p =
            plan(&c.slots, Some(NEW), c.count, false).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(p.strategy, c.strategy, "{}", c.name);
        assert_eq!(kinds(&p), c.steps, "{}", c.name);
        assert_eq!(p.min_in_service(), c.min_in_service, "{}", c.name);
        assert!(!p.downtime, "{}", c.name);
    }
}

#[test]
fn refuses_a_single_instance_without_spare_capacity() {
    let err = plan(&[slot(0, Some(OLD))], Some(NEW), 1, false).unwrap_err();
    let Refusal::Downtime { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(
        detail.contains("i-0") && detail.contains("--allow-downtime"),
        "{detail}"
    );
}

#[test]
fn allows_downtime_when_asked() {
    let p = plan(&[slot(0, Some(OLD))], Some(NEW), 1, true).unwrap();
    assert!(p.downtime);
    assert_eq!(p.min_in_service(), 0);
}

#[test]
fn a_single_instance_with_a_spare_is_blue_green() {
    let p = plan(&[slot(0, Some(OLD)), slot(1, None)], Some(NEW), 1, false).unwrap();
    assert_eq!(p.strategy, Strategy::BlueGreen);
    assert_eq!(p.min_in_service(), 1);
}

#[test]
fn refuses_more_tasks_than_instances() {
    let err = plan(
        &(0..2).map(|i| slot(i, Some(OLD))).collect::<Vec<_>>(),
        Some(NEW),
        3,
        false,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::NoCapacity {
                needed: 3,
                usable: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn free_instances_without_room_do_not_count() {
    let mut full = slot(3, None);
    full.fits_target = false;
    let mut slots: Vec<Slot> = (0..3).map(|i| slot(i, Some(OLD))).collect();
    slots.push(full);
    let p = plan(&slots, Some(NEW), 3, false).unwrap();
    assert_eq!(p.strategy, Strategy::Rolling);
}

#[test]
fn instances_out_of_service_are_replaced_first() {
    let mut slots: Vec<Slot> = (0..3).map(|i| slot(i, Some(OLD))).collect();
    slots[2].in_service = false;
    let p = plan(&slots, Some(NEW), 3, false).unwrap();
    assert_eq!(kinds(&p)[0], "replace:i-2");
    // Replacing a sick instance costs no capacity.
    assert_eq!(p.steps[0].in_service_during, 2);
}

#[test]
fn target_running_but_unregistered_is_registered() {
    let mut s = slot(0, Some(NEW));
    s.registered = false;
    s.in_service = false;
    let p = plan(&[s, slot(1, Some(NEW))], Some(NEW), 2, false).unwrap();
    assert_eq!(kinds(&p), ["register1"]);
}

#[test]
fn zero_count_is_refused() {
    assert_eq!(
        plan(&[slot(0, Some(OLD))], Some(NEW), 0, true).unwrap_err(),
        Refusal::ZeroCount
    );
}

/// An instance registered with no task behind it (a crash under --no-rollback, a killed run).
fn stray(i: usize) -> Slot {
    Slot {
        registered: true,
        ..slot(i, None)
    }
}

#[test]
fn registrations_without_a_task_get_the_new_task_first_or_are_deregistered() {
    let mut unfit = stray(3);
    unfit.fits_target = false;
    // (name, slots, target, count) -> steps
    type Case = (
        &'static str,
        Vec<Slot>,
        &'static str,
        usize,
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        (
            "a failed --no-rollback deploy rolled back: the old revision returns to the stray",
            vec![slot(0, Some(OLD)), slot(1, Some(OLD)), stray(2)],
            OLD,
            3,
            &["launch1"],
        ),
        (
            "the stray goes before a free unregistered instance",
            vec![slot(0, Some(OLD)), slot(1, None), stray(2)],
            OLD,
            2,
            &["launch1"],
        ),
        (
            "fewer tasks wanted: the stray is deregistered, first",
            vec![slot(0, Some(OLD)), slot(1, Some(OLD)), stray(2)],
            OLD,
            2,
            &["deregister:i-2"],
        ),
        (
            "no room for the target there: deregistered",
            vec![
                slot(0, Some(OLD)),
                slot(1, Some(OLD)),
                slot(2, Some(OLD)),
                unfit,
            ],
            NEW,
            3,
            &[
                "deregister:i-3",
                "replace:i-0",
                "replace:i-1",
                "replace:i-2",
            ],
        ),
    ];
    for (name, slots, target, count, steps) in cases {
        let p = plan(&slots, Some(target), count, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(kinds(&p), steps, "{name}");
        if let Some(Action::Launch { slots }) = p.steps.first().map(|s| &s.action) {
            assert_eq!(slots[0].ec2_instance_id, "i-2", "{name}");
        }
    }
}
