//! A diagnosis in words: the cause in one sentence, and a hint that is something the user can
//! do (a field of the task definition to change, a permission to grant, a flag of ecs-roll).

use crate::engine::diagnosis::{
    CheckProblem, Diagnosis, PullProblem, Shortfall, TimedOutWaiting, Trigger,
};
use crate::platform::{ApiError, ApiErrorKind, short};

use super::human_limit;

fn named(container: &Option<String>) -> String {
    container
        .as_deref()
        .map_or("an essential container".into(), |c| {
            format!("container {c}")
        })
}

fn the_image(image: &Option<String>) -> String {
    image
        .as_deref()
        .map_or("the image".into(), |i| format!("image {i}"))
}

/// The cause in one sentence.
pub fn explanation(d: &Diagnosis) -> String {
    match d {
        Diagnosis::ImagePull { problem, image, .. } => match problem {
            PullProblem::NotFound => format!(
                "{} cannot be pulled: the tag or repository does not exist",
                the_image(image)
            ),
            PullProblem::AccessDenied => format!(
                "{} cannot be pulled: the registry refused access",
                the_image(image)
            ),
            PullProblem::Unreachable => format!(
                "{} cannot be pulled: the registry could not be reached",
                the_image(image)
            ),
            PullProblem::Other => format!("{} cannot be pulled", the_image(image)),
        },
        Diagnosis::OutOfMemory { container } => format!(
            "{} ran out of memory and was killed (exit 137)",
            named(container)
        ),
        Diagnosis::AppCrashed {
            container,
            exit_code: Some(0),
        } => format!(
            "the app exited: {} exited 0, and an essential container must keep running",
            named(container)
        ),
        Diagnosis::AppCrashed {
            container,
            exit_code,
        } => match exit_code {
            Some(code) => format!("the app crashed: {} exited {code}", named(container)),
            None => format!("the app crashed: {} exited", named(container)),
        },
        Diagnosis::ContainerHealthCheck { container } => format!(
            "{} failed its own health check (healthCheck in the task definition)",
            named(container)
        ),
        Diagnosis::ContainerStart { container } => {
            format!("the container runtime could not start {}", named(container))
        }
        Diagnosis::ResourceInitialization { resource, .. } => format!(
            "the task could not start: ECS could not fetch {} for it",
            resource
                .as_deref()
                .unwrap_or("its secrets, parameters or registry credentials")
        ),
        Diagnosis::HealthChecks {
            load_balancer,
            target,
            check,
            codes,
            ..
        } => health_checks(load_balancer, target, *check, codes),
        Diagnosis::Placement {
            shortfall,
            instance,
            port,
        } => placement(*shortfall, instance, *port),
        other => course(other),
    }
}

fn health_checks(lb: &str, target: &str, check: CheckProblem, codes: &[u16]) -> String {
    let who = format!("{} in {lb}", short(target));
    match check {
        CheckProblem::WrongStatus if !codes.is_empty() => {
            let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
            format!(
                "health checks fail: {who} answers {} where the health check expects success",
                codes.join(", ")
            )
        }
        CheckProblem::WrongStatus => {
            format!("health checks fail: {who} answers with a status the matcher rejects")
        }
        CheckProblem::Timeout => format!("health checks fail: {who} does not answer in time"),
        CheckProblem::StillStarting => {
            format!("health checks fail: {who} had not passed a check yet")
        }
        CheckProblem::Failing => format!("health checks fail: {who} is unhealthy"),
    }
}

fn placement(shortfall: Shortfall, instance: &Option<String>, port: Option<u16>) -> String {
    let on = instance
        .as_deref()
        .map(|i| format!(" (closest match: container instance {i})"))
        .unwrap_or_default();
    let what = match (shortfall, port) {
        (Shortfall::Ports, Some(p)) => format!("host port {p} is already taken"),
        (Shortfall::Ports, None) => "a host port the task needs is already taken".into(),
        (Shortfall::Memory, _) => "no instance has the memory the task reserves".into(),
        (Shortfall::Cpu, _) => "no instance has the CPU units the task reserves".into(),
        (Shortfall::Attribute, _) => {
            "no instance meets the task's placement constraints or attributes".into()
        }
        (Shortfall::Agent, _) => "the ECS agent is disconnected".into(),
        (Shortfall::NoInstances, _) => "the cluster has no container instances".into(),
        (Shortfall::FargateCapacity, _) => "Fargate has no capacity at the moment".into(),
        (Shortfall::Other, _) => "ECS could not place the task".into(),
    };
    format!("the task cannot be placed: {what}{on}")
}

