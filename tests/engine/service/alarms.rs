//! `--alarm` in service mode: checked before any change, set as the deployment's alarms for
//! the deploy and the service's own put back afterwards; one that goes into ALARM mid-deploy
//! makes ECS roll back, which is followed to its end and reported naming the alarm.

use ecs_roll::platform::AlarmState;

use super::*;

const ALARM: &str = "web-5xx";

impl Run {
    async fn deploy_gated(&self, image: &str, alarms: &[&str]) -> Result<Outcome, Error> {
        let opts = Options {
            alarms: alarms.iter().map(|a| a.to_string()).collect(),
            ..deploy_opts()
        };
        self.deploy_with(image, opts).await
    }

    async fn service_alarms(&self) -> Option<(Vec<String>, bool, bool)> {
        let svc = self.sim.services().describe_service(CLUSTER, WEB).await;
        svc.unwrap().unwrap().deployment_configuration.alarms
    }

    /// When the run first acted on a failure (ECS's rollback followed, or its own started).
    fn rollback_started_at(&self) -> Option<Duration> {
        let timeline = self.recording.timeline();
        let started = timeline
            .events
            .iter()
            .find(|t| matches!(t.event, Event::RollbackStarted { .. }));
        started.map(|t| t.at)
    }
}

fn no_alarms_said_outright() -> Option<(Vec<String>, bool, bool)> {
    Some((Vec::new(), false, false))
}

async fn fires_mid_deploy(sim: Sim) {
    let run = Run::new(sim);
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    // The new tasks are up and turning healthy at 20 s; the deployment completes later.
    let fired = secs(20);
    run.sim.set_alarm_state_at(ALARM, AlarmState::Alarm, fired);
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy_gated("app:v2", &[ALARM]).await.unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    assert_eq!(
        diagnosis(&out),
        Diagnosis::EcsRolledBack {
            trigger: Trigger::Alarms {
                alarms: vec![ALARM.into()]
            },
            deployment: out
                .failure
                .as_ref()
                .map_or(String::new(), |f| match &f.cause {
                    Failure::EcsRolledBack { deployment, .. } => deployment.clone(),
                    _ => String::new(),
                }),
        },
        "{:?}",
        out.failure
    );
    let reported = run.rollback_started_at().expect("the rollback is reported");
    assert!(
        reported >= fired && reported <= fired + secs(2),
        "the alarm fired at {fired:?}, ecs-roll reported ECS's rollback at {reported:?}"
    );
    // The service had no alarms: after the deploy it has none again.
    assert_eq!(run.service_alarms().await, no_alarms_said_outright());
    let arn = run.service_arn().await;
    assert!(!run.tags.of(&arn).contains_key(TAG_CONFIGURATION));
}

#[tokio::test(start_paused = true)]
async fn an_alarm_firing_mid_deploy_is_followed_through_ecss_rollback_and_named() {
    fires_mid_deploy(alb_dynamic(deployment_configuration(200, 100))).await;
}

#[tokio::test(start_paused = true)]
async fn without_service_deployments_the_alarm_is_named_from_cloudwatch() {
    // moto and older endpoints: no DescribeServiceDeployments to say which alarm triggered.
    let sim = Sim::builder()
        .supports_service_deployments(false)
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .service(WEB, web_behind_alb(deployment_configuration(200, 100)))
        .build();
    fires_mid_deploy(sim).await;
}

#[tokio::test(start_paused = true)]
async fn a_deploy_gated_by_alarms_that_stay_ok_succeeds_and_puts_the_services_own_back() {
    let own = Some((vec!["own-latency".to_string()], true, false));
    let run = Run::new(alb_dynamic(DeploymentConfiguration {
        alarms: own.clone(),
        ..deployment_configuration(200, 100)
    }));
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    run.sim
        .set_alarm_state("web-p99", AlarmState::InsufficientData);
    let out = run
        .deploy_gated("app:v2", &[ALARM, "web-p99"])
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:2"; 3]);
    assert_eq!(run.service_alarms().await, own);
    let plan = run
        .recorder
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::ServicePlan(p) => Some(p),
            _ => None,
        })
        .expect("a plan");
    assert_eq!(
        plan.alarms,
        Some((vec![ALARM.to_string(), "web-p99".to_string()], true))
    );
    assert!(plan.sets_alarms);
    let text = render::plain::service_plan_text(&plan);
    assert!(
        text.contains("alarm(s) web-5xx, web-p99 (ECS rolls back"),
        "{text}"
    );
}

async fn refused_before_any_change(run: &Run, alarms: &[&str]) -> Refusal {
    let before = run.service_revision().await;
    let err = run.deploy_gated("app:v2", alarms).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    for op in ["RegisterTaskDefinition", "UpdateService", "TagResource"] {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
    assert_eq!(run.service_revision().await, before);
    err.refusal().expect("a refusal").clone()
}

#[tokio::test(start_paused = true)]
async fn an_alarm_already_in_alarm_is_refused_and_nothing_changes() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim.set_alarm_state(ALARM, AlarmState::Alarm);
    run.sim.set_alarm_state("web-p99", AlarmState::Ok);
    let refusal = refused_before_any_change(&run, &["web-p99", ALARM]).await;
    let Refusal::AlarmsFiring { alarms } = &refusal else {
        panic!("{refusal:?}");
    };
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].name, ALARM);
    let text = render::refusal::message(&refusal);
    assert!(
        text.contains("alarm web-5xx (") && text.contains("ALARM"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_cloudwatch_does_not_have_is_refused_naming_it() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim.set_alarm_state(ALARM, AlarmState::Ok);
    let refusal = refused_before_any_change(&run, &[ALARM, "web-typo"]).await;
    assert_eq!(
        refusal,
        Refusal::AlarmsNotFound {
            alarms: vec!["web-typo".into()]
        }
    );
}
