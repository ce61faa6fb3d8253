//! The classifier's table: realistic evidence, in ECS's and the load balancers' exact
//! wording, and the diagnosis each must give.

use std::time::Duration;

use super::*;
use crate::engine::failure::{Interruption, Mismatch};
use crate::platform::{HealthState, ServiceDeploymentStatus};

const PULL_NOT_FOUND: &str = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/rafabor/prototype-4-cb:v9: docker.io/rafabor/prototype-4-cb:v9: not found";
const PULL_DENIED_ECR: &str = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v2: pulling from host 123456789012.dkr.ecr.eu-west-1.amazonaws.com failed with status code [manifests v2]: 403 Forbidden";
const PULL_NO_AUTH: &str = "CannotPullContainerError: Error response from daemon: Get https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/app/manifests/v2: no basic auth credentials";
const PULL_MANIFEST_UNKNOWN: &str = "CannotPullContainerError: Error response from daemon: manifest for 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v3 not found: manifest unknown: Requested image not found";
const PULL_TIMEOUT: &str = "CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReadSeeker: failed open: failed to do request: Get \"https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/abc\": dial tcp 52.218.1.1:443: i/o timeout";
const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
const SECRETS: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf from secrets manager: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/5f3c is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf because no identity-based policy allows the secretsmanager:GetSecretValue action";
const SSM: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid ssm parameters: /app/db-password";
const ESSENTIAL: &str = "Essential container in task exited";
const PLACE_PORTS: &str = "service web was unable to place a task because no container instance met all of its requirements. The closest matching container-instance 0a1b2c3d4e5f is missing resources: RESOURCE:PORTS";
const PLACE_MEMORY: &str = "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 5d4c3b2a1f) has insufficient memory available. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
const PLACE_CPU: &str = "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 9f8e) has insufficient CPU units available. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
const PLACE_NONE: &str = "(service web) was unable to place a task because no container instance met all of its requirements. Reason: No Container Instances were found in your cluster. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
const FARGATE: &str = "(service web) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";

fn container(name: &str, exit_code: Option<i32>, reason: Option<&str>) -> ContainerExit {
    ContainerExit {
        name: name.into(),
        exit_code,
        reason: reason.map(String::from),
    }
}

fn stopped(
    stop_code: Option<&str>,
    reason: Option<&str>,
    containers: Vec<ContainerExit>,
) -> Failure {
    Failure::TaskStopped {
        task: StoppedTask {
            task_arn: "arn:aws:ecs:eu-west-1:123456789012:task/default/abc".into(),
            stop_code: stop_code.map(String::from),
            stopped_reason: reason.map(String::from),
            containers,
        },
        deployed_earlier: false,
    }
}

fn pull(reason: &str) -> Failure {
    stopped(
        Some("TaskFailedToStart"),
        Some(reason),
        vec![container("app", None, Some(reason))],
    )
}

fn image_pull(problem: PullProblem, image: Option<&str>) -> Diagnosis {
    Diagnosis::ImagePull {
        problem,
        container: Some("app".into()),
        image: image.map(String::from),
    }
}

fn health(reason: Option<&str>, description: Option<&str>, grace: Option<u64>) -> Failure {
    Failure::HealthChecksFailed {
        load_balancer: "web-tg".into(),
        target: "arn:aws:ecs:eu-west-1:123456789012:task/default/abc".into(),
        state: "unhealthy".into(),
        reason: reason.map(Box::from),
        description: description.map(Box::from),
        unhealthy_for: grace.map(Duration::from_secs),
    }
}

fn checks(check: CheckProblem, codes: &[u16], grace: Option<u64>) -> Diagnosis {
    Diagnosis::HealthChecks {
        load_balancer: "web-tg".into(),
        target: "arn:aws:ecs:eu-west-1:123456789012:task/default/abc".into(),
        check,
        codes: codes.to_vec(),
        unhealthy_for: grace.map(Duration::from_secs),
    }
}

fn stall(message: &str) -> Failure {
    Failure::PlacementStalled {
        stalled_for: Duration::from_secs(300),
        message: message.into(),
    }
}

fn placed(shortfall: Shortfall, instance: Option<&str>, port: Option<u16>) -> Diagnosis {
    Diagnosis::Placement {
        shortfall,
        instance: instance.map(String::from),
        port,
    }
}

