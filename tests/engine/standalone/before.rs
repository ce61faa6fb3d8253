//! `deploy --before`: the command runs in a one-off task of the revision the deploy rolls
//! out, under the lock, and the rollout starts only if every essential container exited 0.
//! A command that fails, is OOM-killed or runs past --run-timeout rolls nothing out: every
//! instance keeps serving the old revision, and the new one stays registered but unrecorded.

use super::*;
use ecs_roll::engine::events::Event;
use ecs_roll::engine::oneoff::before::Before;
use ecs_roll::engine::oneoff::variant::{TAG_ONE_OFF, one_off_family};
use ecs_roll::engine::oneoff::{End, OneOffEvent};
use ecs_roll::platform::RunTaskRequest;
use ecs_roll::sim::Command;

const MIGRATE: &str = "./migrate up";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `--before "./migrate up"` on the reference setup (the cluster's instances, EC2).
fn before(run: &Run, timeout: Duration) -> Options {
    Options {
        before: Some(Arc::new(Before {
            typed: MIGRATE.into(),
            command: vec!["./migrate".into(), "up".into()],
            container: "cb-prototype".into(),
            placement: RunTaskRequest {
                cluster: "cb-prototype".into(),
                started_by: "ecs-roll/before".into(),
                launch_type: Some("EC2".into()),
                ..Default::default()
            },
            timeout,
            leave_running: false,
            tasks: run.sim.one_offs(),
            logs: run.sim.logs(),
        })),
        ..opts()
    }
}

/// The new revision as AWS has it, with its tags.
async fn registered(run: &Run) -> ecs_roll::platform::Revision {
    run.sim
        .ecs()
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap()
}

fn position(events: &[Event], wanted: impl Fn(&Event) -> bool) -> Option<usize> {
    events.iter().position(wanted)
}

#[tokio::test(start_paused = true)]
async fn a_before_command_that_exits_0_runs_in_the_new_revision_and_then_the_rollout_follows() {
    let run = Run::new(world(3));
    run.sim.set_command(MIGRATE, Command::exits(secs(10), 0));
    let out = run.deploy_with(V2, before(&run, secs(1800))).await.unwrap();

    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(out.exit_code(), 0);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    let b = out.before.as_ref().expect("the --before run is reported");
    assert_eq!(b.report.end, End::Succeeded);
    assert_eq!(b.report.revision, "cb-prototype:2");
    // The one-off ran the variant without port mappings made from the new revision.
    let sent = &run.sim.run_task_requests()[0];
    let variant = run
        .sim
        .ecs()
        .describe_task_definition(&sent.task_definition)
        .await
        .unwrap();
    assert_eq!(variant.family, one_off_family("cb-prototype"));
    assert!(variant.tags[TAG_ONE_OFF].ends_with("cb-prototype:2"));
    assert_eq!(sent.started_by, "ecs-roll/before");
    // The rollout's record goes on the revision once the command succeeded.
    assert!(registered(&run).await.tags[TAG_PREVIOUS].ends_with("cb-prototype:1"));
    // The command ran before the first task of the new revision started.
    let events = run.recorder.events();
    let ended = position(&events, |e| matches!(e, Event::BeforeEnded(_))).unwrap();
    let first_start = position(&events, |e| {
        matches!(
            e,
            Event::Action(ecs_roll::engine::Action::TaskStarted { .. })
        )
    })
    .unwrap();
    assert!(ended < first_start, "{events:?}");
    let planned = position(&events, |e| matches!(e, Event::BeforePlanned { .. })).unwrap();
    let started = position(&events, |e| {
        matches!(e, Event::OneOff(OneOffEvent::Started { .. }))
    })
    .unwrap();
    assert!(planned < started);
}

#[tokio::test(start_paused = true)]
async fn a_before_command_that_exits_1_rolls_nothing_out_and_leaves_the_new_revision_unrecorded() {
    let run = Run::new(world(3));
    run.sim.set_command(
        MIGRATE,
        Command::exits(secs(5), 1)
            .logging(&[(secs(1), "migrating"), (secs(4), "ERROR: relation exists")]),
    );
    let out = run.deploy_with(V2, before(&run, secs(1800))).await.unwrap();

    assert_eq!(out.result, RunResult::Failed);
    assert_eq!(out.exit_code(), 4, "the one-off code");
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert!(out.steps.is_empty(), "no step ran: {:?}", out.steps);
    // Registered, but neither deployed nor recorded as deployed.
    let rev = registered(&run).await;
    assert!(!rev.tags.contains_key(TAG_PREVIOUS), "{:?}", rev.tags);
    assert!(
        !rev.tags.contains_key(ecs_roll::engine::deploy::TAG_ROLLOUT),
        "{:?}",
        rev.tags
    );
    assert_eq!(out.target.as_ref().unwrap().name, "cb-prototype:2");
    let failure = &out.failure.as_ref().unwrap().cause;
    assert_eq!(failure.kind(), "before_failed");
    match diagnosis(&out) {
        Diagnosis::BeforeFailed {
            command,
            revision,
            why,
            timed_out,
        } => {
            assert_eq!(command, MIGRATE);
            assert_eq!(revision, "cb-prototype:2");
            assert_eq!(timed_out, None);
            assert!(
                matches!(
                    why.as_deref(),
                    Some(Diagnosis::AppCrashed {
                        exit_code: Some(1),
                        ..
                    })
                ),
                "{why:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // This definition has no logConfiguration: the report says where the log is instead.
    let b = out.before.as_ref().unwrap();
    assert_eq!(b.report.exit_codes, [("cb-prototype".to_string(), Some(1))]);
    // The rerun after the fix reuses the revision and records it once the command succeeds.
    run.sim.set_command(MIGRATE, Command::exits(secs(5), 0));
    let again = run.deploy_with(V2, before(&run, secs(1800))).await.unwrap();
    assert_eq!(again.result, RunResult::Succeeded, "{:?}", again.failure);
    assert_eq!(again.target.as_ref().unwrap().name, "cb-prototype:2");
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert!(registered(&run).await.tags[TAG_PREVIOUS].ends_with("cb-prototype:1"));
}

#[tokio::test(start_paused = true)]
async fn an_out_of_memory_before_command_is_diagnosed_and_rolls_nothing_out() {
    let run = Run::new(world(3));
    run.sim
        .set_command(MIGRATE, Command::out_of_memory(secs(3)));
    let out = run.deploy_with(V2, before(&run, secs(1800))).await.unwrap();
    assert_eq!(out.exit_code(), 4);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    match diagnosis(&out) {
        Diagnosis::BeforeFailed { why, .. } => {
            assert!(
                matches!(why.as_deref(), Some(Diagnosis::OutOfMemory { .. })),
                "{why:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_before_command_past_its_run_timeout_is_stopped_and_nothing_rolls_out() {
    let run = Run::new(world(3));
    run.sim.set_command(MIGRATE, Command::runs_forever());
    let out = run.deploy_with(V2, before(&run, secs(60))).await.unwrap();
    assert_eq!(out.exit_code(), 4);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    match diagnosis(&out) {
        Diagnosis::BeforeFailed { timed_out, .. } => assert_eq!(timed_out, Some(secs(60))),
        other => panic!("{other:?}"),
    }
    // ecs-roll stopped the task: nothing of it runs on.
    let task = &out.before.as_ref().unwrap().report.task_arn;
    assert!(
        run.sim
            .tasks()
            .iter()
            .all(|t| &t.arn != task || !t.is_running())
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_with_before_plans_the_command_and_runs_nothing() {
    let run = Run::new(world(3));
    let opts = Options {
        dry_run: true,
        ..before(&run, secs(1800))
    };
    let out = run.deploy_with(V2, opts).await.unwrap();
    assert_eq!(out.result, RunResult::Planned);
    assert!(run.sim.run_task_requests().is_empty());
    assert!(out.before.is_none());
    let events = run.recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::BeforePlanned { command, .. } if command == MIGRATE))
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_during_the_before_command_stops_its_task_and_rolls_nothing_out() {
    let run = Run::new(world(3));
    run.sim.set_command(MIGRATE, Command::runs_forever());
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(30)).await;
        cancel.request();
    });
    let out = run.deploy_with(V2, before(&run, secs(1800))).await.unwrap();
    assert_eq!(out.result, RunResult::Interrupted);
    assert_eq!(out.exit_code(), 130);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    let task = out.before.as_ref().unwrap().report.task_arn.clone();
    match &out.failure.as_ref().unwrap().cause {
        ecs_roll::engine::Failure::Interrupted {
            how: ecs_roll::engine::failure::Interruption::BeforeRollout { task_arn, stopped },
        } => {
            assert_eq!(task_arn, &task);
            assert!(stopped);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        run.sim
            .tasks()
            .iter()
            .all(|t| t.arn != task || !t.is_running())
    );
    let next = ecs_roll::render::next::next_step(&out).unwrap();
    assert!(next.starts_with("nothing was rolled out"), "{next}");
}
