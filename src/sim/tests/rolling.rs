//! Rolling deployments by the ECS scheduler: maximumPercent / minimumHealthyPercent, static
//! and dynamic host ports, Fargate, and someone else's deployment arriving mid-way.

use super::*;
use crate::sim::{CapacityReport, Fault, Sampler};

/// The lowest number of tasks healthy in the load balancers over the run.
fn min_in_service(report: &CapacityReport) -> usize {
    report.samples.iter().map(|s| s.in_service).min().unwrap()
}

fn in_service_timeline(report: &CapacityReport) -> Vec<(u64, usize)> {
    let mut out: Vec<(u64, usize)> = Vec::new();
    for s in &report.samples {
        if out.last().is_none_or(|(_, n)| *n != s.in_service) {
            out.push((s.at.as_secs(), s.in_service));
        }
    }
    out
}

fn sample(sim: &Sim) -> Sampler {
    sim.spawn_service_sampler(CLUSTER, WEB, secs(1))
}

/// The origin's app (static host port 5555) as a service behind the classic load balancer.
fn static_ports_behind_classic_elb(instances: usize, config: DeploymentConfiguration) -> Sim {
    Sim::builder()
        .instances(instances)
        .elb(ELB, quick_check())
        .draining(secs(60))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                task_definition: app("app:v1"),
                elb: Some(ELB.into()),
                deployment_configuration: config,
                ..ServiceSpec::default()
            },
        )
        .build()
}

