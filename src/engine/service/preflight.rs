//! Service preflight: pure checks of what DescribeServices and the instances showed, each a
//! decision or a refusal that names the problem and what to do.

use super::configuration::Capacity;
use crate::engine::deploy::{TAG_PREVIOUS, short_name};
use std::collections::BTreeMap;

use crate::engine::refusal::{Refusal, ShiftProblem};
use crate::error::Error;
use crate::platform::{
    ContainerInstance, Deployment, DeploymentController, DeploymentStatus, ResourceStatus,
    Revision, RolloutState, Service, ServiceLoadBalancer, Strategy, TargetGroup,
};
use crate::taskdef::TaskDefinition;

const FARGATE: &str = "FARGATE";

fn in_progress(d: &Deployment) -> bool {
    d.rollout_state == Some(RolloutState::InProgress)
}

/// Whether the PRIMARY deployment `d` is still rolling out. ECS reports no rollout state for a
/// service behind a classic ELB; there the rollout goes on while older deployments are left or
/// it runs fewer tasks than desired.
fn rolling_out(svc: &Service, d: &Deployment) -> bool {
    match d.rollout_state {
        Some(_) => in_progress(d),
        None => svc.deployments.len() > 1 || d.running_count < d.desired_count,
    }
}

/// A deployment of `target` already under way, which a rerun resumes watching.
pub(super) fn resuming(svc: &Service, target: Option<&str>) -> Option<String> {
    svc.deployments
        .iter()
        .find(|d| {
            d.status == DeploymentStatus::Primary
                && Some(d.task_definition.as_str()) == target
                && rolling_out(svc, d)
        })
        .map(|d| d.id.clone())
}

/// ECS's own strategies shift traffic between two target groups: only behind ALB/NLB.
pub(super) fn check_strategy(
    strategy: &Strategy,
    service: &str,
    classic: bool,
    no_load_balancer: bool,
) -> Result<(), Error> {
    if !strategy.shifts_traffic() {
        return Ok(());
    }
    if classic || no_load_balancer {
        return Err(Error::refused(Refusal::StrategyNeedsTargetGroup {
            strategy: strategy.clone(),
            service: service.to_string(),
            classic,
        }));
    }
    Ok(())
}

/// What each target group lacks for ECS to shift traffic between it and its alternate:
/// `alternates` holds what DescribeTargetGroups said of each alternate named (None: missing).
pub(super) fn shift_problems(
    lbs: &[ServiceLoadBalancer],
    groups: &BTreeMap<String, TargetGroup>,
    alternates: &BTreeMap<String, Option<TargetGroup>>,
) -> Vec<ShiftProblem> {
    let mut problems = Vec::new();
    for lb in lbs {
        let Some(arn) = &lb.target_group_arn else {
            continue;
        };
        let target_group = short_tg(arn);
        let Some(a) = &lb.advanced else {
            problems.push(ShiftProblem::NoAdvancedConfiguration { target_group });
            continue;
        };
        let fields: Vec<&'static str> = [
            ("alternateTargetGroupArn", &a.alternate_target_group_arn),
            ("productionListenerRule", &a.production_listener_rule),
            ("roleArn", &a.role_arn),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(name, _)| name)
        .collect();
        if !fields.is_empty() {
            problems.push(ShiftProblem::Missing {
                target_group: target_group.clone(),
                fields,
            });
        }
        let Some(alt) = a
            .alternate_target_group_arn
            .as_deref()
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        if alt == arn {
            problems.push(ShiftProblem::AlternateIsProduction { target_group });
            continue;
        }
        match alternates.get(alt) {
            Some(Some(found)) => {
                let production = groups.get(arn).map(|g| &g.load_balancer_arns);
                let shares = production
                    .is_some_and(|lbs| lbs.iter().any(|l| found.load_balancer_arns.contains(l)));
                if !shares {
                    problems.push(ShiftProblem::AlternateOnOtherLoadBalancer {
                        target_group,
                        alternate: short_tg(alt),
                    });
                }
            }
            _ => problems.push(ShiftProblem::AlternateNotFound {
                target_group,
                alternate: short_tg(alt),
            }),
        }
    }
    problems
}