/// The causes that are the run's own course rather than a task's.
fn course(d: &Diagnosis) -> String {
    match d {
        Diagnosis::EcsRolledBack { trigger, .. } => {
            format!("ECS rolled back: {}", triggered(trigger))
        }
        Diagnosis::EcsFailedDeployment { trigger, .. } => {
            format!("ECS failed the deployment: {}", triggered(trigger))
        }
        Diagnosis::AlarmFired { alarms } => format!(
            "CloudWatch alarm(s) {} went into ALARM during the deploy of the new revision",
            alarms.join(", ")
        ),
        Diagnosis::AccessDenied { action, .. } => {
            format!("AWS denied {action} to the identity ecs-roll runs as")
        }
        Diagnosis::Aws { operation, kind } => format!("AWS failed {operation}: {}", aws(*kind)),
        Diagnosis::TimedOut { waiting_for, limit } => timed_out(*waiting_for, *limit),
        Diagnosis::Superseded { .. } => "someone else's deployment replaced this one".into(),
        Diagnosis::VerificationFailed { problems } => {
            format!("the rollout ended but {problems} thing(s) do not run as wanted")
        }
        Diagnosis::NoDeploymentStarted => "ECS started no deployment".into(),
        Diagnosis::RollbackRefused => "the rollback could not be planned from what runs now".into(),
        Diagnosis::StoppedFromOutside { stop_code } => format!(
            "the task was stopped from outside ecs-roll ({})",
            stop_code.as_deref().unwrap_or("no stop code")
        ),
        Diagnosis::Interrupted => "the run was interrupted".into(),
        Diagnosis::BeforeFailed {
            command,
            revision,
            why,
            timed_out,
        } => {
            let why = match (why, timed_out) {
                (_, Some(limit)) => format!("it ran past --run-timeout {}", super::human(*limit)),
                // A command that exits non-zero is no app crash: it just failed.
                (Some(inner), None) => match &**inner {
                    Diagnosis::AppCrashed {
                        container,
                        exit_code: Some(code),
                    } => format!("{} exited {code}", named(container)),
                    other => explanation(other),
                },
                (None, None) => "its task stopped without exit codes".into(),
            };
            format!(
                "the command before the rollout (`{command}`) failed in a one-off task of {revision}: {why}; nothing was rolled out"
            )
        }
        Diagnosis::Unknown { ecs_says, .. } => match ecs_says {
            Some(said) => format!("not recognised; ECS said: {said}"),
            None => "not recognised; see the evidence".into(),
        },
        task_cause => explanation(task_cause),
    }
}

fn triggered(t: &Trigger) -> String {
    match t {
        Trigger::CircuitBreaker => "the deployment circuit breaker tripped".into(),
        Trigger::Alarms { alarms } if alarms.is_empty() => "a CloudWatch alarm went off".into(),
        Trigger::Alarms { alarms } => format!("CloudWatch alarm(s) {} went off", alarms.join(", ")),
        Trigger::Unknown => "no reason given".into(),
    }
}

fn timed_out(w: TimedOutWaiting, limit: std::time::Duration) -> String {
    let within = human_limit(limit);
    match w {
        TimedOutWaiting::TaskStart => format!("the new task did not reach RUNNING within {within}"),
        TimedOutWaiting::InService => {
            format!("the new task did not become InService within {within}")
        }
        TimedOutWaiting::Draining => format!("connection draining did not end within {within}"),
        TimedOutWaiting::TasksStop => format!("the old task did not stop within {within}"),
        TimedOutWaiting::OtherInService => {
            format!("no other instance became InService within {within}")
        }
        TimedOutWaiting::Deployment => {
            format!("the deployment did not become healthy within {within}")
        }
        TimedOutWaiting::Bake => format!("the bake did not end within {within}"),
        TimedOutWaiting::TaskHealthy => {
            format!(
                "a new task did not become healthy in its load balancer within {within} of RUNNING"
            )
        }
        TimedOutWaiting::Deadline => "the rollout's time limit passed".into(),
    }
}