fn api(operation: &'static str, kind: ApiErrorKind, message: &str) -> ApiError {
    ApiError::new(operation, kind, message)
}

fn rolled_back(reason: Option<&str>) -> Failure {
    Failure::EcsRolledBack {
        deployment: "ecs-svc/123".into(),
        status: Some(ServiceDeploymentStatus::parse("ROLLBACK_IN_PROGRESS")),
        reason: reason.map(String::from),
        primary: None,
        primary_revision: None,
        alarms: Vec::new(),
    }
}

fn pulls_table() -> Vec<(&'static str, Failure, Diagnosis)> {
    use PullProblem::*;
    vec![
        (
            "a tag that does not exist",
            pull(PULL_NOT_FOUND),
            image_pull(NotFound, Some("docker.io/rafabor/prototype-4-cb:v9")),
        ),
        (
            "ECR refusing the execution role",
            pull(PULL_DENIED_ECR),
            image_pull(
                AccessDenied,
                Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v2"),
            ),
        ),
        (
            "no registry credentials",
            pull(PULL_NO_AUTH),
            image_pull(AccessDenied, None),
        ),
        (
            "a manifest unknown to ECR",
            pull(PULL_MANIFEST_UNKNOWN),
            image_pull(
                NotFound,
                Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v3"),
            ),
        ),
        (
            "a registry out of reach",
            pull(PULL_TIMEOUT),
            image_pull(Unreachable, None),
        ),
        (
            "a pull error in the stopped reason only",
            stopped(Some("TaskFailedToStart"), Some(PULL_NOT_FOUND), vec![]),
            Diagnosis::ImagePull {
                problem: NotFound,
                container: None,
                image: Some("docker.io/rafabor/prototype-4-cb:v9".into()),
            },
        ),
    ]
}

fn exits_table() -> Vec<(&'static str, Failure, Diagnosis)> {
    vec![
        (
            "a container killed for its memory",
            stopped(Some("EssentialContainerExited"), Some(ESSENTIAL), vec![container("app", Some(137), Some(OOM))]),
            Diagnosis::OutOfMemory { container: Some("app".into()) },
        ),
        (
            "Fargate's out of memory in the stopped reason",
            stopped(Some("EssentialContainerExited"), Some(OOM), vec![container("sidecar", Some(0), None), container("app", Some(137), None)]),
            Diagnosis::OutOfMemory { container: Some("app".into()) },
        ),
        (
            "exit 137 without OutOfMemoryError is a kill, not memory",
            stopped(Some("EssentialContainerExited"), Some(ESSENTIAL), vec![container("app", Some(137), None)]),
            Diagnosis::AppCrashed { container: Some("app".into()), exit_code: Some(137) },
        ),
        (
            "an essential container that exited 1",
            stopped(Some("EssentialContainerExited"), Some(ESSENTIAL), vec![container("log-router", Some(0), None), container("cb-prototype", Some(1), None)]),
            Diagnosis::AppCrashed { container: Some("cb-prototype".into()), exit_code: Some(1) },
        ),
        (
            "an essential container that exited 0 right after start",
            stopped(Some("EssentialContainerExited"), Some(ESSENTIAL), vec![container("app", Some(0), None)]),
            Diagnosis::AppCrashed { container: Some("app".into()), exit_code: Some(0) },
        ),
        (
            "the essential-container reason without a stop code or exit codes",
            stopped(None, Some(ESSENTIAL), vec![]),
            Diagnosis::AppCrashed { container: None, exit_code: None },
        ),
        (
            "a secret the execution role cannot read",
            stopped(Some("TaskFailedToStart"), Some(SECRETS), vec![]),
            Diagnosis::ResourceInitialization {
                action: Some("secretsmanager:GetSecretValue".into()),
                resource: Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf".into()),
            },
        ),
        (
            "an SSM parameter that does not exist",
            stopped(Some("TaskFailedToStart"), Some(SSM), vec![]),
            Diagnosis::ResourceInitialization { action: None, resource: Some("/app/db-password".into()) },
        ),
        (
            "a task ECS replaced for failing the target group's checks",
            stopped(Some("ServiceSchedulerInitiated"), Some("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067)"), vec![container("app", Some(143), None)]),
            Diagnosis::HealthChecks {
                load_balancer: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067".into(),
                target: "arn:aws:ecs:eu-west-1:123456789012:task/default/abc".into(),
                check: CheckProblem::Failing,
                codes: vec![],
                unhealthy_for: None,
            },
        ),
        (
            "a failing container health check",
            stopped(Some("TaskFailedToStart"), Some("Task failed container health checks"), vec![container("app", Some(137), None)]),
            Diagnosis::ContainerHealthCheck { container: Some("app".into()) },
        ),
        (
            "a container the runtime could not start",
            stopped(Some("TaskFailedToStart"), Some("CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create failed: exec: \"/app/start.sh\": permission denied"), vec![]),
            Diagnosis::ContainerStart { container: None },
        ),
        (
            "a task someone else stopped",
            stopped(Some("UserInitiated"), Some("Task stopped by user"), vec![container("app", Some(0), None)]),
            Diagnosis::StoppedFromOutside { stop_code: Some("UserInitiated".into()) },
        ),
        (
            "a stop nobody explained",
            stopped(Some("TaskFailedToStart"), Some("Timeout waiting for network interface provisioning to complete."), vec![]),
            Diagnosis::Unknown { failure: "task_stopped", ecs_says: Some("Timeout waiting for network interface provisioning to complete.".into()) },
        ),
    ]
}

