//! A failed deploy's evidence gains the failed container's last log lines: the crashed new
//! task's awslogs stream, read from its end after the rollback, at most 20 lines.

use super::*;
use ecs_roll::engine::failure_log::{self, LINES};

/// The reference task definition, logging to CloudWatch Logs with a stream prefix.
fn logging(image: &str) -> serde_json::Value {
    let mut td = task_definition(image);
    td["containerDefinitions"][0]["logConfiguration"] = json!({
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/cb-prototype", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs"}
    });
    td
}

async fn deploy_logging(run: &Run, image: &str) -> Outcome {
    let td = TaskDefinition::parse(&logging(V1).to_string(), "test").unwrap();
    let desired = td.with_image("cb-prototype", &ImageRef::parse(image).unwrap());
    deploy::run(&run.ctx(), Desired::Definition(desired), &opts())
        .await
        .unwrap()
}

async fn excerpt(run: &Run, out: &Outcome) -> Option<failure_log::LogExcerpt> {
    failure_log::read(
        run.sim.ecs().as_ref(),
        run.sim.logs().as_ref(),
        &out.failure.as_ref().unwrap().cause,
        &out.target.as_ref().unwrap().arn,
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn a_crashed_tasks_last_20_log_lines_are_read_from_its_stream() {
    let run = Run::new(world(3));
    let lines: Vec<String> = (1..=25).map(|i| format!("line {i}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    run.sim.set_image_log(V2, &lines);
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(20)));
    let out = deploy_logging(&run, V2).await;
    assert_eq!(out.result, RunResult::RolledBack);
    let Some(Failure::TaskStopped { task, .. }) = out.failure.as_ref().map(|f| &f.cause) else {
        panic!("{:?}", out.failure);
    };
    let e = excerpt(&run, &out).await.expect("the log was read");
    assert_eq!(e.container, "cb-prototype");
    assert_eq!(e.group, "/ecs/cb-prototype");
    let id = task.task_arn.rsplit('/').next().unwrap();
    assert_eq!(e.stream, format!("ecs/cb-prototype/{id}"));
    assert_eq!(e.lines.len(), LINES);
    assert_eq!(e.lines.first().map(String::as_str), Some("line 6"));
    assert_eq!(e.lines.last().map(String::as_str), Some("line 25"));
}

#[tokio::test(start_paused = true)]
async fn without_awslogs_the_failure_has_no_log_and_stands_on_ecss_evidence() {
    let run = Run::new(world(3));
    run.sim.set_image_log(V2, &["never read"]);
    run.sim
        .set_image_behaviour(V2, Behaviour::CrashAfter(Duration::from_secs(20)));
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack);
    assert_eq!(excerpt(&run, &out).await, None);
}