fn aws(kind: ApiErrorKind) -> &'static str {
    match kind {
        ApiErrorKind::NotFound => "not found",
        ApiErrorKind::AccessDenied => "access denied",
        ApiErrorKind::Credentials => "no valid AWS credentials",
        ApiErrorKind::Throttled => "throttled",
        ApiErrorKind::InvalidRequest => "invalid request",
        ApiErrorKind::Unavailable => "endpoint unavailable",
        ApiErrorKind::Other => "an error",
    }
}

/// What the user can do about it: always an action, with ecs-roll's real flags.
pub fn hint(d: &Diagnosis) -> String {
    match d {
        Diagnosis::ImagePull { problem, image, .. } => pull_hint(*problem, image),
        Diagnosis::OutOfMemory { container } => format!(
            "raise `memory` (or `memoryReservation`) of {} in the task definition (--task-definition), or find what grows in the app",
            named(container)
        ),
        Diagnosis::AppCrashed { exit_code: Some(0), .. } => "make the container's command keep running in the foreground (a daemon that forks exits 0), then deploy the fixed image with --image".into(),
        Diagnosis::AppCrashed { container, .. } => format!(
            "read the log of {} (its logConfiguration, e.g. CloudWatch Logs) for why it exited; fix the image, then deploy again with --image",
            named(container)
        ),
        Diagnosis::ContainerHealthCheck { .. } => "fix the container's healthCheck command, or give it a longer startPeriod in the task definition (--task-definition)".into(),
        Diagnosis::ContainerStart { .. } => "check the container's command, entryPoint, mounts and user in the task definition (--task-definition) against the image".into(),
        Diagnosis::ResourceInitialization { action, resource } => secrets_hint(action, resource),
        Diagnosis::HealthChecks { check, unhealthy_for, .. } => checks_hint(*check, unhealthy_for.is_some()),
        Diagnosis::Placement { shortfall, .. } => placement_hint(*shortfall),
        other => course_hint(other),
    }
}

fn pull_hint(problem: PullProblem, image: &Option<String>) -> String {
    match problem {
        PullProblem::NotFound => format!(
            "check that {} exists in its registry (push it, or fix the tag), then deploy again with --image",
            the_image(image)
        ),
        PullProblem::AccessDenied => "grant the task execution role (executionRoleArn) ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer, or set repositoryCredentials for a private registry; check the image name too".into(),
        PullProblem::Unreachable => "give the tasks a route to the registry: a NAT gateway or public IP, or VPC endpoints for ECR (ecr.api, ecr.dkr) and S3".into(),
        PullProblem::Other => format!("check {} and the registry's availability, then deploy again with --image", the_image(image)),
    }
}

fn secrets_hint(action: &Option<String>, resource: &Option<String>) -> String {
    let what = resource
        .as_deref()
        .unwrap_or("the secrets and parameters the task definition names");
    match action {
        Some(action) => format!(
            "grant the task execution role (executionRoleArn) {action} on {what} (and kms:Decrypt for a customer-managed key)"
        ),
        None => format!(
            "check that {what} exists in this region, and that the task execution role (executionRoleArn) may read it (secretsmanager:GetSecretValue, ssm:GetParameters)"
        ),
    }
}

fn checks_hint(check: CheckProblem, grace_applied: bool) -> String {
    let slow = if grace_applied {
        "if the app needs longer to start, raise --health-grace"
    } else {
        "if the app is slow to start, give it --health-grace (e.g. --health-grace 60s)"
    };
    match check {
        CheckProblem::WrongStatus => format!(
            "make the health check's path answer 2xx, or fix the path or the matcher (success codes) of the health check; {slow}"
        ),
        CheckProblem::Timeout => format!(
            "make the health check's path answer within the check's timeout (a cheap endpoint), or raise the timeout; {slow}"
        ),
        CheckProblem::StillStarting => format!("{slow}, or --health-timeout for the whole wait"),
        CheckProblem::Failing => format!(
            "check the health check's path and port against what the container listens on (its portMappings); {slow}"
        ),
    }
}

