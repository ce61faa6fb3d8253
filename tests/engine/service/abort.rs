//! `ecs-roll abort`: ECS rolls the in-flight deployment back (StopServiceDeployment) and the
//! run follows that rollback until the revision that ran before serves again (rolled back,
//! exit 3). Refused, with nothing asked of ECS, when nothing is in flight or the endpoint has
//! no service deployments; run again while ECS rolls back, it follows the same rollback.

use ecs_roll::engine::Action;
use ecs_roll::engine::refusal::AbortBlocked;
use ecs_roll::engine::service::abort::abort;
use ecs_roll::engine::service::native::TrafficFlags;
use ecs_roll::platform::Strategy;

use super::*;

const STOP: &str = "StopServiceDeployment";

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

/// A LINEAR service whose production traffic moves in 25% steps baked a minute each.
fn linear_service() -> Sim {
    alb_native(deployment_configuration(200, 100), Some(advanced()))
}

impl Run {
    async fn abort(&self) -> Result<Outcome, Error> {
        abort(&self.sctx(), None, None).await
    }

    fn stops_asked(&self) -> usize {
        self.recorder
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Action(Action::ServiceDeploymentStopped { .. })))
            .count()
    }
}

/// The service's PRIMARY deployment id.
fn primary(sim: &Sim) -> String {
    let svc = sim.service(CLUSTER, WEB).expect("the service");
    svc.deployments[0].id.clone()
}

/// Waits (in virtual time) until the PRIMARY deployment has entered `stage`.
async fn until_stage(sim: &Sim, stage: &str) {
    for _ in 0..3600 {
        let entered = sim.deployment_stages(CLUSTER, WEB, &primary(sim));
        if entered.iter().any(|(s, _)| s == stage) {
            return;
        }
        tokio::time::sleep(secs(1)).await;
    }
    panic!("the deployment never entered {stage}");
}

/// Another pipeline deploys app:v2 (not an ecs-roll run).
async fn someone_deploys_v2(run: &Run) {
    let v2 = run
        .sim
        .ecs()
        .register_task_definition(&dynamic_app("app:v2"), &Default::default())
        .await
        .unwrap();
    run.sim
        .update_service_as_someone_else(CLUSTER, WEB, &v2.arn)
        .unwrap();
}

