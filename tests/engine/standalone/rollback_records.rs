//! What a rollback records on the revision it returns to: `rollback` while it is under way
//! (and after an interrupt), `rollback-completed` once the revision runs and serves
//! everywhere, so a plain `ecs-roll rollback` run again finishes an interrupted one and,
//! after a completed one, returns to the revision it left.

use super::*;
use ecs_roll::engine::deploy::TAG_ROLLOUT;

impl Run {
    async fn roll_back_to(&self, reference: &str) -> Outcome {
        let rev = self
            .sim
            .ecs()
            .describe_task_definition(reference)
            .await
            .unwrap();
        let opts = Options {
            command: "rollback".into(),
            rollback_on_failure: true,
            ..Options::default()
        };
        deploy::run(&self.ctx(), Desired::Revision(rev), &opts)
            .await
            .unwrap()
    }

    async fn tag_of(&self, reference: &str, key: &str) -> Option<String> {
        let rev = self
            .sim
            .ecs()
            .describe_task_definition(reference)
            .await
            .unwrap();
        rev.tags.get(key).cloned()
    }
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_rollback_is_recorded_as_under_way_until_its_rerun_completes_it() {
    let run = Run::new(world(3));
    assert_eq!(run.deploy(V2).await.unwrap().result, RunResult::Succeeded);
    assert_eq!(
        run.tag_of("cb-prototype:2", TAG_ROLLOUT).await.as_deref(),
        Some("deploy")
    );

    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.request();
    });
    let out = run.roll_back_to("cb-prototype:1").await;
    assert_eq!(out.result, RunResult::Interrupted, "{:?}", out.failure);
    assert_eq!(
        run.running_images(),
        ["cb-prototype:1", "cb-prototype:2", "cb-prototype:2"]
    );
    assert_eq!(
        run.tag_of("cb-prototype:1", TAG_ROLLOUT).await.as_deref(),
        Some("rollback")
    );

    let again = run.again();
    let out = again.roll_back_to("cb-prototype:1").await;
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(again.running_images(), ["cb-prototype:1"; 3]);
    assert_eq!(
        again.tag_of("cb-prototype:1", TAG_ROLLOUT).await.as_deref(),
        Some("rollback-completed")
    );
    // Rolling back again after that returns to the revision the rollback left.
    assert!(
        again
            .tag_of("cb-prototype:1", TAG_PREVIOUS)
            .await
            .unwrap()
            .ends_with("cb-prototype:2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_fails_is_not_recorded_as_completed() {
    let run = Run::new(world(3));
    assert_eq!(run.deploy(V2).await.unwrap().result, RunResult::Succeeded);
    // v1 crashes now: the rollback to it fails and ecs-roll puts v2 back.
    run.sim
        .set_image_behaviour(V1, Behaviour::CrashAfter(Duration::from_secs(5)));
    let out = run.roll_back_to("cb-prototype:1").await;
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    assert_eq!(
        run.tag_of("cb-prototype:1", TAG_ROLLOUT).await.as_deref(),
        Some("rollback")
    );
}
