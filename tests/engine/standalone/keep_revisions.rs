//! `--keep-revisions`: after a deploy that succeeded, the family's ACTIVE revisions older than
//! the newest N go, except the rollback target; after one that failed, nothing goes.

use super::*;
use ecs_roll::engine::prune;

const V3: &str = "rafabor/prototype-4-cb:v0.0.3";
const V4: &str = "rafabor/prototype-4-cb:v0.0.4";
const V5: &str = "rafabor/prototype-4-cb:v0.0.5";

impl Run {
    /// A deploy of `image` followed by what `deploy --keep-revisions keep` does after it.
    async fn deploy_keeping(&self, image: &str, keep: usize) -> (Outcome, Option<Vec<String>>) {
        let outcome = self.deploy(image).await.unwrap();
        let report = prune::after_deploy(
            self.sim.ecs().as_ref(),
            self.sim.services().as_ref(),
            &outcome,
            keep,
        )
        .await;
        (outcome, report.map(|r| r.deregistered))
    }

    async fn active_revisions(&self) -> Vec<i64> {
        let arns = self
            .sim
            .ecs()
            .list_task_definitions("cb-prototype")
            .await
            .unwrap();
        arns.iter()
            .map(|a| a.rsplit(':').next().unwrap().parse().unwrap())
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn deploys_that_succeed_deregister_what_is_older_than_the_newest_two_but_the_rollback_target()
{
    let run = Run::new(world(3));
    let (o, gone) = run.deploy_keeping(V2, 2).await;
    assert_eq!(o.result, RunResult::Succeeded);
    assert_eq!(gone, Some(vec![]));
    assert_eq!(run.active_revisions().await, vec![1, 2]);

    let (_, gone) = run.deploy_keeping(V3, 2).await;
    assert_eq!(gone, Some(vec!["cb-prototype:1".to_string()]));
    let (o, gone) = run.deploy_keeping(V4, 2).await;
    assert_eq!(o.previous.as_ref().unwrap().name, "cb-prototype:3");
    assert_eq!(gone, Some(vec!["cb-prototype:2".to_string()]));
    assert_eq!(run.active_revisions().await, vec![3, 4]);

    // Keeping three after the rollback target fell out of the newest: it stays anyway.
    let (o, gone) = run.deploy_keeping(V2, 3).await;
    assert_eq!(o.target.as_ref().unwrap().name, "cb-prototype:5");
    assert_eq!(gone, Some(vec![]));
    assert_eq!(run.active_revisions().await, vec![3, 4, 5]);
    let deregistered = run
        .sim
        .calls()
        .iter()
        .filter(|c| c.operation == "DeregisterTaskDefinition")
        .count();
    assert_eq!(deregistered, 2);
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_fails_and_rolls_back_deregisters_nothing() {
    let run = Run::new(world(3));
    run.deploy_keeping(V2, 2).await;
    run.deploy_keeping(V3, 2).await;
    assert_eq!(run.active_revisions().await, vec![2, 3]);
    run.sim
        .set_image_behaviour(V4, Behaviour::CrashAfter(Duration::from_secs(5)));
    run.sim
        .set_image_behaviour(V5, Behaviour::CrashAfter(Duration::from_secs(5)));
    let (o, gone) = run.deploy_keeping(V4, 2).await;
    assert_eq!(o.result, RunResult::RolledBack);
    assert_eq!(gone, None);
    assert_eq!(run.active_revisions().await, vec![2, 3, 4]);
}
