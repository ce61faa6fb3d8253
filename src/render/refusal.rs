//! What a refusal says, and what to do about it: each hint works as printed.

use crate::engine::plan;
use crate::engine::refusal::{AbortBlocked, Refusal, ShiftProblem, Unavailable};
use crate::platform::{DeploymentController, ResourceStatus};

pub fn message(r: &Refusal) -> String {
    match r {
        Refusal::LockHeld {
            what,
            holder,
            since,
            expires,
            renews_every_ms,
        } => format!(
            "another ecs-roll deploy of {what} is in progress: {}{}",
            super::lock::holder(holder, *since),
            match renews_every_ms {
                Some(ms) => format!(
                    ", and it renews the lock every {}",
                    super::human_limit(std::time::Duration::from_millis(*ms))
                ),
                None => format!(" (the lock expires at {})", super::lock::rfc3339(*expires)),
            }
        ),
        Refusal::OtherTargetRefused { targets } => format!(
            "not started: the preflight of {} failed, and no target of this command changes anything unless every one can",
            targets.join(", ")
        ),
        Refusal::LockVanished { what } => {
            format!("the deploy lock on {what} vanished right after it was taken")
        }
        Refusal::Image { image, lookup } => super::images::refusal_message(image, lookup),
        Refusal::RollbackNotReady { revision, problem } => {
            super::images::not_ready(revision, problem)
        }
        Refusal::ClusterNotActive { cluster } => {
            format!("cluster {cluster:?} does not exist or is not ACTIVE")
        }
        Refusal::LoadBalancerNotFound { name } => {
            format!("classic load balancer {name:?} not found")
        }
        Refusal::PortNotMapped {
            load_balancer,
            port,
            static_ports,
        } => format!(
            "{load_balancer} sends traffic and health checks to instance port {port}, but the task definition maps no static host port {port} (static host ports: {})",
            if static_ports.is_empty() {
                "none".to_string()
            } else {
                static_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        Refusal::WrongFamily {
            found,
            expected,
            service: None,
        } => format!(
            "the task definition's family is {found:?} but the target family is {expected:?}"
        ),
        Refusal::WrongFamily {
            found,
            expected,
            service: Some(service),
        } => format!(
            "the task definition's family is {found:?} but service {service} runs family {expected:?}"
        ),
        Refusal::CountUnknown { family, cluster } => format!(
            "no task of family {family} runs in cluster {cluster}, so the count cannot be inferred"
        ),
        Refusal::NoSafePlan {
            command,
            refusal,
            unavailable,
        } if !unavailable.is_empty() => {
            let short = match refusal {
                plan::Refusal::NoCapacity { needed, usable, .. } => {
                    format!("{needed} tasks are wanted but only {usable} instances can run one")
                }
                _ => "no other instance has room for the new task beside the serving one".into(),
            };
            format!(
                "cannot {command}: too little capacity ({short}), because {}",
                unavailable_text(unavailable)
            )
        }
        Refusal::NoSafePlan {
            command, refusal, ..
        } => {
            format!("cannot {command} without downtime: {refusal}")
        }
        Refusal::ServiceNotFound { service, cluster } => {
            format!("service {service:?} not found in cluster {cluster:?}")
        }
        Refusal::ServiceNotActive { service, status } => {
            format!("service {service} is {status}, not ACTIVE")
        }
        Refusal::ForeignController {
            service,
            controller: DeploymentController::CodeDeploy,
        } => format!(
            "service {service} is deployed by CodeDeploy (deployment controller CODE_DEPLOY); UpdateService cannot change its task definition"
        ),
        Refusal::ForeignController {
            service,
            controller,
        } => format!(
            "service {service} uses the {controller} deployment controller: its task sets are managed outside ECS"
        ),
        Refusal::DeploymentInProgress {
            service,
            deployment,
            revision,
            created_at,
            rollout,
            running,
            desired,
            ..
        } => format!(
            "another deployment of service {service} is in progress: {deployment} of {revision} (started {}, rollout {}, {running}/{desired} running)",
            created_at.as_deref().unwrap_or("at an unknown time"),
            rollout.as_deref().unwrap_or("in progress"),
        ),
        Refusal::StrategyNeedsTargetGroup {
            strategy,
            service,
            classic: true,
        } => format!(
            "the {strategy} strategy shifts traffic between target groups, but service {service} is behind a classic ELB"
        ),
        Refusal::StrategyNeedsTargetGroup {
            strategy, service, ..
        } => format!(
            "the {strategy} strategy needs an ALB/NLB target group and service {service} has no load balancer"
        ),
        Refusal::StrategyNeedsAdvancedConfiguration {
            strategy,
            service,
            problems,
        } => format!(
            "ECS cannot shift traffic for the {strategy} strategy: service {service}'s {}",
            problems
                .iter()
                .map(shift_problem)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Refusal::NoServiceCapacity {
            service,
            unavailable,
            ..
        } if !unavailable.is_empty() => format!(
            "cannot deploy service {service}: too little capacity (no container instance has room for a new task beside the running one), because {}",
            unavailable_text(unavailable)
        ),
        Refusal::NoServiceCapacity {
            service, refusal, ..
        } => {
            format!("cannot deploy service {service} without downtime: {refusal}")
        }
        Refusal::CountInServiceMode {
            service,
            given,
            desired,
        } => format!(
            "--count {given} does not apply to service {service}: a deploy keeps its desired count ({desired})"
        ),
        Refusal::TargetGroupNotFound { arn, service } => {
            format!("target group {arn} of service {service} does not exist")
        }
        Refusal::ServiceLoadBalancerNotFound { name, service } => {
            format!("classic load balancer {name} of service {service} does not exist")
        }
        Refusal::AlarmsNotFound { alarms } => format!(
            "CloudWatch has no alarm {} (the --alarm names, in this account and region)",
            names(alarms.iter())
        ),
        Refusal::AlarmsFiring { alarms } => format!(
            "alarm {} is in ALARM already: a deploy gated by it now could not tell the new revision's fault from the one that fired",
            super::alarms_with_reasons(alarms)
        ),
        Refusal::AwsDidNotAnswer { limit } => format!(
            "AWS did not answer within {} (--timeout); nothing was changed",
            super::human_limit(*limit)
        ),
        Refusal::NoRecordedPrevious { revision } => format!(
            "{revision} has no recorded previous revision (it was not deployed by ecs-roll, or nothing ran before it)"
        ),
        Refusal::NothingToRollBack { family, cluster } => format!(
            "family {family} has no revision and none runs in cluster {cluster}: there is nothing to roll back"
        ),
        Refusal::CannotAbort { service, why } => cannot_abort(service, why),
    }
}

pub fn hint(r: &Refusal) -> String {
    match r {
        Refusal::LockHeld { renews_every_ms: Some(_), .. } => "wait for it to finish and run the same command again; should that run crash, the next run takes its lock over once it is no longer renewed".into(),
        Refusal::LockHeld { renews_every_ms: None, .. } => "wait for it to finish; if that run crashed, `ecs-roll unlock` removes its lock (it also expires by itself)".into(),
        Refusal::OtherTargetRefused { .. } => "fix what the other target's error says and run the same command again, or leave that target out".into(),
        Refusal::LockVanished { .. } => "someone may be running `ecs-roll unlock`; run the same command again".into(),
        Refusal::Image { lookup, .. } => super::images::refusal_hint(lookup),
        Refusal::RollbackNotReady { problem, .. } => super::images::not_ready_hint(problem),
        Refusal::ClusterNotActive { .. } => {
            "check --cluster (or `cluster` in ecs-roll.toml) and --region".into()
        }
        Refusal::LoadBalancerNotFound { .. } => "check --load-balancer (or `load_balancer` in ecs-roll.toml) and --region; ALB/NLB target groups are used with --service".into(),
        Refusal::PortNotMapped { .. } => "a classic ELB cannot follow dynamic ports: map the container port to hostPort in the task definition".into(),
        Refusal::WrongFamily { service: None, .. } => "set --family (or `family` in ecs-roll.toml) to the file's family, or fix the file".into(),
        Refusal::WrongFamily { service: Some(_), .. } => "deploy a task definition of the service's family".into(),
        Refusal::CountUnknown { .. } => "pass --count N".into(),
        Refusal::NoSafePlan { unavailable, .. } | Refusal::NoServiceCapacity { unavailable, .. }
            if !unavailable.is_empty() =>
        {
            unavailable_hint(unavailable)
        }
        Refusal::NoSafePlan { refusal, .. } => match refusal {
            plan::Refusal::NoCapacity { .. } => {
                "add container instances to the cluster, or deploy fewer tasks with --count".into()
            }
            plan::Refusal::Downtime { .. } => {
                "add a container instance, or pass --allow-downtime to accept an outage".into()
            }
            plan::Refusal::ZeroCount => "pass --count 1 or more".into(),
        },
        Refusal::ServiceNotFound { .. } => "check --service (or `service` in ecs-roll.toml), --cluster and --region".into(),
        Refusal::ServiceNotActive { .. } => "deploy to an ACTIVE service".into(),
        Refusal::ForeignController { controller: DeploymentController::CodeDeploy, .. } => "deploy it with `aws deploy create-deployment` (an AppSpec with the new revision), or move it to the ECS controller and its built-in BLUE_GREEN strategy".into(),
        Refusal::ForeignController { .. } => "deploy through the external controller that owns its task sets".into(),
        Refusal::DeploymentInProgress { rollback_to: None, .. } => "wait until it completes (ecs-roll status shows it), then deploy again".into(),
        Refusal::DeploymentInProgress { rollback_to: Some(previous), .. } => format!(
            "wait until it completes (ecs-roll status shows it), then deploy again; if it is an ecs-roll deploy that failed and ECS keeps retrying, `ecs-roll rollback` returns to {previous}"
        ),
        Refusal::StrategyNeedsTargetGroup { classic: true, .. } => "use --strategy rolling, or move the service to an ALB/NLB target group".into(),
        Refusal::StrategyNeedsTargetGroup { .. } => "use --strategy rolling".into(),
        Refusal::StrategyNeedsAdvancedConfiguration { .. } => "give each target group of the service an advancedConfiguration (UpdateService loadBalancers): an alternate target group on the same load balancer, the production listener rule ECS moves, and a role it may move it with; or use --strategy rolling".into(),
        Refusal::NoServiceCapacity { .. } => "add a container instance (or capacity provider capacity) so a new task fits beside the old one, or pass --allow-downtime".into(),
        Refusal::CountInServiceMode { .. } => {
            "drop --count (and `count` in ecs-roll.toml): the service's desired count is kept; scale the service on its own".into()
        }
        Refusal::TargetGroupNotFound { .. } => "fix the service's load balancer configuration; ecs-roll will not deploy without its health gate".into(),
        Refusal::ServiceLoadBalancerNotFound { .. } => "fix the service's load balancer configuration".into(),
        Refusal::AlarmsNotFound { .. } => "check the names (`aws cloudwatch describe-alarms` lists them) and --region, or create the alarm first".into(),
        Refusal::AlarmsFiring { .. } => "wait until the alarm is back to OK and deploy again (ECS ignores an alarm that is in ALARM when a deployment starts), or leave it out of --alarm".into(),
        Refusal::AwsDidNotAnswer { .. } => "check that AWS is reachable from here (network, proxy, AWS_ENDPOINT_URL, --region) and not throttling every call, then run the same command again; or raise --timeout".into(),
        Refusal::NoRecordedPrevious { .. } => "pass --to REVISION (a number, family:revision or ARN)".into(),
        Refusal::NothingToRollBack { .. } => "check --family and --cluster; a first deploy registers a revision from --task-definition FILE".into(),
        Refusal::CannotAbort { why, .. } => match why {
            AbortBlocked::NoDeployment | AbortBlocked::Ended { .. } => "nothing was changed; `ecs-roll status` shows what the service runs".into(),
            AbortBlocked::NoEarlierRevision { .. } => "wait until it ends, then deploy the revision that should run".into(),
            AbortBlocked::Unsupported { .. } => "wait until it ends (`ecs-roll status` shows it), then deploy the revision that should run; a deploy of ecs-roll that is still following it rolls back by itself when its checks fail".into(),
        },
    }
}

fn cannot_abort(service: &str, why: &AbortBlocked) -> String {
    match why {
        AbortBlocked::NoDeployment => {
            format!("service {service} has no deployment in progress: there is nothing to abort")
        }
        AbortBlocked::Ended {
            service_deployment,
            status,
        } => format!(
            "the current deployment of service {service} ({service_deployment}) is {} already: only a PENDING or IN_PROGRESS deployment can be rolled back",
            status.as_str()
        ),
        AbortBlocked::NoEarlierRevision { service_deployment } => format!(
            "deployment {service_deployment} of service {service} has no earlier revision for ECS to return to"
        ),
        AbortBlocked::Unsupported { deployment } => format!(
            "this endpoint has no service deployments (DescribeServiceDeployments, StopServiceDeployment), so ECS cannot be asked to roll deployment {deployment} of service {service} back"
        ),
    }
}

fn shift_problem(p: &ShiftProblem) -> String {
    match p {
        ShiftProblem::NoAdvancedConfiguration { target_group } => {
            format!("target group {target_group} has no advancedConfiguration")
        }
        ShiftProblem::Missing {
            target_group,
            fields,
        } => format!(
            "target group {target_group}'s advancedConfiguration has no {}",
            fields.join(", no ")
        ),
        ShiftProblem::AlternateNotFound {
            target_group,
            alternate,
        } => format!(
            "alternate target group {alternate} of target group {target_group} does not exist"
        ),
        ShiftProblem::AlternateIsProduction { target_group } => {
            format!("target group {target_group} is named as its own alternate target group")
        }
        ShiftProblem::AlternateOnOtherLoadBalancer {
            target_group,
            alternate,
        } => format!(
            "alternate target group {alternate} is not attached to the load balancer of target group {target_group}"
        ),
    }
}

/// `"a", "b" or "c"`.
fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = names.map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// `container instance i-1 is DRAINING (ECS places no new task on it)`, for each.
fn unavailable_text(unavailable: &[Unavailable]) -> String {
    let each: Vec<String> = unavailable
        .iter()
        .map(|u| {
            let why = if u.status != ResourceStatus::Active {
                format!("is {}", u.status)
            } else {
                "has its ECS agent disconnected".to_string()
            };
            format!("container instance {} {why}", u.instance)
        })
        .collect();
    format!("{} (ECS places no new task there)", each.join(" and "))
}

fn unavailable_hint(unavailable: &[Unavailable]) -> String {
    let draining = unavailable
        .iter()
        .any(|u| u.status != ResourceStatus::Active);
    let disconnected = unavailable
        .iter()
        .any(|u| u.status == ResourceStatus::Active && !u.agent_connected);
    let mut fixes = Vec::new();
    if draining {
        fixes.push("if the instance is not on its way out, set it back to ACTIVE (ECS UpdateContainerInstancesState)");
    }
    if disconnected {
        fixes.push("reconnect or replace the instance whose ECS agent is disconnected");
    }
    fixes.push("add a container instance to the cluster");
    fixes.join("; or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::service::configuration;

    fn draining() -> Vec<Unavailable> {
        vec![Unavailable {
            instance: "i-0draining".into(),
            status: ResourceStatus::Draining,
            agent_connected: true,
        }]
    }

    #[test]
    fn a_refusal_caused_by_a_draining_instance_names_it_as_a_capacity_problem() {
        let refusals = [
            Refusal::NoSafePlan {
                command: "deploy".into(),
                refusal: plan::Refusal::Downtime {
                    detail: "replacing the task on i-1 would leave no instance serving".into(),
                },
                unavailable: draining(),
            },
            Refusal::NoSafePlan {
                command: "deploy".into(),
                refusal: plan::Refusal::NoCapacity {
                    needed: 3,
                    usable: 2,
                    detail: "0 instances are free".into(),
                },
                unavailable: draining(),
            },
            Refusal::NoServiceCapacity {
                service: "web".into(),
                refusal: configuration::Refusal::Downtime { desired: 1 },
                unavailable: draining(),
            },
        ];
        for r in refusals {
            let (said, hint) = (message(&r), hint(&r));
            assert!(said.contains("i-0draining is DRAINING"), "{said}");
            assert!(said.contains("capacity"), "{said}");
            assert!(!said.contains("downtime"), "{said}");
            assert!(!hint.contains("--allow-downtime"), "{hint}");
            assert!(hint.contains("ACTIVE"), "{hint}");
        }
    }

    #[test]
    fn without_an_unavailable_instance_downtime_is_named_as_such() {
        let r = Refusal::NoServiceCapacity {
            service: "web".into(),
            refusal: configuration::Refusal::Downtime { desired: 1 },
            unavailable: Vec::new(),
        };
        assert!(message(&r).contains("without downtime"), "{}", message(&r));
        assert!(hint(&r).contains("--allow-downtime"), "{}", hint(&r));
    }
}
