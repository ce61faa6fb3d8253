//! `deploy --before` in service mode: the command's one-off task runs where the service's
//! tasks run (Fargate, its network configuration), and a failing command starts no
//! deployment: the service keeps its revision and its tasks.

use super::*;
use ecs_roll::engine::oneoff::before::Before;
use ecs_roll::platform::{AwsVpcConfiguration, RunTaskRequest};
use ecs_roll::sim::Command;

const MIGRATE: &str = "./migrate up";

fn with_before(run: &Run) -> Options {
    Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        before: Some(Arc::new(Before {
            typed: MIGRATE.into(),
            command: vec!["./migrate".into(), "up".into()],
            container: "app".into(),
            placement: RunTaskRequest {
                cluster: CLUSTER.into(),
                started_by: "ecs-roll/before".into(),
                launch_type: Some("FARGATE".into()),
                network: Some(AwsVpcConfiguration {
                    subnets: vec!["subnet-1".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            timeout: secs(1800),
            leave_running: false,
            tasks: run.sim.one_offs(),
            logs: run.sim.logs(),
        })),
        ..Options::default()
    }
}

async fn deploy_before(run: &Run) -> Outcome {
    let td = run.definition("app:v2").await;
    service::run(&run.sctx(), Desired::Definition(td), &with_before(run))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_fargate_service_runs_the_before_command_on_its_network_then_deploys() {
    let run = Run::new(fargate_alb());
    run.sim.set_command(MIGRATE, Command::exits(secs(8), 0));
    let out = deploy_before(&run).await;
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.service_revision().await, "web:2");
    let sent = &run.sim.run_task_requests()[0];
    // awsvpc: no port collides, so the revision itself runs (no one-off variant).
    assert!(
        sent.task_definition.ends_with("/web:2"),
        "{}",
        sent.task_definition
    );
    assert_eq!(sent.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(sent.network.as_ref().unwrap().subnets, ["subnet-1"]);
    assert_eq!(out.before.unwrap().report.revision, "web:2");
}

#[tokio::test(start_paused = true)]
async fn a_failing_before_command_starts_no_deployment_and_the_service_keeps_its_revision() {
    let run = Run::new(fargate_alb());
    run.sim.set_command(MIGRATE, Command::exits(secs(8), 2));
    let out = deploy_before(&run).await;
    assert_eq!(out.result, RunResult::Failed);
    assert_eq!(out.exit_code(), 4);
    assert_eq!(run.service_revision().await, "web:1");
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert!(
        !run.recorder.events().iter().any(|e| matches!(
            e,
            Event::Action(ecs_roll::engine::Action::DeploymentStarted { .. })
        )),
        "no deployment may start"
    );
    let rev = run
        .sim
        .ecs()
        .describe_task_definition("web:2")
        .await
        .unwrap();
    assert!(!rev.tags.contains_key(TAG_PREVIOUS), "{:?}", rev.tags);
}