fn unable_events(sim: &Sim) -> Vec<String> {
    web_service(sim)
        .events
        .into_iter()
        .rev()
        .filter(|e| e.message.contains("was unable to place a task"))
        .map(|e| e.created_at.unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn dynamic_ports_200_100_start_all_new_tasks_then_drain_the_old_ones() {
    let sim = alb_service(deployment_configuration(200, 100));
    let sampler = sample(&sim);
    let (v2, id) = deploy(&sim, web("app:v2")).await;

    let right_after = web_service(&sim);
    assert_eq!(right_after.deployments.len(), 2);
    assert_eq!(right_after.deployments[1].status, "ACTIVE");
    assert_eq!(
        right_after.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    assert_eq!(
        right_after.deployments[0].pending_count, 3,
        "all three at once"
    );

    let done = until_rollout_ends(&sim, secs(300)).await;
    // 10 s to start, two 5 s checks, 30 s deregistration delay, 5 s to stop.
    assert_eq!(sim.elapsed(), secs(55));
    let [d] = done.deployments.as_slice() else {
        panic!("{:?}", done.deployments)
    };
    assert_eq!(
        (d.id.as_str(), d.rollout_state.as_ref().map(|r| r.as_str())),
        (id.as_str(), Some("COMPLETED"))
    );
    assert_eq!(d.updated_at.as_deref(), Some("2026-01-01T00:00:55Z"));
    assert_eq!(done.task_definition, v2);

    let report = sampler.stop();
    assert_eq!(min_in_service(&report), 3);
    assert_eq!(report.min_serving(), Some(3));
    assert!(sim.interruptions().is_empty());

    // New tasks went one per instance, on the next free dynamic port (the old task held 32768).
    let tasks = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    assert!(tasks.iter().all(|t| t.task_definition_arn == v2));
    assert!(
        tasks
            .iter()
            .all(|t| t.network_bindings[0].host_port == 32769)
    );
    let stopped = sim
        .services()
        .service_tasks(CLUSTER, WEB, "STOPPED".into())
        .await
        .unwrap();
    assert_eq!(stopped.len(), 3);
    let reason = format!("Scaling activity initiated by (deployment {id})");
    assert!(
        stopped
            .iter()
            .all(|t| t.stopped_reason.as_deref() == Some(reason.as_str())
                && t.containers[0].exit_code == Some(0))
    );
    let log: Vec<String> = events(&sim)
        .iter()
        .map(|e| e.split(" (task").next().unwrap().to_string())
        .collect();
    let tg = sim.target_group_arn(WEB).unwrap();
    assert_eq!(
        log,
        [
            "has reached a steady state.".to_string(),
            "has started 3 tasks:".into(),
            format!("registered 3 targets in (target-group {tg})"),
            "has stopped 3 running tasks:".into(),
            "has begun draining connections on 3 tasks.".into(),
            format!("deregistered 3 targets in (target-group {tg})"),
            format!("(deployment {id}) deployment completed."),
            "has reached a steady state.".into(),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn static_ports_100_50_replace_one_instance_at_a_time_and_keep_two_serving() {
    let sim = static_ports_behind_classic_elb(3, deployment_configuration(100, 50));
    let sampler = sample(&sim);
    deploy(&sim, app("app:v2")).await;
    until_rollout_ends(&sim, secs(600)).await;

    // Per instance: 60 s connection draining, 5 s stop, 10 s start, two 5 s checks.
    assert_eq!(sim.elapsed(), secs(3 * 85));
    advance(secs(1)).await;
    let report = sampler.stop();
    // Each new task turns healthy at the instant the next old one is taken out.
    assert_eq!(in_service_timeline(&report), [(0, 3), (1, 2), (255, 3)]);
    assert_eq!(report.min_serving(), Some(2));
    assert!(sim.interruptions().is_empty());
    // The new task cannot go beside the old one still holding port 5555; ECS says so about
    // once a minute.
    assert_eq!(
        unable_events(&sim),
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:02:00Z",
            "2026-01-01T00:03:00Z"
        ]
    );
    let message = &web_service(&sim)
        .events
        .into_iter()
        .find(|e| e.message.contains("unable"))
        .unwrap()
        .message;
    assert!(
        message.starts_with("(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance "),
        "{message}"
    );
    assert!(
        message.contains(") is already using a port required by your task."),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn static_ports_200_100_without_a_spare_instance_stall_with_placement_events() {
    let sim = static_ports_behind_classic_elb(3, deployment_configuration(200, 100));
    let sampler = sample(&sim);
    deploy(&sim, app("app:v2")).await;
    advance(secs(330)).await;

    let service = web_service(&sim);
    assert_eq!(
        service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    assert_eq!(
        (
            service.deployments[0].running_count,
            service.deployments[0].pending_count
        ),
        (0, 0)
    );
    assert_eq!(
        service.deployments[1].running_count, 3,
        "nothing was stopped"
    );
    assert_eq!(unable_events(&sim).len(), 6, "at 0, 60, ... 300 s");
    assert_eq!(sampler.stop().min_serving(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn static_ports_200_100_with_a_spare_instance_roll_through_it() {
    let sim = static_ports_behind_classic_elb(4, deployment_configuration(200, 100));
    let sampler = sample(&sim);
    deploy(&sim, app("app:v2")).await;
    until_rollout_ends(&sim, secs(600)).await;

    let report = sampler.stop();
    assert_eq!(min_in_service(&report), 3);
    assert_eq!(report.min_serving(), Some(3));
    assert!(sim.interruptions().is_empty());
    assert_eq!(
        web_service(&sim).deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("COMPLETED")
    );
    // First onto the spare instance; each old task stopped frees a port for the next.
    assert_eq!(sim.elapsed(), secs(20 + 85 + 85 + 65));
}

#[tokio::test(start_paused = true)]
async fn fargate_tasks_get_their_own_address_and_register_by_ip() {
    let sim = Sim::builder()
        .target_group(WEB, quick_target_group(TargetType::Ip))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                launch_type: crate::sim::LaunchType::Fargate,
                task_definition: web_fargate("app:v1"),
                target_group: Some(WEB.into()),
                ..ServiceSpec::default()
            },
        )
        .build();
    let tasks = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    for t in &tasks {
        assert_eq!(t.launch_type.as_deref(), Some("FARGATE"));
        assert_eq!(t.container_instance_arn, None);
        assert!(t.network_bindings.is_empty());
        assert!(t.private_ipv4.as_deref().unwrap().starts_with("10.0."));
    }
    let arn = sim.target_group_arn(WEB).unwrap();
    let targets = sim.target_groups().target_health(&arn).await.unwrap();
    let mut ips: Vec<_> = tasks.iter().map(|t| t.private_ipv4.clone()).collect();
    let mut ids: Vec<_> = targets.iter().map(|h| Some(h.id.clone())).collect();
    ips.sort();
    ids.sort();
    assert_eq!(ips, ids);
    assert!(targets.iter().all(|h| h.port == Some(APP_PORT)));

    let sampler = sample(&sim);
    deploy(&sim, web_fargate("app:v2")).await;
    until_rollout_ends(&sim, secs(300)).await;
    // 30 s for Fargate to start, two 5 s checks, 30 s delay, 5 s stop.
    assert_eq!(sim.elapsed(), secs(75));
    assert_eq!(sampler.stop().min_serving(), Some(3));
    let targets = sim.target_groups().target_health(&arn).await.unwrap();
    assert_eq!(targets.len(), 3);
    assert!(targets.iter().all(|h| !ips.contains(&Some(h.id.clone()))));
}

#[tokio::test(start_paused = true)]
async fn fargate_placement_fails_only_when_a_fault_says_so() {
    let sim = Sim::builder()
        .target_group(WEB, quick_target_group(TargetType::Ip))
        .service(
            WEB,
            ServiceSpec {
                launch_type: crate::sim::LaunchType::Fargate,
                task_definition: web_fargate("app:v1"),
                target_group: Some(WEB.into()),
                ..ServiceSpec::default()
            },
        )
        .build();
    // Blanket API throttling is no reason for Fargate to lack capacity.
    sim.inject(Fault::throttled().after(secs(1)));
    sim.inject(Fault::unavailable().on("RunTask").next_calls(2));
    deploy(&sim, web_fargate("app:v2")).await;
    let service = until_rollout_ends(&sim, secs(300)).await;
    assert_eq!(
        service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("COMPLETED")
    );
    let capacity: Vec<_> = events(&sim)
        .into_iter()
        .filter(|e| e.contains("Capacity is unavailable"))
        .collect();
    assert_eq!(capacity.len(), 1, "once a minute at most");
    // Refused at 0 s and at the next instant the scheduler acted (the old target's health
    // check at 5 s), started at 10 s.
    assert_eq!(sim.elapsed(), secs(10 + 75));
}

#[tokio::test(start_paused = true)]
async fn someone_elses_deployment_mid_way_supersedes_ours() {
    let sim = alb_service(deployment_configuration(200, 100));
    let sampler = sample(&sim);
    let (v2, ours) = deploy(&sim, web("app:v2")).await;
    advance(secs(15)).await;
    let v3 = register(&sim, web("app:v3")).await;
    sim.clear_calls();
    let theirs = sim
        .update_service_as_someone_else(CLUSTER, WEB, &v3)
        .unwrap()
        .deployments[0]
        .id
        .clone();
    assert!(sim.calls().is_empty(), "not one of our calls");

    let service = web_service(&sim);
    let statuses: Vec<_> = service
        .deployments
        .iter()
        .map(|d| (d.id.as_str(), d.status.as_str()))
        .collect();
    assert_eq!(
        statuses[..2],
        [(theirs.as_str(), "PRIMARY"), (ours.as_str(), "ACTIVE")]
    );
    assert_eq!(statuses.len(), 3);

    let done = until_rollout_ends(&sim, secs(300)).await;
    assert_eq!(done.deployments.len(), 1);
    assert_eq!(done.task_definition, v3);
    let stopped = sim
        .services()
        .service_tasks(CLUSTER, WEB, "STOPPED".into())
        .await
        .unwrap();
    assert_eq!(
        stopped
            .iter()
            .filter(|t| t.task_definition_arn == v2)
            .count(),
        3,
        "our tasks, not yet healthy, went first"
    );
    assert_eq!(sampler.stop().min_serving(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn how_often_the_world_is_observed_makes_no_difference() {
    async fn run(poll: bool) -> Vec<(String, Option<String>)> {
        let sim = Sim::builder()
            .target_group(WEB, quick_target_group(TargetType::Ip))
            .service(
                WEB,
                ServiceSpec {
                    desired: 3,
                    launch_type: crate::sim::LaunchType::Fargate,
                    task_definition: web_fargate("app:v1"),
                    target_group: Some(WEB.into()),
                    deployment_configuration: deployment_configuration(100, 50),
                    ..ServiceSpec::default()
                },
            )
            .build();
        deploy(&sim, web_fargate("app:v2")).await;
        // Placement attempts use these up: extra attempts would change the story.
        sim.inject(Fault::unavailable().on("RunTask").next_calls(4));
        // Failed calls change nothing either.
        sim.inject(Fault::throttled().with_probability(0.5));
        for _ in 0..300 {
            if poll {
                let _ = sim.services().describe_service(CLUSTER, WEB).await;
                let _ = sim
                    .services()
                    .service_tasks(CLUSTER, WEB, "RUNNING".into())
                    .await;
            }
            advance(secs(1)).await;
        }
        web_service(&sim)
            .events
            .into_iter()
            .map(|e| (format!("{} {}", e.id, e.message), e.created_at))
            .collect()
    }
    let (watched, unwatched) = (run(true).await, run(false).await);
    assert!(watched.len() > 10, "{watched:#?}");
    assert_eq!(watched, unwatched);
}
