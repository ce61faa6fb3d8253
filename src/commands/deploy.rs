//! `ecs-roll deploy --image IMAGE`: a new revision with that image, rolled out without downtime.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Deploy, Global};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::outcome::Outcome;
use crate::engine::prune;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
use crate::engine::{Cancel, Desired, Event, Options, Warning};
use crate::error::Error;
use crate::platform::Strategy;
use crate::settings::{self, Settings};

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
    let image = settings::parse_image(&args.image)?;
    let keep = s.keep_revisions(args.keep_revisions.as_deref())?;
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let deadline = PreflightDeadline::from_now(rollout.timeouts.total);
    let (aws, (desired, container)) = by_deadline(deadline, async {
        let aws = super::connect_limited(&s, limiter).await?;
        let desired = super::desired_definition(&s, &aws, &image).await?;
        Ok((aws, desired))
    })
    .await?;

    for note in desired.field_notes() {
        observer.event(&Event::Warning(Warning::TaskDefinition(note)));
    }
    let mut ctx = super::context(&s, &aws, observer.clone(), rollout.timeouts, cancel);
    ctx.gate = gate;
    let opts = Options {
        command: "deploy".into(),
        count: rollout.count,
        allow_downtime: rollout.allow_downtime,
        rollback_on_failure: !args.no_rollback,
        dry_run: rollout.dry_run,
        container: Some(container),
        strategy: args.strategy.map(strategy_name),
        preflight_deadline: deadline,
    };
    let mut outcome = super::run_engine(&s, &aws, ctx, Desired::Definition(desired), &opts).await?;
    super::history::record_run(&s, &aws, &outcome).await;
    if let Some(keep) = keep {
        outcome.pruned =
            prune::after_deploy(aws.ecs.as_ref(), aws.services.as_ref(), &outcome, keep).await;
    }
    Ok((outcome, aws.calls))
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
