//! What `ecs-roll history` reads: after each run, how it ended is recorded on the revision it
//! rolled out, and on the one a failed deploy was rolled back to.

use super::*;
use ecs_roll::engine::run_record;

impl Run {
    async fn history(&self) -> Vec<run_record::HistoryEntry> {
        let ecs = self.sim.ecs();
        let mut revs = Vec::new();
        for arn in ecs.list_task_definitions("cb-prototype").await.unwrap() {
            revs.push(ecs.describe_task_definition(&arn).await.unwrap());
        }
        run_record::entries(&revs, 20)
    }
}

#[tokio::test(start_paused = true)]
async fn a_deploy_and_a_failed_one_rolled_back_are_listed_newest_first_with_how_they_ended() {
    let run = Run::new(world(3));
    let ok = run.deploy(V2).await.unwrap();
    assert!(
        run_record::record(run.sim.ecs().as_ref(), &ok, "rolling", Some("abc123"))
            .await
            .is_empty()
    );
    run.sim
        .set_image_behaviour(V1, Behaviour::CrashAfter(Duration::from_secs(5)));
    let failed = run.deploy(V1).await.unwrap();
    assert_eq!(failed.result, RunResult::RolledBack);
    assert!(
        run_record::record(run.sim.ecs().as_ref(), &failed, "rolling", None)
            .await
            .is_empty()
    );

    let h = run.history().await;
    let rows: Vec<_> = h
        .iter()
        .map(|e| {
            (
                e.command.as_str(),
                e.revision.as_str(),
                e.result.as_deref(),
                e.commit.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // The automatic rollback re-recorded revision 2 as rolled out last.
            ("rollback", "cb-prototype:2", Some("succeeded"), None),
            ("deploy", "cb-prototype:3", Some("rolled-back"), None),
        ],
        "{h:#?}"
    );
    assert_eq!(h[1].images["cb-prototype"], V1);
    assert_eq!(h[0].by.as_deref(), Some("test"));
    assert!(h.iter().all(|e| e.duration_seconds.is_some()), "{h:#?}");
}
