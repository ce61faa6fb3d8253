//! Service mode: a rollback records `rollback` on the revision it returns to, and
//! `rollback-completed` once ecs-roll saw it through; an interrupted one (ECS carries on with
//! it) stays `rollback`, so a plain `ecs-roll rollback` run again finishes it.

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
        service::run(&self.sctx(), Desired::Revision(rev), &opts)
            .await
            .unwrap()
    }

    async fn rollout_record(&self, reference: &str) -> Option<String> {
        let rev = self
            .sim
            .ecs()
            .describe_task_definition(reference)
            .await
            .unwrap();
        rev.tags.get(TAG_ROLLOUT).cloned()
    }
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_rollback_stays_recorded_as_under_way_until_its_rerun_completes_it() {
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    assert_eq!(
        run.deploy("app:v2").await.unwrap().result,
        RunResult::Succeeded
    );
    assert_eq!(run.rollout_record("web:2").await.as_deref(), Some("deploy"));
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(20)).await;
        cancel.request();
    });
    let out = run.roll_back_to("web:1").await;
    assert_eq!(out.result, RunResult::Interrupted, "{:?}", out.failure);
    assert_eq!(run.service_revision().await, "web:1");
    assert_eq!(
        run.rollout_record("web:1").await.as_deref(),
        Some("rollback")
    );

    let again = run.again();
    let out = again.roll_back_to("web:1").await;
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(again.running().await, ["web:1"; 3]);
    assert_eq!(
        again.rollout_record("web:1").await.as_deref(),
        Some("rollback-completed")
    );
    let v1 = again
        .sim
        .ecs()
        .describe_task_definition("web:1")
        .await
        .unwrap();
    assert!(v1.tags[TAG_PREVIOUS].ends_with("web:2"), "{:?}", v1.tags);
}