#[test]
fn each_way_a_task_stops_has_its_diagnosis() {
    for (what, failure, want) in pulls_table().into_iter().chain(exits_table()) {
        assert_eq!(diagnose(&failure), want, "{what}");
    }
}

#[test]
fn a_service_diagnoses_the_last_of_its_stopped_tasks() {
    let Failure::TaskStopped { task, .. } = pull(PULL_NOT_FOUND) else {
        unreachable!()
    };
    let f = Failure::TasksStopped {
        count: 3,
        last: task,
    };
    assert_eq!(diagnose(&f).kind(), "image_pull");
}

#[test]
fn health_check_failures_are_told_apart_by_the_load_balancers_reason() {
    let classic = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.";
    let table = [
        (
            health(
                Some("Target.ResponseCodeMismatch"),
                Some("Health checks failed with these codes: [404]"),
                Some(60),
            ),
            checks(CheckProblem::WrongStatus, &[404], Some(60)),
        ),
        (
            health(
                Some("Target.ResponseCodeMismatch"),
                Some("Health checks failed with these codes: [500, 502]"),
                Some(0),
            ),
            checks(CheckProblem::WrongStatus, &[500, 502], Some(0)),
        ),
        (
            health(Some("Target.Timeout"), Some("Request timed out"), Some(30)),
            checks(CheckProblem::Timeout, &[], Some(30)),
        ),
        (
            health(
                Some("Target.FailedHealthChecks"),
                Some("Health checks failed"),
                Some(0),
            ),
            checks(CheckProblem::Failing, &[], Some(0)),
        ),
        (
            health(
                Some("Elb.InitialHealthChecking"),
                Some("Initial health checks in progress"),
                Some(90),
            ),
            checks(CheckProblem::StillStarting, &[], Some(90)),
        ),
        (
            health(Some("Instance"), Some(classic), None),
            checks(CheckProblem::Failing, &[], None),
        ),
        (
            health(None, None, None),
            checks(CheckProblem::Failing, &[], None),
        ),
    ];
    for (failure, want) in table {
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
}

#[test]
fn placement_names_the_resource_the_instance_and_the_port() {
    let start_task = |message: &str| Failure::StartTaskFailed {
        revision: "cb-prototype:2".into(),
        instance: "i-1".into(),
        error: api("StartTask", ApiErrorKind::Other, message),
    };
    let table = [
        (
            stall(PLACE_PORTS),
            placed(Shortfall::Ports, Some("0a1b2c3d4e5f"), None),
        ),
        (
            stall(PLACE_MEMORY),
            placed(Shortfall::Memory, Some("5d4c3b2a1f"), None),
        ),
        (stall(PLACE_CPU), placed(Shortfall::Cpu, Some("9f8e"), None)),
        (
            stall(PLACE_NONE),
            placed(Shortfall::NoInstances, None, None),
        ),
        (
            stall(FARGATE),
            placed(Shortfall::FargateCapacity, None, None),
        ),
        (
            stall(
                "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 77aa) encountered error \"AGENT\". For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.",
            ),
            placed(Shortfall::Agent, Some("77aa"), None),
        ),
        (
            start_task(
                "ECS started no task: arn:aws:ecs:eu-west-1:123456789012:container-instance/default/0a1b: RESOURCE:PORTS (8080)",
            ),
            placed(Shortfall::Ports, None, Some(8080)),
        ),
        (
            stall(
                "was unable to place a task: RESOURCE:PORTS: host port 80 is already in use on container instance arn:aws:ecs:eu-west-1:123456789012:container-instance/default/c0ffee",
            ),
            placed(Shortfall::Ports, Some("c0ffee"), Some(80)),
        ),
        (
            start_task("ECS started no task: arn:x: RESOURCE:MEMORY"),
            placed(Shortfall::Memory, None, None),
        ),
    ];
    for (failure, want) in table {
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
}

#[test]
fn ecs_rollbacks_say_whether_the_circuit_breaker_or_alarms_triggered_them() {
    let table = [
        (
            rolled_back(Some(
                "ECS deployment circuit breaker: tasks failed to start.",
            )),
            Trigger::CircuitBreaker,
        ),
        (
            rolled_back(Some(
                "Rolling back to deployment ecs-svc/111 because alarm(s) [web-5xx, web-latency] went into ALARM state",
            )),
            Trigger::Alarms {
                alarms: vec!["web-5xx".into(), "web-latency".into()],
            },
        ),
        (
            rolled_back(Some("CloudWatch alarm web-5xx is in ALARM")),
            Trigger::Alarms {
                alarms: vec!["web-5xx".into()],
            },
        ),
        (rolled_back(None), Trigger::Unknown),
        (
            // The alarms ECS (or ecs-roll) found in ALARM win over what the reason says.
            Failure::EcsRolledBack {
                deployment: "ecs-svc/123".into(),
                status: None,
                reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
                primary: None,
                primary_revision: None,
                alarms: vec!["web-5xx".into()],
            },
            Trigger::Alarms {
                alarms: vec!["web-5xx".into()],
            },
        ),
    ];
    for (failure, trigger) in table {
        let want = Diagnosis::EcsRolledBack {
            trigger,
            deployment: "ecs-svc/123".into(),
        };
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
    let failed = Failure::DeploymentFailed {
        deployment: "ecs-svc/123".into(),
        reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
        alarms: Vec::new(),
    };
    assert_eq!(
        diagnose(&failed),
        Diagnosis::EcsFailedDeployment {
            trigger: Trigger::CircuitBreaker,
            deployment: "ecs-svc/123".into()
        }
    );
}

#[test]
fn iam_denials_name_the_action_to_grant() {
    let denied = |op, message: &str| api(op, ApiErrorKind::AccessDenied, message);
    let table = [
        (
            Failure::Api {
                error: denied(
                    "DescribeTasks",
                    "User: arn:aws:iam::1:user/ci is not authorized to perform this operation",
                ),
            },
            "DescribeTasks",
            "ecs:DescribeTasks",
        ),
        (
            Failure::Api {
                error: denied("DescribeInstanceHealth", "AccessDenied"),
            },
            "DescribeInstanceHealth",
            "elasticloadbalancing:DescribeInstanceHealth",
        ),
        (
            Failure::StartTaskFailed {
                revision: "cb-prototype:2".into(),
                instance: "i-1".into(),
                error: denied(
                    "StartTask",
                    "User: arn:aws:iam::1:user/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/ecsTaskExecutionRole",
                ),
            },
            "StartTask",
            "iam:PassRole",
        ),
        (
            Failure::StartTaskFailed {
                revision: "cb-prototype:2".into(),
                instance: "i-1".into(),
                error: denied("StartTask", "AccessDeniedException"),
            },
            "StartTask",
            "ecs:StartTask",
        ),
    ];
    for (failure, operation, action) in table {
        let want = Diagnosis::AccessDenied {
            operation,
            action: action.into(),
        };
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
    let throttled = Failure::Api {
        error: api("DescribeServices", ApiErrorKind::Throttled, "Rate exceeded"),
    };
    assert_eq!(
        diagnose(&throttled),
        Diagnosis::Aws {
            operation: "DescribeServices",
            kind: ApiErrorKind::Throttled
        }
    );
}

#[test]
fn every_timeout_says_which_wait_ran_out() {
    let five_min = Duration::from_secs(300);
    let timed_out = |waiting_for| Failure::TimedOut {
        waiting_for,
        limit: five_min,
        last: None,
    };
    let table = [
        (
            Failure::TaskStartTimedOut { limit: five_min },
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::TaskStart,
                limit: five_min,
            },
        ),
        (
            timed_out(Wait::InService {
                instances: vec!["i-1".into()],
                load_balancer: "elb".into(),
            }),
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::InService,
                limit: five_min,
            },
        ),
        (
            timed_out(Wait::Deployment {
                deployment: "ecs-svc/1".into(),
            }),
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::Deployment,
                limit: five_min,
            },
        ),
        (
            timed_out(Wait::Draining { instances: vec![] }),
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::Draining,
                limit: five_min,
            },
        ),
        (
            timed_out(Wait::TasksStopped { count: 1 }),
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::TasksStop,
                limit: five_min,
            },
        ),
        (
            timed_out(Wait::OtherInService { leaving: vec![] }),
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::OtherInService,
                limit: five_min,
            },
        ),
        (
            Failure::DeadlinePassed,
            Diagnosis::TimedOut {
                waiting_for: TimedOutWaiting::Deadline,
                limit: Duration::ZERO,
            },
        ),
    ];
    for (failure, want) in table {
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
}

