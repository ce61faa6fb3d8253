//! `ecs-roll deploy --image [CONTAINER=]IMAGE ...`: a new revision with those images, rolled
//! out without downtime.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Deploy, Global};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::outcome::Outcome;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
use crate::engine::{Cancel, Desired, Event, Options, Warning};
use crate::error::Error;
use crate::platform::Strategy;
use crate::settings::Settings;

pub async fn run(g: &Global, args: Deploy, loaded: Loaded) -> Result<i32, Error> {
    let targets = Settings::all(g, Some(&args.source), loaded)?;
    super::run_targets(targets, move |s, observer, cancel, limiter| {
        let args = args.clone();
        async move { one(&s, &args, observer, cancel, limiter).await }
    })
    .await
}

/// One target: resolve the source definition, swap the image, roll it out.
async fn one(
    s: &Settings,
    args: &Deploy,
    observer: Arc<dyn Observer>,
    cancel: Cancel,
    limiter: Option<Arc<Shared>>,
) -> Result<(Outcome, ApiCalls), Error> {
    let s = s.clone();
    let rollout = s.rollout(&args.rollout)?;
    let images = crate::changes::parse_image_args(&args.image)?;
    if images.is_empty() {
        return Err(no_image());
    }
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let deadline = PreflightDeadline::from_now(rollout.timeouts.total);
    let (aws, (desired, containers)) = by_deadline(deadline, async {
        let aws = super::connect_limited(&s, limiter).await?;
        let desired = super::desired_definition(&s, &aws, &images).await?;
        Ok((aws, desired))
    })
    .await?;

    for field in desired.unknown_fields() {
        observer.event(&Event::Warning(Warning::Note(format!(
            "task definition field {field:?} is not known to ecs-roll; it is sent to ECS unchanged"
        ))));
    }
    let mut ctx = super::context(&s, &aws, observer.clone(), rollout.timeouts, cancel);
    ctx.gate = gate;
    let opts = Options {
        command: "deploy".into(),
        count: rollout.count,
        allow_downtime: rollout.allow_downtime,
        rollback_on_failure: !args.no_rollback,
        dry_run: rollout.dry_run,
        // The image reported is the first changed container's; `images` lists them all.
        container: containers.into_iter().next(),
        strategy: args.strategy.map(strategy_name),
        preflight_deadline: deadline,
    };
    let outcome = super::run_engine(&s, &aws, ctx, Desired::Definition(desired), &opts).await;
    Ok((outcome?, aws.calls))
}

/// A deploy with nothing to deploy.
pub(crate) fn no_image() -> Error {
    Error::usage(
        "no image given",
        "pass --image IMAGE (or --image CONTAINER=IMAGE, repeatable), or set ECS_ROLL_IMAGE",
    )
}

/// The ECS strategy a `--strategy` names.
pub fn strategy_name(s: crate::cli::Strategy) -> Strategy {
    match s {
        crate::cli::Strategy::Rolling => Strategy::Rolling,
        crate::cli::Strategy::BlueGreen => Strategy::BlueGreen,
        crate::cli::Strategy::Linear => Strategy::Linear,
        crate::cli::Strategy::Canary => Strategy::Canary,
    }
}
