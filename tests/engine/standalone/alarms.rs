//! `--alarm` and `--bake` in standalone mode: ECS watches no alarm for standalone tasks, so
//! ecs-roll reads them during every step and during the bake after the last, and rolls back
//! by itself when one goes into ALARM (or a new task stops during the bake).

use ecs_roll::engine::refusal::Refusal;
use ecs_roll::platform::AlarmState;

use super::*;

const ALARM: &str = "cb-prototype-5xx";

fn gated(alarms: &[&str], bake: Duration) -> Options {
    Options {
        alarms: alarms.iter().map(|a| a.to_string()).collect(),
        bake,
        ..opts()
    }
}

impl Run {
    /// When the first event of `kind` after `after` happened.
    fn first_after(&self, after: Duration, kind: impl Fn(&Event) -> bool) -> Option<Duration> {
        let timeline = self.recording.timeline();
        let found = timeline
            .events
            .iter()
            .find(|t| t.at >= after && kind(&t.event));
        found.map(|t| t.at)
    }
}

fn assert_alarm_rolled_back(run: &Run, out: &Outcome, fired: Duration, min_serving: Option<usize>) {
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(out.exit_code(), 3);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert_eq!(
        diagnosis(out),
        Diagnosis::AlarmFired {
            alarms: vec![ALARM.into()]
        }
    );
    assert!(min_serving >= Some(2), "{min_serving:?}");
    // The first thing ecs-roll does about it: a change in AWS, or the rollback it reports.
    let acted = run
        .first_after(fired, |e| {
            matches!(e, Event::Action(_) | Event::RollbackStarted { .. })
        })
        .expect("acted on");
    assert!(
        acted <= fired + Duration::from_secs(2),
        "the alarm fired at {fired:?}, ecs-roll acted at {acted:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_fires_mid_rollout_rolls_back_and_keeps_two_of_three_serving() {
    let run = Run::new(world(3));
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    // The second instance's new task is being checked by the ELB then.
    let fired = Duration::from_secs(150);
    run.sim.set_alarm_state_at(ALARM, AlarmState::Alarm, fired);
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run
        .deploy_with(V2, gated(&[ALARM], Duration::ZERO))
        .await
        .unwrap();
    let capacity = sampler.stop();
    assert_alarm_rolled_back(&run, &out, fired, capacity.min_serving());
    assert!(
        run.sim.interruptions().is_empty(),
        "{:?}",
        run.sim.interruptions()
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_fires_during_the_bake_rolls_the_whole_deploy_back() {
    let bake = Duration::from_secs(600);
    let plain = Run::new(world(3));
    let took = plain.deploy(V2).await.unwrap().duration;
    // Built after the plain deploy ran: its virtual time starts now.
    let run = Run::new(world(3));
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    // Five minutes into the bake, every instance runs v2.
    let fired = took + Duration::from_secs(300);
    run.sim.set_alarm_state_at(ALARM, AlarmState::Alarm, fired);
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy_with(V2, gated(&[ALARM], bake)).await.unwrap();
    let capacity = sampler.stop();
    assert_alarm_rolled_back(&run, &out, fired, capacity.min_serving());
    let baked = out.steps.last().expect("the bake's report");
    assert!(
        baked.title.starts_with("bake for 10m") && !baked.ok,
        "{baked:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bake_with_alarms_in_ok_waits_its_time_then_succeeds() {
    let run = Run::new(world(3));
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    let plain = Run::new(world(3));
    let took = plain.deploy(V2).await.unwrap().duration;
    let bake = Duration::from_secs(300);
    let out = run.deploy_with(V2, gated(&[ALARM], bake)).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert!(
        out.duration >= took + bake && out.duration <= took + bake + Duration::from_secs(5),
        "{:?} for a deploy of {took:?} and a bake of {bake:?}",
        out.duration
    );
    let gates = run.recorder.events().into_iter().find_map(|e| match e {
        Event::Gates { alarms, bake } => Some((alarms, bake)),
        _ => None,
    });
    assert_eq!(gates, Some((vec![ALARM.to_string()], bake)));
    // One read after each step and about one a second while waiting, not more.
    let reads = run.sim.call_count("DescribeAlarms") as f64;
    let secs = out.duration.as_secs_f64();
    assert!(reads <= secs * 1.1 + 10.0, "{reads} reads in {secs}s");
}

#[tokio::test(start_paused = true)]
async fn a_new_task_that_stops_during_the_bake_rolls_back() {
    let run = Run::new(world(3));
    let plain = Run::new(world(3));
    let took = plain.deploy(V2).await.unwrap().duration;
    // Healthy through the rollout, gone a minute into the bake.
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(took + Duration::from_secs(60)));
    let out = run
        .deploy_with(V2, gated(&[], Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    assert!(
        matches!(
            out.failure.as_ref().map(|f| &f.cause),
            Some(Failure::TaskStopped { .. })
        ),
        "{:?}",
        out.failure
    );
    assert_eq!(
        out.failure.as_ref().and_then(|f| f.step.as_deref()),
        Some("bake for 5m")
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_in_alarm_before_the_deploy_is_refused_and_nothing_changes() {
    let run = Run::new(world(3));
    run.sim.set_alarm_state(ALARM, AlarmState::Alarm);
    let err = run
        .deploy_with(V2, gated(&[ALARM], Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(
        matches!(err.refusal(), Some(Refusal::AlarmsFiring { .. })),
        "{err}"
    );
    for op in ["RegisterTaskDefinition", "StartTask", "TagResource"] {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
}
