//! `ecs-roll status --service NAME`: the service's deployments with their rollout state, tasks
//! per revision, target health per load balancer, and the last events.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Aws;
use crate::engine::deploy::short_name;
use crate::engine::service::TAG_CONFIGURATION;
use crate::error::Error;
use crate::platform::{
    Deployment, DeploymentConfiguration, DeploymentStatus, ServiceDeployment, ServiceEvent,
    Strategy, TaskStatus,
};
use crate::settings::Settings;

#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    cluster: String,
    service: String,
    status: String,
    task_definition: String,
    image: Option<String>,
    /// What `ecs-roll rollback` would return to.
    previous: Option<String>,
    desired: i64,
    running: i64,
    deployment_configuration: String,
    /// The configuration an ecs-roll deploy changed and has not restored yet (interrupted,
    /// or killed): the next deploy of the service restores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration_to_restore: Option<String>,
    deployments: Vec<Deployment>,
    /// The PRIMARY deployment as DescribeServiceDeployments tells it (ARN, status, lifecycle
    /// stage, triggered alarms), where the endpoint has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    service_deployment: Option<Box<ServiceDeployment>>,
    tasks_per_revision: BTreeMap<String, usize>,
    load_balancers: Vec<LoadBalancerHealth>,
    events: Vec<ServiceEvent>,
}

#[derive(Debug, Serialize)]
struct LoadBalancerHealth {
    name: String,
    /// Targets (or instances) by state.
    states: BTreeMap<String, usize>,
}

pub async fn snapshot(s: &Settings, aws: &Aws, service: &str) -> Result<ServiceStatus, Error> {
    let before = Error::from_api_before_change;
    let svc = aws
        .services
        .describe_service(&s.cluster, service)
        .await
        .map_err(before)?
        .ok_or_else(|| {
            Error::preflight(
                format!("service {service:?} not found in cluster {:?}", s.cluster),
                "check --service, --cluster and --region",
            )
        })?;
    let rev = aws
        .ecs
        .describe_task_definition(&svc.task_definition)
        .await
        .map_err(before)?;
    let td = crate::taskdef::TaskDefinition::from_revision(&rev);
    let image = s
        .container
        .clone()
        .or_else(|| td.container_names().first().cloned())
        .and_then(|c| td.image_of(&c).map(String::from));
    let tasks = aws
        .services
        .service_tasks(&s.cluster, service, TaskStatus::Running)
        .await
        .map_err(before)?;
    let mut per_revision = BTreeMap::new();
    for t in &tasks {
        *per_revision
            .entry(short_name(&t.task_definition_arn))
            .or_insert(0) += 1;
    }
    let mut lbs = Vec::new();
    for lb in &svc.load_balancers {
        let (name, states) = if let Some(arn) = &lb.target_group_arn {
            let health = aws.target_groups.target_health(arn).await.map_err(before)?;
            (
                arn.rsplit(':').next().unwrap_or(arn).to_string(),
                health
                    .into_iter()
                    .map(|h| h.state.to_string())
                    .collect::<Vec<_>>(),
            )
        } else if let Some(name) = &lb.load_balancer_name {
            let health = aws.elb.instance_health(name).await.map_err(before)?;
            (
                name.clone(),
                health.into_iter().map(|h| h.state.to_string()).collect(),
            )
        } else {
            continue;
        };
        let mut counts = BTreeMap::new();
        for st in states {
            *counts.entry(st).or_insert(0) += 1;
        }
        lbs.push(LoadBalancerHealth {
            name,
            states: counts,
        });
    }
    let tags = aws.tags.resource_tags(&svc.arn).await.map_err(before)?;
    let primary = svc
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary);
    // Status shows what it can: an endpoint without the call (or a denial) leaves it out.
    let service_deployment = match primary {
        Some(d) => aws
            .services
            .service_deployment(&s.cluster, service, &d.id)
            .await
            .ok()
            .flatten()
            .map(Box::new),
        None => None,
    };
    let configuration_to_restore = tags.get(TAG_CONFIGURATION).cloned();
    let status = ServiceStatus {
        cluster: s.cluster.clone(),
        service: service.to_string(),
        status: svc.status.to_string(),
        task_definition: rev.name(),
        image,
        previous: super::rollback::plain_target_name(&rev),
        desired: svc.desired_count,
        running: svc.running_count,
        deployment_configuration: configuration_text(&svc.deployment_configuration),
        configuration_to_restore,
        deployments: svc.deployments.clone(),
        service_deployment,
        tasks_per_revision: per_revision,
        load_balancers: lbs,
        events: svc.events.iter().take(5).cloned().collect(),
    };
    Ok(status)
}

/// `BLUE_GREEN max 200% min 100%, circuit breaker with rollback, alarms web-5xx (rollback),
/// bake 10m`.
fn configuration_text(dc: &DeploymentConfiguration) -> String {
    let mut s = format!(
        "{} max {}% min {}%",
        dc.strategy.as_ref().unwrap_or(&Strategy::Rolling),
        dc.maximum_percent.map_or("-".into(), |v| v.to_string()),
        dc.minimum_healthy_percent
            .map_or("-".into(), |v| v.to_string()),
    );
    match dc.circuit_breaker {
        Some((true, true)) => s.push_str(", circuit breaker with rollback"),
        Some((true, false)) => s.push_str(", circuit breaker"),
        _ => {}
    }
    if let (Some((true, _)), Some(t)) = (dc.circuit_breaker, dc.breaker_threshold) {
        s.push_str(&format!(" ({})", crate::render::plain::breaker_rule(t)));
    }
    if let Some((names, true, rollback)) = &dc.alarms
        && !names.is_empty()
    {
        let how = if *rollback { "rollback" } else { "no rollback" };
        s.push_str(&format!(", alarms {} ({how})", names.join(", ")));
    }
    if let Some(m) = dc.bake_time_minutes.filter(|m| *m > 0) {
        s.push_str(&format!(", bake {m}m"));
    }
    s
}

