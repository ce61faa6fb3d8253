//! The duration a deploy predicts: from the load balancer's settings the first time, and from
//! the steps of the deploy before once one was recorded on the revision it rolled out.

use super::*;
use ecs_roll::engine::predict::TAG_TIMINGS;

/// |predicted - actual| / actual of a rollout.
fn error_of(out: &Outcome) -> f64 {
    let predicted = out.predicted.as_ref().expect("a prediction").total;
    let actual: Duration = out.steps.iter().map(|s| s.took).sum();
    (predicted.as_secs_f64() - actual.as_secs_f64()).abs() / actual.as_secs_f64()
}

#[tokio::test(start_paused = true)]
async fn the_second_deploy_predicts_its_duration_from_the_first_within_a_tenth() {
    let run = Run::new(world(3));
    let first = run.deploy(V2).await.unwrap();
    assert_eq!(first.result, RunResult::Succeeded, "{:?}", first.failure);
    let p = first.predicted.as_ref().unwrap();
    assert_eq!(p.learned_from, None);
    assert_eq!(p.steps.len(), 3);
    for step in &first.steps {
        assert!(step.predicted.is_some(), "{step:?}");
    }
    let recorded = run
        .sim
        .ecs()
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    assert!(
        recorded.tags[TAG_TIMINGS].starts_with("replace="),
        "{:?}",
        recorded.tags
    );

    let second = run.deploy("rafabor/prototype-4-cb:v0.0.3").await.unwrap();
    assert_eq!(second.result, RunResult::Succeeded, "{:?}", second.failure);
    let p = second.predicted.as_ref().unwrap();
    assert_eq!(p.learned_from.as_deref(), Some("cb-prototype:2"));
    assert!(
        error_of(&second) <= 0.10,
        "predicted {:?}, took {:?}",
        p.total,
        second.steps.iter().map(|s| s.took).collect::<Vec<_>>()
    );
    // The progress says what each step should take and what is left.
    let started: Vec<(Option<Duration>, Option<Duration>)> = run
        .recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::StepStarted {
                predicted, left, ..
            } => Some((predicted, left)),
            _ => None,
        })
        .collect();
    let last_three = &started[started.len() - 3..];
    assert_eq!(last_three[0].1, Some(p.total));
    assert_eq!(last_three[2].1, last_three[2].0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_deploy_records_no_timings() {
    let run = Run::new(world(3));
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(5)));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    let failed = run
        .sim
        .ecs()
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    assert!(!failed.tags.contains_key(TAG_TIMINGS), "{:?}", failed.tags);
}
