//! ECS service SDK types <-> platform types.

use std::collections::BTreeMap;

use aws_sdk_ecs::types as sdk;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::platform::{
    AdvancedConfiguration, AwsVpcConfiguration, BreakerThreshold, CapacityProviderItem, Deployment,
    DeploymentConfiguration, DeploymentController, DeploymentStatus, ResourceStatus, RolloutState,
    Service, ServiceDeployment, ServiceDeploymentStatus, ServiceEvent, ServiceLoadBalancer,
    ServicePlacement, Strategy, TrafficStep,
};

/// The name in a service reference: `NAME`, `arn:...:service/NAME` or
/// `arn:...:service/CLUSTER/NAME`.
pub(super) fn service_name(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}

/// Where the service's tasks run, as a one-off task copies it.
fn placement(s: &sdk::Service) -> ServicePlacement {
    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    ServicePlacement {
        capacity_provider_strategy: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| CapacityProviderItem {
                capacity_provider: c.capacity_provider().to_string(),
                weight: c.weight(),
                base: c.base(),
            })
            .collect(),
        network: vpc.map(|v| AwsVpcConfiguration {
            subnets: v.subnets().to_vec(),
            security_groups: v.security_groups().to_vec(),
            assign_public_ip: v.assign_public_ip().map(|a| a.as_str()) == Some("ENABLED"),
        }),
        platform_version: s.platform_version().map(String::from),
    }
}

pub(super) fn service(s: &sdk::Service) -> Service {
    Service {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        status: ResourceStatus::parse(s.status().unwrap_or_default()),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        desired_count: i64::from(s.desired_count()),
        running_count: i64::from(s.running_count()),
        pending_count: i64::from(s.pending_count()),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| c.capacity_provider().to_string())
            .collect(),
        placement: placement(s),
        // ECS omits the controller for services created without one, which are ECS-controlled.
        deployment_controller: s
            .deployment_controller()
            .map_or(DeploymentController::Ecs, |c| {
                DeploymentController::parse(c.r#type().as_str())
            }),
        deployment_configuration: s
            .deployment_configuration()
            .map(deployment_configuration)
            .unwrap_or_default(),
        deployments: s.deployments().iter().map(deployment).collect(),
        load_balancers: s.load_balancers().iter().map(load_balancer).collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: e.id().unwrap_or_default().to_string(),
                created_at: rfc3339(e.created_at()),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
    }
}

fn deployment(d: &sdk::Deployment) -> Deployment {
    Deployment {
        id: d.id().unwrap_or_default().to_string(),
        status: DeploymentStatus::parse(d.status().unwrap_or_default()),
        task_definition: d.task_definition().unwrap_or_default().to_string(),
        desired_count: i64::from(d.desired_count()),
        running_count: i64::from(d.running_count()),
        pending_count: i64::from(d.pending_count()),
        failed_tasks: i64::from(d.failed_tasks()),
        rollout_state: d.rollout_state().map(|r| RolloutState::parse(r.as_str())),
        rollout_state_reason: d
            .rollout_state_reason()
            .filter(|r| !r.is_empty())
            .map(String::from),
        created_at: rfc3339(d.created_at()),
        updated_at: rfc3339(d.updated_at()),
    }
}

fn load_balancer(lb: &sdk::LoadBalancer) -> ServiceLoadBalancer {
    ServiceLoadBalancer {
        target_group_arn: lb.target_group_arn().map(String::from),
        load_balancer_name: lb.load_balancer_name().map(String::from),
        container_name: lb.container_name().map(String::from),
        container_port: lb.container_port().and_then(|p| u16::try_from(p).ok()),
        advanced: lb.advanced_configuration().map(|a| AdvancedConfiguration {
            alternate_target_group_arn: a.alternate_target_group_arn().map(String::from),
            production_listener_rule: a.production_listener_rule().map(String::from),
            test_listener_rule: a.test_listener_rule().map(String::from),
            role_arn: a.role_arn().map(String::from),
        }),
    }
}