/// `service deployment ARN: IN_PROGRESS, stage BAKE_TIME`, with ECS's reason and the alarms
/// that went into ALARM.
fn service_deployment_text(sd: &ServiceDeployment) -> String {
    let mut s = format!("service deployment {}: {}", sd.arn, sd.status);
    if let Some(stage) = &sd.lifecycle_stage {
        s.push_str(&format!(", stage {stage}"));
    }
    if !sd.triggered_alarms.is_empty() {
        s.push_str(&format!(
            "; alarms in ALARM: {}",
            sd.triggered_alarms.join(", ")
        ));
    }
    if let Some(r) = &sd.status_reason {
        s.push_str(&format!("; {r}"));
    }
    s
}

/// One deployment, COMPLETED (or without a rollout state), every task of it running.
pub fn stable(s: &ServiceStatus) -> bool {
    s.deployments.len() == 1
        && s.deployments[0]
            .rollout_state
            .as_ref()
            .is_none_or(|r| r.as_str() == "COMPLETED")
        && s.running == s.desired
        && s.tasks_per_revision.len() <= 1
}

pub fn text(s: &ServiceStatus) -> String {
    let mut out = format!(
        "service {} ({}) in cluster {} · {} running of {} · {}\n",
        s.service, s.status, s.cluster, s.running, s.desired, s.deployment_configuration
    );
    out.push_str(&format!(
        "task definition {} ({}); rollback target: {}\n",
        s.task_definition,
        s.image.as_deref().unwrap_or("?"),
        super::rollback::shown_target(&s.task_definition, s.previous.as_deref())
    ));
    if let Some(original) = &s.configuration_to_restore {
        out.push_str(&format!(
            "deployment configuration changed by an ecs-roll deploy that did not finish; the next deploy restores {original} (or run the same deploy again)\n"
        ));
    }
    out.push_str("deployments:\n");
    for d in &s.deployments {
        out.push_str(&format!(
            "  {} {} {} running {}/{} pending {} failed {} rollout {}{}\n",
            d.status,
            d.id,
            short_name(&d.task_definition),
            d.running_count,
            d.desired_count,
            d.pending_count,
            d.failed_tasks,
            d.rollout_state.as_ref().map(|r| r.as_str()).unwrap_or("-"),
            d.created_at
                .as_deref()
                .map(|c| format!(" since {c}"))
                .unwrap_or_default()
        ));
    }
    if let Some(sd) = &s.service_deployment {
        out.push_str(&format!("{}\n", service_deployment_text(sd)));
    }
    let per: Vec<String> = s
        .tasks_per_revision
        .iter()
        .map(|(r, n)| format!("{r}: {n}"))
        .collect();
    out.push_str(&format!(
        "tasks: {}\n",
        if per.is_empty() {
            "none".into()
        } else {
            per.join(", ")
        }
    ));
    for lb in &s.load_balancers {
        let st: Vec<String> = lb.states.iter().map(|(k, v)| format!("{v} {k}")).collect();
        out.push_str(&format!(
            "load balancer {}: {}\n",
            lb.name,
            if st.is_empty() {
                "no targets".into()
            } else {
                st.join(", ")
            }
        ));
    }
    if !s.events.is_empty() {
        out.push_str("last events:\n");
        for e in &s.events {
            out.push_str(&format!(
                "  {} {}\n",
                e.created_at.as_deref().unwrap_or(""),
                e.message
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_tells_ecss_own_gates_and_the_current_service_deployment() {
        let dc = DeploymentConfiguration {
            strategy: Some(Strategy::BlueGreen),
            maximum_percent: Some(200),
            minimum_healthy_percent: Some(100),
            circuit_breaker: Some((true, true)),
            alarms: Some((vec!["web-5xx".into(), "web-p99".into()], true, true)),
            bake_time_minutes: Some(10),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(
            configuration_text(&dc),
            "BLUE_GREEN max 200% min 100%, circuit breaker with rollback, alarms web-5xx, web-p99 (rollback), bake 10m"
        );
        let counted = DeploymentConfiguration {
            breaker_threshold: Some(crate::platform::BreakerThreshold::Count(4)),
            ..dc.clone()
        };
        assert!(
            configuration_text(&counted)
                .contains("circuit breaker with rollback (threshold COUNT 4), alarms"),
            "{}",
            configuration_text(&counted)
        );
        let disabled = DeploymentConfiguration {
            alarms: Some((vec!["web-5xx".into()], false, true)),
            bake_time_minutes: Some(0),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(configuration_text(&disabled), "ROLLING max -% min -%");
        let sd = ServiceDeployment {
            arn: "arn:aws:ecs:us-east-1:1:service-deployment/c/web/abc".into(),
            status: "ROLLBACK_IN_PROGRESS".into(),
            status_reason: Some("alarm web-5xx".into()),
            lifecycle_stage: Some("BAKE_TIME".into()),
            target_task_definition: None,
            source_task_definitions: Vec::new(),
            rollback: true,
            triggered_alarms: vec!["web-5xx".into()],
        };
        assert_eq!(
            service_deployment_text(&sd),
            "service deployment arn:aws:ecs:us-east-1:1:service-deployment/c/web/abc: ROLLBACK_IN_PROGRESS, stage BAKE_TIME; alarms in ALARM: web-5xx; alarm web-5xx"
        );
    }
}