fn placement_hint(shortfall: Shortfall) -> String {
    match shortfall {
        Shortfall::Ports => "a static host port allows one task per instance: add instances, deploy with a lower --count, or use dynamic host ports (hostPort 0) behind an ALB".into(),
        Shortfall::Memory => "lower the task's memory reservation in the task definition (--task-definition), or add container instances with more memory".into(),
        Shortfall::Cpu => "lower the task's cpu in the task definition (--task-definition), or add container instances with more CPU".into(),
        Shortfall::Attribute => "check the placement constraints of the task definition and service against the instances' attributes".into(),
        Shortfall::Agent => "reconnect or replace the container instance whose ECS agent is disconnected (`ecs-roll status` lists the instances)".into(),
        Shortfall::NoInstances => "add container instances to the cluster (its Auto Scaling group), or check --cluster".into(),
        Shortfall::FargateCapacity => "deploy again later, or let the service use more subnets in other availability zones".into(),
        Shortfall::Other => "see the service's events for why ECS cannot place the task; `ecs-roll status` shows the instances".into(),
    }
}

const ALARM_HINT: &str =
    "look at what the alarm measures on the new revision; fix it, then deploy again";

fn course_hint(d: &Diagnosis) -> String {
    match d {
        Diagnosis::AlarmFired { .. } => ALARM_HINT.into(),
        Diagnosis::EcsRolledBack { trigger, .. } | Diagnosis::EcsFailedDeployment { trigger, .. } => match trigger {
            Trigger::Alarms { .. } => ALARM_HINT.into(),
            _ => "the new tasks kept failing to start or to pass health checks: look at the stopped tasks' reasons (`ecs-roll status`, the ECS console), fix the image, then deploy again".into(),
        },
        Diagnosis::AccessDenied { action, .. } => format!(
            "grant the permission for {action} to the identity ecs-roll runs as (see iam/README.md)"
        ),
        Diagnosis::Aws { operation, kind } => {
            crate::error::api_hint(&ApiError::new(operation, *kind, ""))
        }
        Diagnosis::TimedOut { waiting_for, .. } => timed_out_hint(*waiting_for),
        Diagnosis::Superseded { .. } => "ask who started the other deployment; run `ecs-roll status` to see what runs now".into(),
        Diagnosis::VerificationFailed { .. } => "run `ecs-roll status` to see each instance, then deploy again".into(),
        Diagnosis::NoDeploymentStarted => "run `ecs-roll status`, then deploy again".into(),
        Diagnosis::RollbackRefused => "choose the revision to return to with `ecs-roll rollback --to REVISION`".into(),
        Diagnosis::StoppedFromOutside { .. } => "find what stops tasks (a person, a script, Spot interruption); then deploy again".into(),
        Diagnosis::Interrupted => "run the same command again to resume".into(),
        Diagnosis::BeforeFailed { timed_out: Some(_), .. } => "raise --run-timeout (e.g. --run-timeout 1h) if the command needs longer, or find what it waits for (its log is above); then deploy again".into(),
        Diagnosis::BeforeFailed { why: Some(inner), .. } if !matches!(**inner, Diagnosis::AppCrashed { .. } | Diagnosis::Unknown { .. }) => hint(inner),
        Diagnosis::BeforeFailed { .. } => "the command's own output is its log (the last lines are above): fix the command, or what it runs against, then deploy again; the revision that runs now keeps serving".into(),
        _ => "read the evidence (the stopped reason, the exit codes) and the container's log; then deploy again".into(),
    }
}