pub(super) fn deployment_configuration(
    c: &sdk::DeploymentConfiguration,
) -> DeploymentConfiguration {
    DeploymentConfiguration {
        maximum_percent: c.maximum_percent().map(i64::from),
        minimum_healthy_percent: c.minimum_healthy_percent().map(i64::from),
        circuit_breaker: c
            .deployment_circuit_breaker()
            .map(|b| (b.enable(), b.rollback())),
        breaker_threshold: c
            .deployment_circuit_breaker()
            .and_then(|b| b.threshold_configuration())
            .and_then(breaker_threshold),
        strategy: c.strategy().map(|s| Strategy::parse(s.as_str())),
        bake_time_minutes: c.bake_time_in_minutes().map(i64::from),
        alarms: c
            .alarms()
            .map(|a| (a.alarm_names().to_vec(), a.enable(), a.rollback())),
        linear: c.linear_configuration().map(|l| TrafficStep {
            percent_tenths: l.step_percent().map(tenths),
            bake_minutes: l.step_bake_time_in_minutes().map(i64::from),
        }),
        canary: c.canary_configuration().map(|k| TrafficStep {
            percent_tenths: k.canary_percent().map(tenths),
            bake_minutes: k.canary_bake_time_in_minutes().map(i64::from),
        }),
    }
}

/// A threshold of a type this build does not know is left out (ECS's default rule shown).
fn breaker_threshold(t: &sdk::ThresholdConfiguration) -> Option<BreakerThreshold> {
    let value = u32::try_from(t.value()).ok()?;
    match t.r#type() {
        sdk::ThresholdType::Count => Some(BreakerThreshold::Count(value)),
        sdk::ThresholdType::BoundedPercent => Some(BreakerThreshold::BoundedPercent(value)),
        sdk::ThresholdType::UnboundedPercent => Some(BreakerThreshold::UnboundedPercent(value)),
        _ => None,
    }
}

/// 25.0 -> 250: a percentage in the tenths ECS takes.
fn tenths(percent: f64) -> u32 {
    (percent * 10.0).round().clamp(0.0, 1000.0) as u32
}

/// `current` with the members `wanted` sets replaced and everything else kept, including what the
/// platform type does not model.
pub(super) fn merged_configuration(
    current: Option<&sdk::DeploymentConfiguration>,
    wanted: &DeploymentConfiguration,
) -> Result<sdk::DeploymentConfiguration, String> {
    let mut c = current
        .cloned()
        .unwrap_or_else(|| sdk::DeploymentConfiguration::builder().build());
    if let Some(p) = wanted.maximum_percent {
        c.maximum_percent = Some(int("maximum percent", p)?);
    }
    if let Some(p) = wanted.minimum_healthy_percent {
        c.minimum_healthy_percent = Some(int("minimum healthy percent", p)?);
    }
    if let Some((enable, rollback)) = wanted.circuit_breaker {
        let mut breaker = c
            .deployment_circuit_breaker
            .take()
            .unwrap_or_else(|| sdk::DeploymentCircuitBreaker::builder().build());
        breaker.enable = enable;
        breaker.rollback = rollback;
        c.deployment_circuit_breaker = Some(breaker);
    }
    if let Some(strategy) = &wanted.strategy {
        c.strategy = Some(sdk::DeploymentStrategy::from(strategy.as_str()));
    }
    if let Some(minutes) = wanted.bake_time_minutes {
        c.bake_time_in_minutes = Some(int("bake time", minutes)?);
    }
    if let Some((names, enable, rollback)) = &wanted.alarms {
        let alarms = sdk::DeploymentAlarms::builder()
            .set_alarm_names(Some(names.clone()))
            .enable(*enable)
            .rollback(*rollback)
            .build()
            .map_err(|e| format!("deployment alarms: {e}"))?;
        c.alarms = Some(alarms);
    }
    if let Some(step) = &wanted.linear {
        let mut l = c
            .linear_configuration
            .take()
            .unwrap_or_else(|| sdk::LinearConfiguration::builder().build());
        if let Some(p) = step.percent_tenths {
            l.step_percent = Some(f64::from(p) / 10.0);
        }
        if let Some(m) = step.bake_minutes {
            l.step_bake_time_in_minutes = Some(int("step bake time", m)?);
        }
        c.linear_configuration = Some(l);
    }
    if let Some(step) = &wanted.canary {
        let mut k = c
            .canary_configuration
            .take()
            .unwrap_or_else(|| sdk::CanaryConfiguration::builder().build());
        if let Some(p) = step.percent_tenths {
            k.canary_percent = Some(f64::from(p) / 10.0);
        }
        if let Some(m) = step.bake_minutes {
            k.canary_bake_time_in_minutes = Some(int("canary bake time", m)?);
        }
        c.canary_configuration = Some(k);
    }
    Ok(c)
}

