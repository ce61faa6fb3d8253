//! Pruning in a cluster of services: a revision any service's deployment uses stays, not only
//! the target's.

use super::*;
use ecs_roll::engine::prune::{self, KeepReason};

#[tokio::test(start_paused = true)]
async fn revisions_that_any_service_of_the_cluster_runs_are_kept_however_old() {
    let sim = Sim::builder()
        .instances(3)
        .elb(ELB, quick_elb())
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                task_definition: static_app("app:v1"),
                elb: Some(ELB.into()),
                ..ServiceSpec::default()
            },
        )
        // Another service of the same family, on revision 2.
        .service(
            "worker",
            ServiceSpec {
                desired: 1,
                task_definition: dynamic_app("app:worker"),
                ..ServiceSpec::default()
            },
        )
        .build();
    let ecs = sim.ecs();
    // Revisions 3 to 5 registered elsewhere, never rolled out.
    for image in ["app:v3", "app:v4", "app:v5"] {
        ecs.register_task_definition(&static_app(image), &Default::default())
            .await
            .unwrap();
    }
    let services = sim.services();
    // A dry run lists what would go and changes nothing.
    let dry = prune::prune(ecs.as_ref(), services.as_ref(), CLUSTER, WEB, 2, None, true)
        .await
        .unwrap();
    assert_eq!(dry.deregistered, ["web:3"]);
    assert_eq!(ecs.list_task_definitions(WEB).await.unwrap().len(), 5);
    let report = prune::prune(
        ecs.as_ref(),
        services.as_ref(),
        CLUSTER,
        WEB,
        2,
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.deregistered, ["web:3"]);
    let kept: Vec<(&str, KeepReason)> = report
        .kept
        .iter()
        .map(|k| (k.revision.as_str(), k.reason))
        .collect();
    assert_eq!(
        kept,
        [
            ("web:5", KeepReason::Newest),
            ("web:4", KeepReason::Newest),
            ("web:2", KeepReason::Running),
            ("web:1", KeepReason::Running),
        ]
    );
    let active = ecs.list_task_definitions(WEB).await.unwrap();
    assert_eq!(active.len(), 4, "{active:?}");
    assert!(!active.iter().any(|a| a.ends_with("web:3")), "{active:?}");
}