/// `targetgroup/web/0123` -> `web`: the name a target group ARN carries.
fn short_tg(arn: &str) -> String {
    arn.split("targetgroup/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(arn)
        .to_string()
}

/// A service keeps its desired count: a `--count` that differs is refused, not ignored.
pub(super) fn check_count(count: Option<usize>, svc: &Service) -> Result<(), Error> {
    match count.filter(|n| *n as i64 != svc.desired_count) {
        Some(given) => Err(Error::refused(Refusal::CountInServiceMode {
            service: svc.name.clone(),
            given,
            desired: svc.desired_count,
        })),
        None => Ok(()),
    }
}

pub(super) fn check_service(svc: &Service) -> Result<(), Error> {
    if svc.status != ResourceStatus::Active {
        return Err(Error::refused(Refusal::ServiceNotActive {
            service: svc.name.clone(),
            status: svc.status.clone(),
        }));
    }
    match &svc.deployment_controller {
        DeploymentController::Ecs => Ok(()),
        DeploymentController::Other(c) if c.is_empty() => Ok(()),
        other => Err(Error::refused(Refusal::ForeignController {
            service: svc.name.clone(),
            controller: other.clone(),
        })),
    }
}

/// Whether rolling out `target` undoes the revision the service runs: `target` is the one
/// ecs-roll recorded as previous on it. Such a rollback takes over from a deployment of that
/// revision still in progress (a failed ecs-roll deploy ECS keeps retrying, or one an
/// interrupt left running) rather than being refused for it, as ecs-roll's own rollback after
/// a failure does.
pub(super) fn undoes(current: &Revision, target: Option<&str>) -> bool {
    target.is_some_and(|t| current.tags.get(TAG_PREVIOUS).map(String::as_str) == Some(t))
}

/// Refuses while another deployment is under way. `recorded_previous`: the previous revision
/// ecs-roll recorded on the one the service runs, which `ecs-roll rollback` returns to.
pub(super) fn check_no_other_deployment(
    svc: &Service,
    recorded_previous: Option<&str>,
) -> Result<(), Error> {
    let busy = svc
        .deployments
        .iter()
        .find(|d| d.status != DeploymentStatus::Primary && d.status != DeploymentStatus::Inactive)
        .or_else(|| {
            svc.deployments
                .iter()
                .find(|d| d.status == DeploymentStatus::Primary && in_progress(d))
        });
    if let Some(d) = busy.filter(|_| svc.deployments.len() > 1 || busy.is_some_and(in_progress)) {
        let primary = svc
            .deployments
            .iter()
            .find(|d| d.status == DeploymentStatus::Primary)
            .unwrap_or(d);
        return Err(Error::refused(Refusal::DeploymentInProgress {
            service: svc.name.clone(),
            deployment: primary.id.clone(),
            revision: short_name(&primary.task_definition),
            created_at: primary.created_at.clone(),
            rollout: primary.rollout_state.as_ref().map(|r| r.to_string()),
            running: primary.running_count,
            desired: primary.desired_count,
            rollback_to: recorded_previous.map(short_name),
        }));
    }
    Ok(())
}

pub(super) fn is_fargate(svc: &Service) -> bool {
    svc.launch_type.as_deref() == Some(FARGATE)
        || svc
            .capacity_providers
            .iter()
            .any(|c| c.starts_with("FARGATE"))
}

/// How many more tasks of `td` fit now: unbounded on Fargate; on EC2 one per instance with
/// the static host ports free, or as many as CPU and memory allow with dynamic ports.
pub(super) fn capacity(
    td: &TaskDefinition,
    instances: &[ContainerInstance],
    fargate: bool,
) -> (Capacity, String) {
    if fargate {
        return (
            Capacity::Unbounded,
            "Fargate: new tasks need no free instance".into(),
        );
    }
    let need = td.reservation();
    let ports = td.static_host_ports();
    let fits = |i: &ContainerInstance| -> i64 {
        if !i.accepts_tasks() {
            return 0;
        }
        let by = |rem: i64, need: i64| if need <= 0 { i64::MAX } else { rem / need };
        let n = by(i.remaining_cpu, need.cpu).min(by(i.remaining_memory, need.memory));
        if ports.is_empty() {
            n.min(1_000)
        } else if ports.iter().any(|p| i.used_ports.contains(p)) {
            0
        } else {
            n.min(1)
        }
    };
    let total: i64 = instances.iter().map(fits).sum();
    let text = if ports.is_empty() {
        format!(
            "room for {total} more task(s) on {} instance(s)",
            instances.len()
        )
    } else {
        let list = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        format!("{total} instance(s) with host port {list} free and room for a task")
    };
    (Capacity::Tasks(total), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::DeploymentConfiguration;

    const NEW: &str = "arn:td/web:2";
    const OLD: &str = "arn:td/web:1";

    fn deployment(
        id: &str,
        status: &str,
        td: &str,
        running: i64,
        rollout: Option<&str>,
    ) -> Deployment {
        Deployment {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            desired_count: 3,
            running_count: running,
            pending_count: 0,
            failed_tasks: 0,
            rollout_state: rollout.map(RolloutState::parse),
            rollout_state_reason: None,
            created_at: None,
            updated_at: None,
        }
    }

    fn service(deployments: Vec<Deployment>) -> Service {
        Service {
            arn: "arn:svc/web".into(),
            name: "web".into(),
            status: "ACTIVE".into(),
            task_definition: NEW.into(),
            desired_count: 3,
            running_count: 3,
            pending_count: 0,
            launch_type: Some("EC2".into()),
            capacity_providers: vec![],
            placement: Default::default(),
            deployment_controller: "ECS".into(),
            deployment_configuration: DeploymentConfiguration::default(),
            deployments,
            load_balancers: vec![],
            events: vec![],
        }
    }

    #[test]
    fn a_rerun_resumes_a_rollout_of_its_target_under_way_with_or_without_a_rollout_state() {
        let new = |running, rollout| deployment("ecs-svc/2", "PRIMARY", NEW, running, rollout);
        let old = || deployment("ecs-svc/1", "ACTIVE", OLD, 1, None);
        // (deployments, resumed): ECS reports no rollout state behind a classic ELB.
        let table: Vec<(Vec<Deployment>, bool)> = vec![
            (vec![new(1, Some("IN_PROGRESS")), old()], true),
            (vec![new(3, Some("IN_PROGRESS"))], true),
            (vec![new(3, Some("COMPLETED"))], false),
            (vec![new(1, Some("FAILED")), old()], false),
            (vec![new(1, None), old()], true),
            (vec![new(2, None)], true),
            (vec![new(3, None)], false),
            (
                vec![deployment("ecs-svc/1", "PRIMARY", OLD, 1, None), old()],
                false,
            ),
        ];
        for (deployments, resumed) in table {
            let svc = service(deployments.clone());
            let want = resumed.then(|| "ecs-svc/2".to_string());
            assert_eq!(resuming(&svc, Some(NEW)), want, "{deployments:?}");
        }
        let under_way = service(vec![new(1, None), old()]);
        assert_eq!(resuming(&under_way, None), None, "no target revision yet");
    }

    fn revision(arn: &str, previous: Option<&str>) -> Revision {
        Revision {
            arn: arn.into(),
            family: "web".into(),
            revision: 2,
            body: serde_json::Value::Null,
            tags: previous
                .map(|p| (TAG_PREVIOUS.to_string(), p.to_string()))
                .into_iter()
                .collect(),
        }
    }

    /// The service runs NEW, its deployment still IN_PROGRESS (ECS retrying crashed tasks).
    fn retrying() -> Service {
        let mut d = deployment("ecs-svc/2", "PRIMARY", NEW, 0, Some("IN_PROGRESS"));
        d.pending_count = 3;
        d.failed_tasks = 6;
        let mut svc = service(vec![d]);
        svc.running_count = 0;
        svc.pending_count = 3;
        svc
    }

    #[test]
    fn only_a_return_to_the_recorded_previous_revision_undoes_the_running_one() {
        // (recorded previous on NEW, target) -> undoes
        let cases = [
            (Some(OLD), Some(OLD), true),
            (Some(OLD), Some("arn:td/web:0"), false),
            (Some(OLD), None, false),
            (None, Some(OLD), false),
        ];
        for (previous, target, undoes_it) in cases {
            assert_eq!(
                undoes(&revision(NEW, previous), target),
                undoes_it,
                "{previous:?} {target:?}"
            );
        }
    }

    #[test]
    fn a_deployment_in_progress_names_the_rollback_recorded_on_its_revision() {
        let err = check_no_other_deployment(&retrying(), Some(OLD)).unwrap_err();
        let Some(Refusal::DeploymentInProgress { rollback_to, .. }) = err.refusal() else {
            panic!("{err}")
        };
        assert_eq!(rollback_to.as_deref(), Some("web:1"));
        assert!(
            err.hint().contains("`ecs-roll rollback` returns to web:1"),
            "{}",
            err.hint()
        );
        let err = check_no_other_deployment(&retrying(), None).unwrap_err();
        assert!(!err.hint().contains("ecs-roll rollback"), "{}", err.hint());
    }

    fn group(name: &str, lb: &str) -> TargetGroup {
        TargetGroup {
            arn: format!("arn:aws:elasticloadbalancing:r:1:targetgroup/{name}/1"),
            name: name.into(),
            target_type: "instance".into(),
            port: Some(80),
            protocol: Some("HTTP".into()),
            health_check_interval: std::time::Duration::from_secs(10),
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            deregistration_delay: std::time::Duration::from_secs(30),
            load_balancer_arns: vec![lb.into()],
        }
    }

    #[test]
    fn what_a_target_group_lacks_for_ecs_to_shift_traffic_is_named() {
        use crate::platform::AdvancedConfiguration;
        let blue = group("blue", "alb-1");
        let green = group("green", "alb-1");
        let elsewhere = group("far", "alb-2");
        let lb = |advanced: Option<AdvancedConfiguration>| ServiceLoadBalancer {
            target_group_arn: Some(blue.arn.clone()),
            load_balancer_name: None,
            container_name: Some("web".into()),
            container_port: Some(80),
            advanced,
        };
        let full = |alt: &str| AdvancedConfiguration {
            alternate_target_group_arn: Some(alt.into()),
            production_listener_rule: Some("rule".into()),
            test_listener_rule: None,
            role_arn: Some("role".into()),
        };
        let groups = BTreeMap::from([(blue.arn.clone(), blue.clone())]);
        let alternates = BTreeMap::from([
            (green.arn.clone(), Some(green.clone())),
            (elsewhere.arn.clone(), Some(elsewhere.clone())),
            ("gone".to_string(), None),
        ]);
        let b = || "blue".to_string();
        let table = [
            (lb(Some(full(&green.arn))), vec![]),
            (
                lb(None),
                vec![ShiftProblem::NoAdvancedConfiguration { target_group: b() }],
            ),
            (
                lb(Some(AdvancedConfiguration::default())),
                vec![ShiftProblem::Missing {
                    target_group: b(),
                    fields: vec![
                        "alternateTargetGroupArn",
                        "productionListenerRule",
                        "roleArn",
                    ],
                }],
            ),
            (
                lb(Some(full("gone"))),
                vec![ShiftProblem::AlternateNotFound {
                    target_group: b(),
                    alternate: "gone".into(),
                }],
            ),
            (
                lb(Some(full(&blue.arn))),
                vec![ShiftProblem::AlternateIsProduction { target_group: b() }],
            ),
            (
                lb(Some(full(&elsewhere.arn))),
                vec![ShiftProblem::AlternateOnOtherLoadBalancer {
                    target_group: b(),
                    alternate: "far".into(),
                }],
            ),
        ];
        for (lb, want) in table {
            assert_eq!(
                shift_problems(std::slice::from_ref(&lb), &groups, &alternates),
                want,
                "{lb:?}"
            );
        }
    }
}