fn int(what: &str, value: i64) -> Result<i32, String> {
    i32::try_from(value).map_err(|_| format!("{what} {value} is out of range"))
}

/// `task_definitions` maps service revision ARNs to their task definitions (from
/// DescribeServiceRevisions); revisions it lacks are left out.
pub(super) fn service_deployment(
    d: &sdk::ServiceDeployment,
    task_definitions: &BTreeMap<String, String>,
) -> ServiceDeployment {
    let task_definition = |r: &sdk::ServiceRevisionSummary| {
        r.arn().and_then(|arn| task_definitions.get(arn)).cloned()
    };
    let status = d
        .status()
        .map(|s| ServiceDeploymentStatus::parse(s.as_str()));
    ServiceDeployment {
        arn: d.service_deployment_arn().unwrap_or_default().to_string(),
        // A rollback shows in the status (ROLLBACK_*) and, with its reason, in `rollback`.
        rollback: d.rollback().is_some()
            || status
                .as_ref()
                .is_some_and(ServiceDeploymentStatus::is_rollback),
        status: status.unwrap_or(ServiceDeploymentStatus::Other(String::new())),
        status_reason: d
            .status_reason()
            .filter(|r| !r.is_empty())
            .map(String::from),
        lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
        target_task_definition: d.target_service_revision().and_then(task_definition),
        source_task_definitions: d
            .source_service_revisions()
            .iter()
            .filter_map(task_definition)
            .collect(),
        triggered_alarms: d
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
    }
}

/// The listed service deployment whose target service revision carries the number of
/// `deployment_id` (`ecs-svc/NUMBER`): ECS names a deployment's service revision
/// `service-revision/CLUSTER/SERVICE/NUMBER`.
pub(super) fn matching_deployment(
    listed: &[sdk::ServiceDeploymentBrief],
    deployment_id: &str,
) -> Option<String> {
    let number = deployment_id.rsplit('/').next().filter(|n| !n.is_empty())?;
    listed
        .iter()
        .find(|b| {
            b.target_service_revision_arn()
                .and_then(|arn| arn.rsplit('/').next())
                == Some(number)
        })
        .and_then(|b| b.service_deployment_arn().map(String::from))
}

/// The most recently created (else started) of the listed service deployments.
pub(super) fn newest_deployment(listed: &[sdk::ServiceDeploymentBrief]) -> Option<String> {
    let when = |b: &sdk::ServiceDeploymentBrief| {
        b.created_at()
            .or(b.started_at())
            .map(|t| (t.secs(), t.subsec_nanos()))
    };
    listed
        .iter()
        .filter(|b| b.service_deployment_arn().is_some())
        // max_by_key keeps the last of equals; the list comes newest first, so rev() keeps that
        // order's first when timestamps tie or are missing.
        .rev()
        .max_by_key(|b| when(b))
        .and_then(|b| b.service_deployment_arn().map(String::from))
}

