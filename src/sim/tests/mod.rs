//! Every test runs under tokio's paused clock. `advance` sleeps, so the runtime moves virtual
//! time timer by timer and a sampler samples at each of its periods on the way.

mod elb;
mod faults;
mod lifecycle;
mod placement;
mod sampler;
mod task_definitions;

use std::time::Duration;

use serde_json::{Value, json};

use super::{Sim, health_check};
use crate::platform::{HealthCheck, Task};

const CLUSTER: &str = "default";
const ELB: &str = "cb-prototype-elb";
const PORT: u16 = 5555;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

async fn advance(by: Duration) {
    tokio::time::sleep(by).await;
}

/// The origin's app: one container on static host port 5555.
fn app(image: &str) -> Value {
    json!({
        "family": "cb-prototype",
        "containerDefinitions": [{
            "name": "cb-prototype",
            "image": image,
            "cpu": 256,
            "memory": 256,
            "portMappings": [{ "containerPort": PORT, "hostPort": PORT }]
        }]
    })
}

/// 5 s interval, 2 passes to become healthy, 3 failures to become unhealthy.
fn quick_check() -> HealthCheck {
    HealthCheck {
        interval: secs(5),
        healthy_threshold: 2,
        unhealthy_threshold: 3,
        ..health_check("HTTP:5555/testme")
    }
}

/// Three instances in three zones, each RUNNING `app:v1` and InService; 60 s draining.
fn origin() -> Sim {
    Sim::builder()
        .instances(3)
        .elb(ELB, quick_check())
        .draining(secs(60))
        .task_definition(app("app:v1"))
        .tasks_on_each_instance()
        .build()
}

async fn register(sim: &Sim, body: Value) -> String {
    sim.ecs()
        .register_task_definition(&body, &Default::default())
        .await
        .expect("registers")
        .arn
}

async fn instances(sim: &Sim) -> Vec<crate::platform::ContainerInstance> {
    sim.ecs()
        .container_instances(CLUSTER)
        .await
        .expect("the cluster exists")
}

async fn describe(sim: &Sim, task: &Task) -> Task {
    let found = sim
        .ecs()
        .describe_tasks(CLUSTER, std::slice::from_ref(&task.arn))
        .await
        .expect("describes");
    found.into_iter().next().expect("the task is known")
}

async fn health(sim: &Sim) -> Vec<crate::platform::InstanceHealth> {
    sim.elb()
        .instance_health(ELB)
        .await
        .expect("the load balancer exists")
}
