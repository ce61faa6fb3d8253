//! A service deploy drawn in the job summary: the gantt of its phases and waits and the
//! healthy targets of each revision as the deployment reported them; checked by Mermaid's
//! own parser.

use super::*;
use ecs_roll::render;

#[tokio::test(start_paused = true)]
async fn a_service_deploy_is_drawn_with_its_healthy_targets() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let mut out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    out.timeline = run.recording.timeline();
    let md = render::github::summary_markdown(&out);
    assert_eq!(
        crate::mermaid::assert_parses("a service deploy", &md),
        ["gantt", "xychart"]
    );
    assert!(md.contains("| At | web:1 | web:2 |"), "{md}");
    assert!(md.lines().any(|l| l.ends_with("| 0 | 3 |")), "{md}");
}

#[tokio::test(start_paused = true)]
async fn a_native_blue_green_deploy_draws_ecss_lifecycle_stages() {
    let run = Run::new(alb_native(
        deployment_configuration(200, 100),
        Some(advanced()),
    ));
    let td = run.definition("app:v2").await;
    let mut out = service::run(
        &run.sctx(),
        Desired::Definition(td),
        &Options {
            command: "deploy".into(),
            rollback_on_failure: true,
            strategy: Some(ecs_roll::platform::Strategy::BlueGreen),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    out.timeline = run.recording.timeline();
    let md = render::github::summary_markdown(&out);
    crate::mermaid::assert_parses("a native blue/green deploy", &md);
    assert!(md.contains("section Lifecycle"), "{md}");
    assert!(
        md.contains("PRODUCTION_TRAFFIC_SHIFT :active") && md.contains("CLEAN_UP :active"),
        "{md}"
    );
}
