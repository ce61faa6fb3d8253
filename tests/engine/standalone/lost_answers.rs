//! A StartTask whose answer is lost after it took effect (the connection closes on the way
//! back): the rollout finds the task that call started and carries on with it, instead of
//! failing the step or starting a second task.

use super::*;
use ecs_roll::engine::Warning;

/// Tasks of `revision` (`cb-prototype:N`) ever started, running or not.
fn started_of(run: &Run, revision: &str) -> usize {
    run.sim
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn.ends_with(revision))
        .count()
}

fn answer_lost_warnings(run: &Run) -> usize {
    run.recorder
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Warning(Warning::StartTaskAnswerLost { .. })))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_start_task_whose_answer_is_lost_carries_on_with_the_task_it_started() {
    let run = Run::new(world(3));
    run.sim
        .inject(Fault::lost_response().on("StartTask").next_calls(1));
    let sampler = run.sim.spawn_sampler(Duration::from_secs(1));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(run.registered_in_service(), 3);
    assert!(sampler.stop().min_serving() >= Some(2));
    // The unanswered call is not repeated: one start per instance, one task each.
    assert_eq!(run.sim.call_count("StartTask"), 3);
    assert_eq!(started_of(&run, "cb-prototype:2"), 3);
    assert_eq!(answer_lost_warnings(&run), 1);
}

/// The first look for the task fails too; the retried StartTask then runs into the host port
/// the first call's task holds, and the next look finds it.
#[tokio::test(start_paused = true)]
async fn a_lost_start_task_answer_whose_task_shows_only_later_is_found_after_the_port_conflict() {
    let run = Run::new(world(3));
    run.sim
        .inject(Fault::lost_response().on("StartTask").next_calls(1));
    // Preflight's ListTasks is done by then; the next one is the first look.
    run.sim.inject(
        Fault::unavailable()
            .on("ListTasks")
            .next_calls(1)
            .after(Duration::from_secs(30)),
    );
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(
        run.sim.call_count("StartTask"),
        4,
        "one retry, refused on the port"
    );
    assert_eq!(started_of(&run, "cb-prototype:2"), 3);
    assert_eq!(answer_lost_warnings(&run), 1);
}
