//! Images checked before any change: a new image its registry does not have refuses the
//! deploy with nothing registered; one no registry could vouch for warns (or refuses under
//! `require`); a rollback target that is INACTIVE or whose image is gone warns, or refuses
//! under `--require-rollback`.

use super::*;
use ecs_roll::engine::images::{ImageCheck, ImageChecks, NotReady};
use ecs_roll::engine::refusal::Refusal;
use ecs_roll::platform::ImageLookup;
use ecs_roll::sim::MemoryRegistries;

fn checked(registries: &MemoryRegistries, mode: ImageCheck, require_rollback: bool) -> Options {
    Options {
        images: Some(Arc::new(ImageChecks {
            registries: Arc::new(registries.clone()),
            mode,
            require_rollback,
        })),
        ..opts()
    }
}

fn hub() -> String {
    "docker.io".into()
}

fn refusal(r: Result<Outcome, Error>) -> Refusal {
    match r {
        Err(Error::Refused(refusal)) => *refusal,
        other => panic!("not refused: {other:?}"),
    }
}

fn warnings(run: &Run) -> Vec<Warning> {
    run.recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Warning(w) => Some(w),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_tag_its_registry_lacks_refuses_the_deploy_and_registers_nothing() {
    let run = Run::new(world(3));
    let registries = MemoryRegistries::default();
    registries.answer(V2, ImageLookup::TagMissing { registry: hub() });
    let revisions = run
        .sim
        .ecs()
        .list_task_definitions("cb-prototype")
        .await
        .unwrap();
    let r = run
        .deploy_with(V2, checked(&registries, ImageCheck::Auto, false))
        .await;
    assert_eq!(
        refusal(r),
        Refusal::Image {
            image: V2.into(),
            lookup: ImageLookup::TagMissing { registry: hub() }
        }
    );
    let after = run
        .sim
        .ecs()
        .list_task_definitions("cb-prototype")
        .await
        .unwrap();
    assert_eq!(after, revisions, "nothing registered");
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);
    // Only the image the new revision brings was asked about, and the rollback target's.
    assert_eq!(registries.asked(), [V2]);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_registry_warns_under_auto_and_refuses_under_require() {
    let registries = MemoryRegistries::default();
    let down = ImageLookup::Unreachable {
        registry: hub(),
        error: "connection refused".into(),
    };
    registries.answer(V2, down.clone());
    let run = Run::new(world(3));
    let r = run
        .deploy_with(V2, checked(&registries, ImageCheck::Require, false))
        .await;
    assert!(matches!(refusal(r), Refusal::Image { .. }));

    let run = Run::new(world(3));
    let out = run
        .deploy_with(V2, checked(&registries, ImageCheck::Auto, false))
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded);
    assert!(
        warnings(&run).contains(&Warning::ImageUnchecked {
            image: V2.into(),
            lookup: down
        }),
        "{:?}",
        warnings(&run)
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollback_target_whose_image_is_gone_warns_or_refuses_under_require_rollback() {
    let registries = MemoryRegistries::default();
    let gone = ImageLookup::TagMissing { registry: hub() };
    registries.answer(V1, gone.clone());
    let not_ready = NotReady::ImageMissing {
        image: V1.into(),
        lookup: gone,
    };
    let run = Run::new(world(3));
    let r = run
        .deploy_with(V2, checked(&registries, ImageCheck::Auto, true))
        .await;
    assert_eq!(
        refusal(r),
        Refusal::RollbackNotReady {
            revision: "cb-prototype:1".into(),
            problem: not_ready.clone()
        }
    );
    assert_eq!(run.running_images(), ["cb-prototype:1"; 3]);

    let run = Run::new(world(3));
    let out = run
        .deploy_with(V2, checked(&registries, ImageCheck::Auto, false))
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded);
    assert!(
        warnings(&run).contains(&Warning::RollbackNotReady {
            revision: "cb-prototype:1".into(),
            problem: not_ready
        }),
        "{:?}",
        warnings(&run)
    );
}

#[tokio::test(start_paused = true)]
async fn an_inactive_rollback_target_is_not_ready() {
    let registries = MemoryRegistries::default();
    let run = Run::new(world(3));
    run.sim
        .deregister_task_definition("cb-prototype:1")
        .unwrap();
    let r = run
        .deploy_with(V2, checked(&registries, ImageCheck::Auto, true))
        .await;
    assert_eq!(
        refusal(r),
        Refusal::RollbackNotReady {
            revision: "cb-prototype:1".into(),
            problem: NotReady::Inactive
        }
    );
}

#[tokio::test(start_paused = true)]
async fn image_check_off_asks_no_registry() {
    let registries = MemoryRegistries::default();
    registries.answer(V2, ImageLookup::TagMissing { registry: hub() });
    let run = Run::new(world(3));
    let out = run
        .deploy_with(V2, checked(&registries, ImageCheck::Off, true))
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Succeeded);
    assert!(registries.asked().is_empty());
}
