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

// ---- service mode ---------------------------------------------------------------------

mod blue_green;
mod circuit_breaker;
mod rolling;
mod service_deployments;
mod service_faults;
mod services;
mod target_groups;

use crate::platform::{DeploymentConfiguration, Service, ServiceUpdate};
use crate::sim::{ServiceSpec, TargetGroupSpec, TargetType, deployment_configuration};

const WEB: &str = "web";
const APP_PORT: u16 = 8080;

/// A web app in bridge mode with a dynamic host port, for target groups of type `instance`.
fn web(image: &str) -> Value {
    json!({
        "family": WEB,
        "containerDefinitions": [{
            "name": "app", "image": image, "cpu": 256, "memory": 256,
            "portMappings": [{ "containerPort": APP_PORT }]
        }]
    })
}

/// The same app for Fargate: awsvpc, task-level size.
fn web_fargate(image: &str) -> Value {
    json!({
        "family": WEB,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "containerDefinitions": [{
            "name": "app", "image": image,
            "portMappings": [{ "containerPort": APP_PORT }]
        }]
    })
}

/// 5 s checks, 2 to become healthy, 2 to become unhealthy, 30 s deregistration delay.
fn quick_target_group(target_type: TargetType) -> TargetGroupSpec {
    TargetGroupSpec {
        target_type,
        port: APP_PORT,
        interval: secs(5),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        deregistration_delay: secs(30),
        ..TargetGroupSpec::default()
    }
}

/// Three instances, service `web` of three `app:v1` tasks behind target group `web`.
fn alb_service(config: DeploymentConfiguration) -> Sim {
    Sim::builder()
        .instances(3)
        .target_group(WEB, quick_target_group(TargetType::Instance))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                task_definition: web("app:v1"),
                target_group: Some(WEB.into()),
                deployment_configuration: config,
                ..ServiceSpec::default()
            },
        )
        .build()
}

fn circuit_breaker(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration {
        circuit_breaker: Some((true, rollback)),
        ..deployment_configuration(200, 100)
    }
}

/// Registers `body` and points the service at it; returns (revision ARN, deployment id).
async fn deploy(sim: &Sim, body: Value) -> (String, String) {
    let arn = register(sim, body).await;
    let update = ServiceUpdate {
        task_definition: Some(arn.clone()),
        ..ServiceUpdate::default()
    };
    let service = sim
        .services()
        .update_service(CLUSTER, WEB, &update)
        .await
        .expect("UpdateService");
    let primary = &service.deployments[0];
    assert_eq!(
        (primary.status.as_str(), primary.task_definition.as_str()),
        ("PRIMARY", arn.as_str())
    );
    (arn, primary.id.clone())
}

fn web_service(sim: &Sim) -> Service {
    sim.service(CLUSTER, WEB).expect("service web exists")
}

/// The service's event messages, oldest first, without the `(service web) ` prefix.
fn events(sim: &Sim) -> Vec<String> {
    web_service(sim)
        .events
        .into_iter()
        .rev()
        .map(|e| e.message.trim_start_matches("(service web) ").to_string())
        .collect()
}

/// Polls every second of virtual time until the PRIMARY deployment is no longer
/// IN_PROGRESS (or `limit` passes); returns the service then.
async fn until_rollout_ends(sim: &Sim, limit: Duration) -> Service {
    let give_up = sim.elapsed() + limit;
    loop {
        let service = web_service(sim);
        if service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str())
            != Some("IN_PROGRESS")
        {
            return service;
        }
        assert!(
            sim.elapsed() < give_up,
            "still in progress: {:#?}",
            service.deployments
        );
        advance(secs(1)).await;
    }
}