#[test]
fn the_runs_own_course_has_a_cause_each() {
    let table = [
        (
            Failure::Superseded {
                deployment: "ecs-svc/1".into(),
                by: Some("ecs-svc/2".into()),
                revision: None,
            },
            Diagnosis::Superseded {
                by: Some("ecs-svc/2".into()),
            },
        ),
        (
            Failure::VerificationFailed {
                problems: vec![Mismatch::NotInService {
                    instance: "i-1".into(),
                    state: HealthState::OutOfService,
                }],
            },
            Diagnosis::VerificationFailed { problems: 1 },
        ),
        (
            Failure::NoDeploymentStarted {
                revision: "web:2".into(),
            },
            Diagnosis::NoDeploymentStarted,
        ),
        (
            Failure::Interrupted {
                how: Interruption::StepFinished,
            },
            Diagnosis::Interrupted,
        ),
    ];
    for (failure, want) in table {
        assert_eq!(diagnose(&failure), want, "{failure:?}");
    }
}

#[test]
fn the_evidence_gathers_what_the_failure_has() {
    let e = evidence(&pull(PULL_NOT_FOUND));
    assert_eq!(e.stop_code.as_deref(), Some("TaskFailedToStart"));
    assert_eq!(e.stopped_reason.as_deref(), Some(PULL_NOT_FOUND));
    assert_eq!(
        e.task_arn.as_deref(),
        Some("arn:aws:ecs:eu-west-1:123456789012:task/default/abc")
    );
    assert_eq!(e.containers.len(), 1);
    let e = evidence(&health(
        Some("Target.Timeout"),
        Some("Request timed out"),
        Some(30),
    ));
    assert_eq!(e.load_balancer.as_deref(), Some("web-tg"));
    assert_eq!(e.load_balancer_reason.as_deref(), Some("Target.Timeout"));
    assert_eq!(
        e.load_balancer_description.as_deref(),
        Some("Request timed out")
    );
    assert_eq!(
        evidence(&stall(PLACE_PORTS)).ecs_message.as_deref(),
        Some(PLACE_PORTS)
    );
    assert_eq!(evidence(&Failure::DeadlinePassed), Evidence::default());
}

#[test]
fn the_diagnosis_serialises_with_its_cause_as_the_tag() {
    let v = serde_json::to_value(diagnose(&pull(PULL_NOT_FOUND))).unwrap();
    assert_eq!(v["cause"], "image_pull");
    assert_eq!(v["problem"], "not_found");
    assert_eq!(v["image"], "docker.io/rafabor/prototype-4-cb:v9");
    let v = serde_json::to_value(diagnose(&rolled_back(Some(
        "ECS deployment circuit breaker: tasks failed to start.",
    ))))
    .unwrap();
    assert_eq!(v["cause"], "ecs_rolled_back");
    assert_eq!(v["trigger"], "circuit_breaker");
}
