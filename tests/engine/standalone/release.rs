//! Releases that change more than one image: the web and its worker in one revision, every
//! change reported by container.

use super::*;
use ecs_roll::changes::{apply_images, assign_images, parse_image_args};

const WORKER_V1: &str = "acme/worker:v1";
const WORKER_V2: &str = "acme/worker:v2";

fn web_and_worker(web: &str, worker: &str) -> serde_json::Value {
    let mut td = task_definition(web);
    td["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "worker", "image": worker, "cpu": 128, "memory": 128}));
    td
}

fn web_worker_world() -> Sim {
    Sim::builder()
        .cluster("cb-prototype")
        .instances(3)
        .elb(LB, health_check("HTTP:5555/testme"))
        .draining(Duration::from_secs(5))
        .task_definition(web_and_worker(V1, WORKER_V1))
        .tasks_on_each_instance()
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_web_and_worker_release_rolls_out_one_revision_and_reports_both_changes() {
    let run = Run::new(web_worker_world());
    let source = TaskDefinition::parse(&web_and_worker(V1, WORKER_V1).to_string(), "test").unwrap();
    let flags = parse_image_args(&[format!("worker={WORKER_V2}"), V2.to_string()]).unwrap();
    let images = assign_images(&source, None, &flags).unwrap();
    let opts = Options {
        container: Some(images[0].0.clone()),
        ..opts()
    };
    let desired = apply_images(&source, &images);
    let out = deploy::run(&run.ctx(), Desired::Definition(desired), &opts)
        .await
        .unwrap();

    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    let registered = run
        .sim
        .ecs()
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    let registered = TaskDefinition::from_revision(&registered);
    assert_eq!(registered.image_of("cb-prototype"), Some(V2));
    assert_eq!(registered.image_of("worker"), Some(WORKER_V2));
    // The reported image is the first changed container's: the worker's, not the first
    // container's.
    let target = out.target.as_ref().unwrap();
    assert_eq!(target.image.as_deref(), Some(WORKER_V2));
    let changes: Vec<(String, Option<String>, String)> = out
        .image_changes()
        .into_iter()
        .map(|c| (c.container, c.old, c.new))
        .collect();
    assert_eq!(
        changes,
        [
            ("cb-prototype".into(), Some(V1.into()), V2.into()),
            ("worker".into(), Some(WORKER_V1.into()), WORKER_V2.into()),
        ]
    );
    let registered_event = run.recorder.events().into_iter().find_map(|e| match e {
        Event::Revision { image, .. } => Some(image),
        _ => None,
    });
    assert_eq!(registered_event.as_deref(), Some(WORKER_V2));
}

/// `deploy --revision`: a revision registered elsewhere is rolled out as it is, recorded as a
/// deploy with the revision it replaced, so a plain rollback returns from it.
#[tokio::test(start_paused = true)]
async fn an_existing_revision_rolled_out_as_a_deploy_is_rolled_back_to_the_one_before() {
    let run = Run::new(world(3));
    let ecs = run.sim.ecs();
    let elsewhere = ecs
        .register_task_definition(&task_definition(V2), &Default::default())
        .await
        .unwrap();
    assert_eq!(elsewhere.name(), "cb-prototype:2");
    let out = deploy::run(&run.ctx(), Desired::Revision(elsewhere), &opts())
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
    let registered = run.recorder.events().into_iter().find_map(|e| match e {
        Event::Revision { reused, .. } => Some(reused),
        _ => None,
    });
    assert_eq!(registered, Some(true), "nothing new is registered");
    let deployed = ecs
        .describe_task_definition("cb-prototype:2")
        .await
        .unwrap();
    assert!(deployed.tags[TAG_PREVIOUS].ends_with("cb-prototype:1"));
    assert!(
        ecs.describe_task_definition("cb-prototype:3")
            .await
            .is_err(),
        "no revision 3"
    );

    let to = rollback::standalone_target(&run.ctx()).await.unwrap();
    assert!(to.ends_with("cb-prototype:1"), "{to}");
    let previous = ecs.describe_task_definition(&to).await.unwrap();
    let back = deploy::run(&run.ctx(), Desired::Revision(previous), &rollback_opts())
        .await
        .unwrap();
    assert_eq!(back.result, RunResult::Succeeded, "{:?}", back.failure);
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
}