pub(super) fn failure(f: &sdk::Failure) -> String {
    let mut text = format!(
        "{}: {}",
        f.arn().unwrap_or("?"),
        f.reason().unwrap_or("unknown reason")
    );
    if let Some(detail) = f.detail().filter(|d| !d.is_empty()) {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

fn rfc3339(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(arn: &str, revision: &str, created: i64) -> sdk::ServiceDeploymentBrief {
        sdk::ServiceDeploymentBrief::builder()
            .service_deployment_arn(arn)
            .target_service_revision_arn(revision)
            .created_at(DateTime::from_secs(created))
            .build()
    }

    #[test]
    fn service_names_come_from_names_and_both_arn_formats() {
        assert_eq!(service_name("web"), "web");
        assert_eq!(
            service_name("arn:aws:ecs:us-east-1:1:service/prod/web"),
            "web"
        );
        assert_eq!(service_name("arn:aws:ecs:us-east-1:1:service/web"), "web");
    }

    #[test]
    fn a_service_is_mapped_field_by_field() {
        let s = sdk::Service::builder()
            .service_arn("arn:svc/web")
            .service_name("web")
            .status("ACTIVE")
            .task_definition("arn:td/web:7")
            .desired_count(3)
            .running_count(2)
            .pending_count(1)
            .capacity_provider_strategy(
                sdk::CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .build()
                    .unwrap(),
            )
            .deployment_controller(
                sdk::DeploymentController::builder()
                    .r#type(sdk::DeploymentControllerType::CodeDeploy)
                    .build()
                    .unwrap(),
            )
            .deployments(
                sdk::Deployment::builder()
                    .id("ecs-svc/1")
                    .status("PRIMARY")
                    .task_definition("arn:td/web:7")
                    .desired_count(3)
                    .running_count(2)
                    .pending_count(1)
                    .failed_tasks(4)
                    .rollout_state(sdk::DeploymentRolloutState::Failed)
                    .rollout_state_reason("circuit breaker")
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .build(),
            )
            .load_balancers(
                sdk::LoadBalancer::builder()
                    .load_balancer_name("classic")
                    .container_name("web")
                    .container_port(70_000)
                    .build(),
            )
            .events(
                sdk::ServiceEvent::builder()
                    .id("e1")
                    .message("(service web) has reached a steady state.")
                    .created_at(DateTime::from_secs_and_nanos(1_700_000_060, 500_000_000))
                    .build(),
            )
            .build();
        let got = service(&s);
        assert_eq!(got.launch_type, None);
        assert_eq!(got.capacity_providers, ["FARGATE_SPOT"]);
        assert_eq!(got.deployment_controller, "CODE_DEPLOY");
        assert_eq!(
            got.deployment_configuration,
            DeploymentConfiguration::default()
        );
        let d = &got.deployments[0];
        assert_eq!(
            (
                d.failed_tasks,
                d.rollout_state.clone(),
                d.updated_at.as_deref()
            ),
            (4, Some(RolloutState::Failed), None)
        );
        assert_eq!(d.created_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(
            got.load_balancers[0],
            ServiceLoadBalancer {
                target_group_arn: None,
                load_balancer_name: Some("classic".into()),
                container_name: Some("web".into()),
                container_port: None,
                advanced: None,
            }
        );
        assert_eq!(
            got.events[0].created_at.as_deref(),
            Some("2023-11-14T22:14:20.5Z")
        );
        // Without a controller ECS means its own.
        let bare = service(&sdk::Service::builder().service_name("x").build());
        assert_eq!(bare.deployment_controller, "ECS");
    }

    #[test]
    fn merging_changes_only_the_requested_members() {
        let current = sdk::DeploymentConfiguration::builder()
            .maximum_percent(200)
            .minimum_healthy_percent(100)
            .deployment_circuit_breaker(
                sdk::DeploymentCircuitBreaker::builder()
                    .enable(false)
                    .rollback(false)
                    .reset_on_healthy_task(true)
                    .threshold_configuration(
                        sdk::ThresholdConfiguration::builder()
                            .r#type(sdk::ThresholdType::UnboundedPercent)
                            .value(30)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .canary_configuration(
                sdk::CanaryConfiguration::builder()
                    .canary_percent(10.0)
                    .build(),
            )
            .build();
        let wanted = DeploymentConfiguration {
            minimum_healthy_percent: Some(50),
            circuit_breaker: Some((true, true)),
            bake_time_minutes: Some(5),
            alarms: Some((vec!["p99".into()], true, false)),
            ..DeploymentConfiguration::default()
        };
        let merged = merged_configuration(Some(&current), &wanted).unwrap();
        assert_eq!(merged.maximum_percent, Some(200));
        assert_eq!(merged.minimum_healthy_percent, Some(50));
        let breaker = merged.deployment_circuit_breaker.as_ref().unwrap();
        assert_eq!(
            (
                breaker.enable,
                breaker.rollback,
                breaker.reset_on_healthy_task
            ),
            (true, true, Some(true))
        );
        assert_eq!(merged.canary_configuration, current.canary_configuration);
        assert_eq!(merged.strategy, None);
        assert_eq!(
            deployment_configuration(&merged),
            DeploymentConfiguration {
                maximum_percent: Some(200),
                minimum_healthy_percent: Some(50),
                circuit_breaker: Some((true, true)),
                // Never set by ecs-roll: the service's own is kept.
                breaker_threshold: Some(BreakerThreshold::UnboundedPercent(30)),
                strategy: None,
                bake_time_minutes: Some(5),
                alarms: Some((vec!["p99".into()], true, false)),
                linear: None,
                canary: Some(TrafficStep {
                    percent_tenths: Some(100),
                    bake_minutes: None,
                }),
            }
        );
        // A linear step set where the service had none; the canary's bake added to its own.
        let steps = DeploymentConfiguration {
            linear: Some(TrafficStep {
                percent_tenths: Some(250),
                bake_minutes: Some(3),
            }),
            canary: Some(TrafficStep {
                percent_tenths: None,
                bake_minutes: Some(7),
            }),
            ..DeploymentConfiguration::default()
        };
        let merged = merged_configuration(Some(&current), &steps).unwrap();
        let linear = merged.linear_configuration.as_ref().unwrap();
        assert_eq!(
            (linear.step_percent, linear.step_bake_time_in_minutes),
            (Some(25.0), Some(3))
        );
        let canary = merged.canary_configuration.as_ref().unwrap();
        assert_eq!(
            (canary.canary_percent, canary.canary_bake_time_in_minutes),
            (Some(10.0), Some(7))
        );
        let nothing = merged_configuration(None, &DeploymentConfiguration::default()).unwrap();
        assert_eq!(nothing, sdk::DeploymentConfiguration::builder().build());
        let too_big = DeploymentConfiguration {
            maximum_percent: Some(i64::from(i32::MAX) + 1),
            ..DeploymentConfiguration::default()
        };
        assert!(merged_configuration(None, &too_big).is_err());
    }

    #[test]
    fn deployments_are_matched_by_revision_number_else_the_newest_wins() {
        let listed = [
            brief(
                "arn:sd/new",
                "arn:aws:ecs:r:1:service-revision/c/web/222",
                200,
            ),
            brief(
                "arn:sd/old",
                "arn:aws:ecs:r:1:service-revision/c/web/111",
                100,
            ),
        ];
        assert_eq!(
            matching_deployment(&listed, "ecs-svc/111").as_deref(),
            Some("arn:sd/old")
        );
        assert_eq!(matching_deployment(&listed, "ecs-svc/999"), None);
        assert_eq!(matching_deployment(&listed, ""), None);
        assert_eq!(newest_deployment(&listed).as_deref(), Some("arn:sd/new"));
        let reversed = [listed[1].clone(), listed[0].clone()];
        assert_eq!(newest_deployment(&reversed).as_deref(), Some("arn:sd/new"));
        assert_eq!(newest_deployment(&[]), None);
    }

    #[test]
    fn a_service_deployment_names_task_definitions_through_revisions() {
        let revision = |arn: &str| sdk::ServiceRevisionSummary::builder().arn(arn).build();
        let d = sdk::ServiceDeployment::builder()
            .service_deployment_arn("arn:sd/1")
            .status(sdk::ServiceDeploymentStatus::RollbackInProgress)
            .status_reason("")
            .lifecycle_stage(sdk::ServiceDeploymentLifecycleStage::BakeTime)
            .target_service_revision(revision("arn:rev/2"))
            .source_service_revisions(revision("arn:rev/1"))
            .source_service_revisions(revision("arn:rev/unknown"))
            .build();
        let tds = BTreeMap::from([
            ("arn:rev/1".to_string(), "arn:td/web:1".to_string()),
            ("arn:rev/2".to_string(), "arn:td/web:2".to_string()),
        ]);
        assert_eq!(
            service_deployment(&d, &tds),
            ServiceDeployment {
                arn: "arn:sd/1".into(),
                status: "ROLLBACK_IN_PROGRESS".into(),
                status_reason: None,
                lifecycle_stage: Some("BAKE_TIME".into()),
                target_task_definition: Some("arn:td/web:2".into()),
                source_task_definitions: vec!["arn:td/web:1".into()],
                rollback: true,
                triggered_alarms: Vec::new(),
            }
        );
    }
}