fn timed_out_hint(w: TimedOutWaiting) -> String {
    match w {
        TimedOutWaiting::TaskStart => "the task stayed PENDING: usually a slow or stuck image pull or an ECS agent problem; look at the task in `ecs-roll status`, then deploy again".into(),
        TimedOutWaiting::InService => "check the load balancer's health check against the app, or raise --health-timeout (--health-grace if it is slow to start)".into(),
        TimedOutWaiting::Draining => "lower the load balancer's connection draining timeout, or raise --timeout".into(),
        TimedOutWaiting::TasksStop => "make the container exit on SIGTERM within its stopTimeout; then deploy again".into(),
        TimedOutWaiting::OtherInService => "bring another instance InService first (`ecs-roll status` shows their health)".into(),
        TimedOutWaiting::Deployment => "see the service's events, or raise --timeout for a slow rollout".into(),
        TimedOutWaiting::TaskHealthy => "check the load balancer's health check against the app (path, port, expected codes), or raise --health-timeout".into(),
        TimedOutWaiting::Deadline => "raise --timeout".into(),
        TimedOutWaiting::Bake => "check that ECS and CloudWatch answer from here, then deploy again".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// One diagnosis of every kind, with the variations their hints depend on.
    fn every_kind() -> Vec<Diagnosis> {
        let some = |s: &str| Some(s.to_string());
        let mut all = vec![
            Diagnosis::OutOfMemory {
                container: some("app"),
            },
            Diagnosis::AppCrashed {
                container: some("app"),
                exit_code: Some(1),
            },
            Diagnosis::AppCrashed {
                container: some("app"),
                exit_code: Some(0),
            },
            Diagnosis::AppCrashed {
                container: None,
                exit_code: None,
            },
            Diagnosis::ContainerHealthCheck {
                container: some("app"),
            },
            Diagnosis::ContainerStart { container: None },
            Diagnosis::ResourceInitialization {
                action: some("ssm:GetParameters"),
                resource: some("/db"),
            },
            Diagnosis::ResourceInitialization {
                action: None,
                resource: None,
            },
            Diagnosis::EcsRolledBack {
                trigger: Trigger::CircuitBreaker,
                deployment: "d".into(),
            },
            Diagnosis::EcsFailedDeployment {
                trigger: Trigger::Alarms {
                    alarms: vec!["5xx".into()],
                },
                deployment: "d".into(),
            },
            Diagnosis::AccessDenied {
                operation: "StartTask",
                action: "ecs:StartTask".into(),
            },
            Diagnosis::Aws {
                operation: "DescribeTasks",
                kind: ApiErrorKind::Throttled,
            },
            Diagnosis::Superseded { by: None },
            Diagnosis::VerificationFailed { problems: 2 },
            Diagnosis::NoDeploymentStarted,
            Diagnosis::RollbackRefused,
            Diagnosis::StoppedFromOutside {
                stop_code: some("UserInitiated"),
            },
            Diagnosis::Interrupted,
            Diagnosis::Unknown {
                failure: "task_stopped",
                ecs_says: some("Timeout waiting for network interface"),
            },
        ];
        for problem in [
            PullProblem::NotFound,
            PullProblem::AccessDenied,
            PullProblem::Unreachable,
            PullProblem::Other,
        ] {
            all.push(Diagnosis::ImagePull {
                problem,
                container: some("app"),
                image: some("app:v9"),
            });
        }
        for check in [
            CheckProblem::WrongStatus,
            CheckProblem::Timeout,
            CheckProblem::StillStarting,
            CheckProblem::Failing,
        ] {
            for unhealthy_for in [None, Some(Duration::from_secs(60))] {
                let (load_balancer, target) = ("web-tg".into(), "arn:task/default/abc".into());
                all.push(Diagnosis::HealthChecks {
                    load_balancer,
                    target,
                    check,
                    codes: vec![404],
                    unhealthy_for,
                });
            }
        }
        use Shortfall::*;
        for shortfall in [
            Ports,
            Memory,
            Cpu,
            Attribute,
            Agent,
            NoInstances,
            FargateCapacity,
            Other,
        ] {
            all.push(Diagnosis::Placement {
                shortfall,
                instance: some("0a1b"),
                port: Some(80),
            });
        }
        use TimedOutWaiting::*;
        for waiting_for in [
            TaskStart,
            InService,
            Draining,
            TasksStop,
            OtherInService,
            Deployment,
            TaskHealthy,
            Deadline,
        ] {
            all.push(Diagnosis::TimedOut {
                waiting_for,
                limit: Duration::from_secs(300),
            });
        }
        // `deploy --before`: a command that failed, was OOM-killed or ran past its timeout.
        let inner = [
            Some(Diagnosis::AppCrashed {
                container: some("app"),
                exit_code: Some(1),
            }),
            Some(Diagnosis::OutOfMemory {
                container: some("app"),
            }),
            None,
        ];
        for (why, timed_out) in inner
            .into_iter()
            .map(|w| (w, None))
            .chain([(None, Some(Duration::from_secs(1800)))])
        {
            all.push(Diagnosis::BeforeFailed {
                command: "./migrate up".into(),
                revision: "app:2".into(),
                why: why.map(Box::new),
                timed_out,
            });
        }
        all
    }

    #[test]
    fn a_failed_before_command_is_named_with_what_ended_it_and_nothing_rolled_out() {
        let failed = |why: Option<Diagnosis>, timed_out| Diagnosis::BeforeFailed {
            command: "./migrate up".into(),
            revision: "app:2".into(),
            why: why.map(Box::new),
            timed_out,
        };
        let exited = failed(
            Some(Diagnosis::AppCrashed {
                container: Some("app".to_string()),
                exit_code: Some(3),
            }),
            None,
        );
        assert_eq!(
            explanation(&exited),
            "the command before the rollout (`./migrate up`) failed in a one-off task of app:2: container app exited 3; nothing was rolled out"
        );
        assert!(hint(&exited).contains("its log"), "{}", hint(&exited));
        let oom = failed(
            Some(Diagnosis::OutOfMemory {
                container: Some("app".to_string()),
            }),
            None,
        );
        assert!(hint(&oom).starts_with("raise `memory`"), "{}", hint(&oom));
        let late = failed(None, Some(Duration::from_secs(1800)));
        assert!(
            explanation(&late).contains("it ran past --run-timeout 30m"),
            "{}",
            explanation(&late)
        );
        assert!(
            hint(&late).starts_with("raise --run-timeout"),
            "{}",
            hint(&late)
        );
    }

    fn long_flags() -> Vec<String> {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let subcommands = cli.get_subcommands().flat_map(|c| c.get_arguments());
        cli.get_arguments()
            .chain(subcommands)
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    }

    #[test]
    fn every_hint_is_an_action_with_flags_ecs_roll_has() {
        let flags = long_flags();
        for d in every_kind() {
            let (said, hint) = (explanation(&d), hint(&d));
            assert!(!said.is_empty() && !hint.is_empty(), "{d:?}");
            for word in hint.split(|c: char| {
                c.is_whitespace() || c == '(' || c == ')' || c == ',' || c == ';' || c == '`'
            }) {
                if word.starts_with("--") {
                    assert!(
                        flags.iter().any(|f| f == word),
                        "{word} in the hint for {d:?} is no flag of ecs-roll: {hint}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_crash_names_the_container_and_its_exit_code() {
        let d = Diagnosis::AppCrashed {
            container: Some("cb-prototype".into()),
            exit_code: Some(1),
        };
        assert_eq!(
            explanation(&d),
            "the app crashed: container cb-prototype exited 1"
        );
    }

    #[test]
    fn a_slow_app_is_told_about_the_health_grace() {
        let d = Diagnosis::HealthChecks {
            load_balancer: "cb-prototype-elb".into(),
            target: "i-1".into(),
            check: CheckProblem::Failing,
            codes: vec![],
            unhealthy_for: None,
        };
        assert!(hint(&d).contains("--health-grace"), "{}", hint(&d));
        let d = Diagnosis::Placement {
            shortfall: Shortfall::Ports,
            instance: Some("0a1b".into()),
            port: Some(8080),
        };
        assert_eq!(
            explanation(&d),
            "the task cannot be placed: host port 8080 is already taken (closest match: container instance 0a1b)"
        );
    }
}
