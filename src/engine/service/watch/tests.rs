use super::*;
use crate::platform::{DeploymentConfiguration, NetworkBinding, ServiceEvent};

const NEW: &str = "arn:td/web:2";
const OLD: &str = "arn:td/web:1";
const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/abc";

fn deployment(id: &str, status: &str, td: &str, running: i64, rollout: Option<&str>) -> Deployment {
    Deployment {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        desired_count: 2,
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
        desired_count: 2,
        running_count: 2,
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

fn task(n: u16, td: &str) -> Task {
    Task {
        container_instance_arn: Some(format!("ci-{n}")),
        network_bindings: vec![NetworkBinding {
            container_name: "app".into(),
            container_port: 80,
            host_port: 32768 + n,
        }],
        ..Task::new(&format!("arn:task/{n}"), td, "RUNNING", "RUNNING")
    }
}

fn instances() -> Vec<ContainerInstance> {
    (0..4)
        .map(|n| ContainerInstance {
            arn: format!("ci-{n}"),
            ec2_instance_id: format!("i-{n}"),
            availability_zone: None,
            status: "ACTIVE".into(),
            agent_connected: true,
            remaining_cpu: 0,
            remaining_memory: 0,
            used_ports: vec![],
        })
        .collect()
}

fn target(n: u16, state: &str) -> TargetHealth {
    TargetHealth {
        id: format!("i-{n}"),
        port: Some(32768 + n),
        state: state.into(),
        reason: None,
        description: None,
    }
}

fn tg(targets: Vec<TargetHealth>) -> Vec<LbHealth> {
    vec![LbHealth::TargetGroup {
        arn: TG.into(),
        target_type: "instance".into(),
        container_name: Some("app".into()),
        container_port: Some(80),
        targets,
    }]
}

const WATCHED: Watched = Watched {
    deployment_id: "ecs-svc/2",
    target: NEW,
    previous: Some(OLD),
};

fn judge_at(
    tracker: &mut Tracker,
    svc: &Service,
    tasks: &[Task],
    health: &[LbHealth],
    stopped: &[Task],
    at: Instant,
) -> Judgement {
    let inst = instances();
    let o = Observed {
        service: svc,
        deployment: None,
        tasks,
        instances: &inst,
        health,
        stopped,
    };
    tracker.judge(&o, &WATCHED, at)
}

fn tracker() -> Tracker {
    Tracker::new(Duration::from_secs(180), Duration::from_secs(120), 2)
}

#[test]
fn done_only_when_completed_healthy_and_old_targets_gone() {
    let now = Instant::now();
    let done = service(vec![deployment(
        "ecs-svc/2",
        "PRIMARY",
        NEW,
        2,
        Some("COMPLETED"),
    )]);
    let tasks = vec![task(0, NEW), task(1, NEW)];
    assert_eq!(
        judge_at(
            &mut tracker(),
            &done,
            &tasks,
            &tg(vec![target(0, "healthy"), target(1, "healthy")]),
            &[],
            now
        ),
        Judgement::Done
    );

    // An old target still draining: not done yet.
    let j = judge_at(
        &mut tracker(),
        &done,
        &tasks,
        &tg(vec![
            target(0, "healthy"),
            target(1, "healthy"),
            target(2, "draining"),
        ]),
        &[],
        now,
    );
    assert!(
        matches!(&j, Judgement::Pending(d) if d.old_targets == 1),
        "{j:?}"
    );

    // A new target still initial.
    let j = judge_at(
        &mut tracker(),
        &done,
        &tasks,
        &tg(vec![target(0, "healthy"), target(1, "initial")]),
        &[],
        now,
    );
    assert!(matches!(j, Judgement::Pending(_)));

    // rolloutState absent (moto): the only deployment, running = desired.
    let mut no_state = done.clone();
    no_state.deployments[0].rollout_state = None;
    assert_eq!(
        judge_at(
            &mut tracker(),
            &no_state,
            &tasks,
            &tg(vec![target(0, "healthy"), target(1, "healthy")]),
            &[],
            now
        ),
        Judgement::Done
    );
    let mut two = no_state.clone();
    two.deployments
        .push(deployment("ecs-svc/1", "ACTIVE", OLD, 0, None));
    assert!(matches!(
        judge_at(
            &mut tracker(),
            &two,
            &tasks,
            &tg(vec![target(0, "healthy"), target(1, "healthy")]),
            &[],
            now
        ),
        Judgement::Pending(_)
    ));
}

#[test]
fn a_circuit_breaker_rollback_is_a_failure_that_ecs_is_already_handling() {
    let now = Instant::now();
    let svc = service(vec![
        deployment("ecs-svc/3", "PRIMARY", OLD, 0, Some("IN_PROGRESS")),
        deployment("ecs-svc/2", "ACTIVE", NEW, 0, Some("FAILED")),
    ]);
    let j = judge_at(&mut tracker(), &svc, &[], &tg(vec![]), &[], now);
    assert_eq!(
        j,
        Judgement::Failed {
            cause: Failure::EcsRolledBack {
                deployment: "ecs-svc/2".into(),
                status: None,
                reason: None,
                primary: Some("ecs-svc/3".into()),
                primary_revision: Some("web:1".into()),
                alarms: Vec::new(),
            },
            ecs_rollback: Some("ecs-svc/3".into())
        }
    );
}

#[test]
fn a_failed_rollout_state_fails_even_if_the_service_looks_stable() {
    let mut d = deployment("ecs-svc/2", "PRIMARY", NEW, 2, Some("FAILED"));
    d.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let j = judge_at(
        &mut tracker(),
        &service(vec![d]),
        &[task(0, NEW), task(1, NEW)],
        &tg(vec![target(0, "healthy"), target(1, "healthy")]),
        &[],
        Instant::now(),
    );
    assert!(
        matches!(&j, Judgement::Failed { cause: Failure::DeploymentFailed { reason: Some(r), .. }, .. } if r.contains("circuit breaker")),
        "{j:?}"
    );
}

#[test]
fn someone_elses_deployment_is_named() {
    let svc = service(vec![
        deployment(
            "ecs-svc/9",
            "PRIMARY",
            "arn:td/web:7",
            0,
            Some("IN_PROGRESS"),
        ),
        deployment("ecs-svc/2", "ACTIVE", NEW, 1, Some("IN_PROGRESS")),
    ]);
    let j = judge_at(&mut tracker(), &svc, &[], &tg(vec![]), &[], Instant::now());
    assert!(
        matches!(&j, Judgement::Superseded(Failure::Superseded { by: Some(by), revision: Some(rev), .. }) if by == "ecs-svc/9" && rev == "web:7"),
        "{j:?}"
    );
}

#[test]
fn repeated_stops_of_new_tasks_fail_with_their_reason() {
    let svc = service(vec![
        deployment("ecs-svc/2", "PRIMARY", NEW, 0, Some("IN_PROGRESS")),
        deployment("ecs-svc/1", "ACTIVE", OLD, 2, Some("COMPLETED")),
    ]);
    let mut crashed = Task {
        stopped_reason: Some("Essential container in task exited".into()),
        ..Task::new("arn:task/9", NEW, "STOPPED", "STOPPED")
    };
    crashed.containers.push(crate::platform::ContainerState {
        name: "app".into(),
        last_status: None,
        exit_code: Some(137),
        reason: None,
    });
    let mut t = tracker();
    assert!(matches!(
        judge_at(
            &mut t,
            &svc,
            &[],
            &tg(vec![]),
            std::slice::from_ref(&crashed),
            Instant::now()
        ),
        Judgement::Pending(_)
    ));
    let j = judge_at(
        &mut t,
        &svc,
        &[],
        &tg(vec![]),
        &[crashed.clone(), crashed],
        Instant::now(),
    );
    assert!(
        matches!(&j, Judgement::Failed { cause: Failure::TasksStopped { count: 2, last }, .. } if last.containers[0].exit_code == Some(137)),
        "{j:?}"
    );
}

#[test]
fn unhealthy_targets_fail_only_after_the_grace_period() {
    let t0 = Instant::now();
    let svc = service(vec![
        deployment("ecs-svc/2", "PRIMARY", NEW, 2, Some("IN_PROGRESS")),
        deployment("ecs-svc/1", "ACTIVE", OLD, 2, None),
    ]);
    let tasks = vec![task(0, NEW), task(1, NEW)];
    let unhealthy = tg(vec![target(0, "unhealthy"), target(1, "healthy")]);
    let mut t = tracker();
    assert!(matches!(
        judge_at(&mut t, &svc, &tasks, &unhealthy, &[], t0),
        Judgement::Pending(_)
    ));
    assert!(matches!(
        judge_at(
            &mut t,
            &svc,
            &tasks,
            &unhealthy,
            &[],
            t0 + Duration::from_secs(119)
        ),
        Judgement::Pending(_)
    ));
    let j = judge_at(
        &mut t,
        &svc,
        &tasks,
        &unhealthy,
        &[],
        t0 + Duration::from_secs(120),
    );
    assert!(
        matches!(&j, Judgement::Failed { cause: Failure::HealthChecksFailed { state, unhealthy_for: Some(d), .. }, .. } if state == "unhealthy" && d.as_secs() == 120),
        "{j:?}"
    );
    // A target that recovers resets the clock.
    let mut t = tracker();
    judge_at(&mut t, &svc, &tasks, &unhealthy, &[], t0);
    judge_at(
        &mut t,
        &svc,
        &tasks,
        &tg(vec![target(0, "healthy"), target(1, "healthy")]),
        &[],
        t0 + Duration::from_secs(60),
    );
    assert!(matches!(
        judge_at(
            &mut t,
            &svc,
            &tasks,
            &unhealthy,
            &[],
            t0 + Duration::from_secs(150)
        ),
        Judgement::Pending(_)
    ));
}

#[test]
fn placement_events_fail_only_without_progress_past_the_grace() {
    let t0 = Instant::now();
    let mut svc = service(vec![
        deployment("ecs-svc/2", "PRIMARY", NEW, 0, Some("IN_PROGRESS")),
        deployment("ecs-svc/1", "ACTIVE", OLD, 2, None),
    ]);
    svc.events.push(ServiceEvent { id: "e1".into(), created_at: None, message: "(service web) was unable to place a task because no container instance met all of its requirements.".into() });
    let mut t = tracker();
    assert!(matches!(
        judge_at(&mut t, &svc, &[], &tg(vec![]), &[], t0),
        Judgement::Pending(_)
    ));
    assert!(matches!(
        judge_at(
            &mut t,
            &svc,
            &[],
            &tg(vec![]),
            &[],
            t0 + Duration::from_secs(179)
        ),
        Judgement::Pending(_)
    ));
    // Progress resets the clock: a transient event during a normal rolling deploy is fine.
    svc.deployments[0].running_count = 1;
    assert!(matches!(
        judge_at(
            &mut t,
            &svc,
            &[task(0, NEW)],
            &tg(vec![target(0, "healthy")]),
            &[],
            t0 + Duration::from_secs(200)
        ),
        Judgement::Pending(_)
    ));
    let j = judge_at(
        &mut t,
        &svc,
        &[task(0, NEW)],
        &tg(vec![target(0, "healthy")]),
        &[],
        t0 + Duration::from_secs(380),
    );
    assert!(
        matches!(&j, Judgement::Failed { cause: Failure::PlacementStalled { message, .. }, .. } if message.contains("unable to place a task")),
        "{j:?}"
    );
}

#[test]
fn ip_targets_match_the_task_address() {
    let svc = service(vec![deployment(
        "ecs-svc/2",
        "PRIMARY",
        NEW,
        1,
        Some("COMPLETED"),
    )]);
    let mut svc = svc;
    svc.desired_count = 1;
    let t = Task {
        private_ipv4: Some("10.0.1.5".into()),
        launch_type: Some("FARGATE".into()),
        ..Task::new("arn:task/f", NEW, "RUNNING", "RUNNING")
    };
    let health = vec![LbHealth::TargetGroup {
        arn: TG.into(),
        target_type: "ip".into(),
        container_name: Some("app".into()),
        container_port: Some(80),
        targets: vec![TargetHealth {
            id: "10.0.1.5".into(),
            port: Some(80),
            state: "healthy".into(),
            reason: None,
            description: None,
        }],
    }];
    assert_eq!(
        judge_at(&mut tracker(), &svc, &[t], &health, &[], Instant::now()),
        Judgement::Done
    );
}

#[test]
fn a_task_running_without_being_healthy_fails_at_the_health_timeout_of_being_seen_running() {
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    let svc = service(vec![
        deployment("ecs-svc/2", "PRIMARY", NEW, 2, Some("IN_PROGRESS")),
        deployment("ecs-svc/1", "ACTIVE", OLD, 2, None),
    ]);
    let first = vec![task(0, NEW)];
    let both = vec![task(0, NEW), task(1, NEW)];
    let initial = tg(vec![target(0, "healthy"), target(1, "initial")]);
    let mut t = tracker().with_health_timeout(Some(secs(30)));
    // (instant, tasks seen running, health, verdict)
    let pending = |j: &Judgement| matches!(j, Judgement::Pending(_));
    assert!(pending(&judge_at(
        &mut t,
        &svc,
        &first,
        &tg(vec![target(0, "initial")]),
        &[],
        t0
    )));
    // Task 1 is seen RUNNING at 20 s; task 0 healthy at 25 s, within its 30 s.
    assert!(pending(&judge_at(
        &mut t,
        &svc,
        &both,
        &initial,
        &[],
        t0 + secs(20)
    )));
    assert_eq!(t.health_due(), Some(t0 + secs(50)));
    assert!(pending(&judge_at(
        &mut t,
        &svc,
        &both,
        &initial,
        &[],
        t0 + secs(49)
    )));
    let j = judge_at(&mut t, &svc, &both, &initial, &[], t0 + secs(50));
    assert!(
        matches!(&j, Judgement::Failed {
            cause: Failure::TimedOut { waiting_for: Wait::TaskHealthy { task, .. }, limit, .. },
            ecs_rollback: None,
        } if task == "arn:task/1" && *limit == secs(30)),
        "{j:?}"
    );
    // Without a limit, nothing of the kind.
    let mut t = tracker();
    judge_at(&mut t, &svc, &both, &initial, &[], t0);
    assert!(pending(&judge_at(
        &mut t,
        &svc,
        &both,
        &initial,
        &[],
        t0 + secs(100)
    )));
    assert_eq!(t.health_due(), None);
}

#[test]
fn rollback_requested_before_ecss_rollback_deployment_shows_is_not_yet_a_verdict() {
    let now = Instant::now();
    let sd = |status: &str| ServiceDeployment {
        arn: "arn:sd/2".into(),
        status: status.into(),
        status_reason: Some("stopped".into()),
        lifecycle_stage: None,
        target_task_definition: Some(NEW.into()),
        source_task_definitions: vec![OLD.into()],
        rollback: false,
        triggered_alarms: Vec::new(),
    };
    let inst = instances();
    let health = tg(vec![]);
    let judge = |svc: &Service, sd: &ServiceDeployment| {
        let o = Observed {
            service: svc,
            deployment: Some(sd),
            tasks: &[],
            instances: &inst,
            health: &health,
            stopped: &[],
        };
        tracker().judge(&o, &WATCHED, now)
    };
    // Ours still PRIMARY: following "the rollback" would follow ours.
    let ours = service(vec![deployment(
        "ecs-svc/2",
        "PRIMARY",
        NEW,
        1,
        Some("IN_PROGRESS"),
    )]);
    let j = judge(&ours, &sd("ROLLBACK_REQUESTED"));
    assert!(!matches!(j, Judgement::Failed { .. }), "{j:?}");
    // ECS's rollback deployment is PRIMARY: that one is followed.
    let rolling = service(vec![
        deployment("ecs-svc/3", "PRIMARY", OLD, 0, Some("IN_PROGRESS")),
        deployment("ecs-svc/2", "ACTIVE", NEW, 1, Some("FAILED")),
    ]);
    let j = judge(&rolling, &sd("ROLLBACK_IN_PROGRESS"));
    assert!(
        matches!(&j, Judgement::Failed { ecs_rollback: Some(id), .. } if id == "ecs-svc/3"),
        "{j:?}"
    );
}