fn refusal_of(err: &Error) -> &AbortBlocked {
    match err.refusal() {
        Some(Refusal::CannotAbort { why, .. }) => why,
        _ => panic!("not an abort refusal: {err}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_abort_mid_shift_has_ecs_roll_the_linear_deploy_back_and_the_deploy_reports_it() {
    let run = Run::new(linear_service());
    let aborter = run.again();
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let sim = run.sim.clone();
    let aborted = tokio::spawn(async move {
        until_stage(&sim, "PRODUCTION_TRAFFIC_SHIFT").await;
        tokio::time::sleep(secs(30)).await;
        let out = aborter.abort().await;
        (out, aborter.stops_asked(), sim.elapsed())
    });
    let traffic = TrafficFlags {
        linear_step: Some(250),
        step_bake: Some(mins(1)),
        ..TrafficFlags::default()
    };
    let opts = Options {
        strategy: Some(Strategy::Linear),
        traffic,
        ..deploy_opts()
    };
    let deployed = run.deploy_with("app:v2", opts).await.unwrap();
    let (aborted, stops, ended_at) = aborted.await.unwrap();
    let aborted = aborted.unwrap();
    assert!(
        ended_at < mins(4),
        "aborted well before the 3 baked steps were over: {ended_at:?}"
    );

    assert_eq!(
        aborted.result,
        RunResult::RolledBack,
        "{:?}",
        aborted.failure
    );
    assert_eq!(aborted.exit_code(), 3);
    assert_eq!(stops, 1, "ECS is asked once");
    assert_eq!(run.sim.call_count(STOP), 1);
    assert_eq!(
        aborted.previous.as_ref().map(|p| p.name.as_str()),
        Some("web:1")
    );
    assert_eq!(
        aborted.target.as_ref().map(|p| p.name.as_str()),
        Some("web:2")
    );
    assert!(aborted.service_deployment_arn.is_some());
    let text = render::summary::text(&aborted);
    assert!(
        text.contains(
            "abort: ECS rolled web:2 (app:v2) back; web:1 serves every task of service web"
        ),
        "{text}"
    );
    // The deploy that was following it sees ECS's rollback with ECS's reason, follows it and
    // puts the service's own configuration back.
    assert_eq!(
        deployed.result,
        RunResult::RolledBack,
        "{:?}",
        deployed.failure
    );
    let Some(Failure::EcsRolledBack { reason, .. }) = deployed.failure.as_ref().map(|f| &f.cause)
    else {
        panic!("{:?}", deployed.failure);
    };
    assert_eq!(reason.as_deref(), Some(ecs_roll::sim::STOP_REQUEST_REASON));
    assert_eq!(run.running().await, ["web:1"; 3]);
    let svc = run.sim.service(CLUSTER, WEB).unwrap();
    assert_eq!(
        svc.deployment_configuration.strategy,
        Some(Strategy::Rolling)
    );
    assert!(
        min_serving(&sampler.stop()) >= 3,
        "production never lacks a healthy target"
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_of_someone_elses_deployment_rolls_it_back_and_exits_rolled_back() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    someone_deploys_v2(&run).await;
    tokio::time::sleep(secs(5)).await;
    let out = run.abort().await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert_eq!(out.tasks.len(), 3, "where each task stands");
    assert!(
        out.tasks.iter().all(|t| t.revision == "web:1"),
        "{:?}",
        out.tasks
    );
    assert!(min_serving(&sampler.stop()) >= 3);
}

#[tokio::test(start_paused = true)]
async fn an_abort_run_again_while_ecs_rolls_back_follows_that_rollback_without_asking_again() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    someone_deploys_v2(&run).await;
    tokio::time::sleep(secs(5)).await;
    // An earlier abort asked ECS, then was killed.
    let sd = run
        .sim
        .services()
        .service_deployment(CLUSTER, WEB, &primary(&run.sim))
        .await
        .unwrap()
        .unwrap();
    run.sim
        .services()
        .stop_service_deployment(CLUSTER, WEB, &sd.arn)
        .await
        .unwrap();
    tokio::time::sleep(secs(2)).await;
    run.sim.clear_calls();
    let out = run.abort().await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(run.sim.call_count(STOP), 0, "the rollback is under way");
    assert_eq!(run.stops_asked(), 0);
    assert_eq!(
        out.previous.as_ref().map(|p| p.name.as_str()),
        Some("web:1")
    );
    assert_eq!(out.target.as_ref().map(|p| p.name.as_str()), Some("web:2"));
    assert_eq!(run.running().await, ["web:1"; 3]);
}

#[tokio::test(start_paused = true)]
async fn an_abort_with_nothing_in_flight_is_refused_and_asks_ecs_nothing() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let err = run.abort().await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let AbortBlocked::Ended { status, .. } = refusal_of(&err) else {
        panic!("{err}");
    };
    assert_eq!(status.as_str(), "SUCCESSFUL");
    let text = render::refusal::message(err.refusal().unwrap());
    assert!(text.contains("is SUCCESSFUL already"), "{text}");
    assert_eq!(run.sim.call_count(STOP), 0);
}

#[tokio::test(start_paused = true)]
async fn an_abort_where_the_endpoint_has_no_service_deployments_is_refused_naming_that() {
    let sim = Sim::builder()
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .service(WEB, web_behind_alb(deployment_configuration(200, 100)))
        .supports_service_deployments(false)
        .build();
    let run = Run::new(sim);
    let err = run.abort().await.unwrap_err();
    assert_eq!(refusal_of(&err), &AbortBlocked::NoDeployment);

    someone_deploys_v2(&run).await;
    let err = run.abort().await.unwrap_err();
    let AbortBlocked::Unsupported { deployment } = refusal_of(&err) else {
        panic!("{err}");
    };
    assert_eq!(deployment, &primary(&run.sim));
    let text = render::refusal::message(err.refusal().unwrap());
    assert!(text.contains("no service deployments"), "{text}");
    assert_eq!(run.sim.call_count(STOP), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stop_whose_answer_is_lost_is_read_back_and_the_rollback_followed() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    someone_deploys_v2(&run).await;
    tokio::time::sleep(secs(5)).await;
    run.sim
        .inject(Fault::lost_response().on(STOP).next_calls(1));
    let out = run.abort().await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    assert_eq!(run.sim.call_count(STOP), 1, "never asked twice");
    assert_eq!(run.running().await, ["web:1"; 3]);
}

#[tokio::test(start_paused = true)]
async fn a_stop_ecs_refuses_ends_as_nothing_changed_and_the_deployment_goes_on() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    someone_deploys_v2(&run).await;
    run.sim.inject(
        Fault::of(ecs_roll::platform::ApiErrorKind::AccessDenied)
            .on(STOP)
            .next_calls(1),
    );
    let err = run.abort().await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("StopServiceDeployment"), "{err}");
    tokio::time::sleep(mins(5)).await;
    assert_eq!(
        run.running().await,
        ["web:2"; 3],
        "ECS was never told to stop"
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_before_the_stop_asks_ecs_nothing() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    someone_deploys_v2(&run).await;
    run.cancel.request();
    let out = run.abort().await.unwrap();
    assert_eq!(out.result, RunResult::Interrupted);
    assert_eq!(run.sim.call_count(STOP), 0);
}

#[tokio::test(start_paused = true)]
async fn an_abort_interrupted_while_ecs_rolls_back_says_how_to_follow_it_and_ecs_finishes() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    someone_deploys_v2(&run).await;
    tokio::time::sleep(secs(5)).await;
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(2)).await;
        cancel.request();
    });
    let out = run.abort().await.unwrap();
    assert_eq!(out.result, RunResult::Interrupted, "{:?}", out.failure);
    assert_eq!(out.exit_code(), 130);
    assert_eq!(run.sim.call_count(STOP), 1);
    let next = render::next::next_step(&out).unwrap_or_default();
    assert!(
        next.contains("`ecs-roll status --watch --until-stable` follows it to its end"),
        "{next}"
    );
    tokio::time::sleep(mins(5)).await;
    assert_eq!(
        run.running().await,
        ["web:1"; 3],
        "ECS rolled back by itself"
    );
}
