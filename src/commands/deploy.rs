//! `ecs-roll deploy --image [CONTAINER=]IMAGE ...`: a new revision with those images, rolled
//! out without downtime.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Changes, Deploy, Global, Source};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::images::ImageChecks;
use crate::engine::outcome::Outcome;
use crate::engine::prune;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
use crate::engine::{Cancel, Desired, Event, Options, Warning};
use crate::error::Error;
use crate::platform::Strategy;
use crate::settings::Settings;

pub async fn run(g: &Global, args: Deploy, loaded: Loaded) -> Result<i32, Error> {
    let targets = Settings::all(g, Some(&args.source), loaded)?;
    if targets.len() > 1 && args.changes.revision.is_some() {
        return Err(Error::usage(
            "--revision names one revision, but several targets are selected",
            "deploy one target at a time with --revision, or pass --image instead",
        ));
    }
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
    let mut s = s.clone();
    let rollout = s.rollout(&args.rollout)?;
    let release = release_of(&s, &args.changes, &args.source)?;
    let before = super::before::command(&s, args)?;
    mask_early(&s, &release);
    let keep = s.keep_revisions(args.keep_revisions.as_deref())?;
    let image_check = s.image_check(args.images.image_check)?;
    let alarms = s.alarms(&args.alarms)?;
    let bake = s.bake(args.bake.as_deref())?;
    let traffic = s.traffic(&args.traffic)?;
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let deadline = PreflightDeadline::from_now(rollout.timeouts.total);
    let (aws, (desired, containers)) = by_deadline(deadline, async {
        let aws = super::connect_limited(&s, limiter).await?;
        super::family::find(&mut s, &aws).await?;
        let desired = super::desired(&s, &aws, &release).await?;
        Ok((aws, desired))
    })
    .await?;
    let before = match before {
        Some(c) => Some(
            by_deadline(
                deadline,
                super::before::prepare(&s, &aws, args, c, &desired, &containers),
            )
            .await?,
        ),
        None => None,
    };

    if let Desired::Definition(td) = &desired {
        for note in td.field_notes() {
            observer.event(&Event::Warning(Warning::TaskDefinition(note)));
        }
    }
    let mut ctx = super::context(&s, &aws, observer.clone(), rollout.timeouts, cancel);
    ctx.gate = gate;
    let opts = Options {
        command: "deploy".into(),
        count: rollout.count,
        allow_downtime: rollout.allow_downtime,
        rollback_on_failure: !args.no_rollback,
        dry_run: rollout.dry_run,
        // The image reported is the first changed container's (`images` lists them all);
        // a file or a revision as it is reports the configured container's.
        container: containers
            .into_iter()
            .next()
            .or_else(|| s.container.clone()),
        strategy: args.strategy.map(strategy_name),
        preflight_deadline: deadline,
        before,
        images: Some(Arc::new(ImageChecks {
            registries: aws.registries.clone(),
            mode: image_check,
            require_rollback: args.images.require_rollback,
        })),
        alarms,
        bake,
        traffic,
    };
    let mut outcome = super::run_engine(&s, &aws, ctx, desired, &opts).await?;
    super::history::record_run(&s, &aws, &outcome).await;
    if let Some(keep) = keep {
        outcome.pruned =
            prune::after_deploy(aws.ecs.as_ref(), aws.services.as_ref(), &outcome, keep).await;
    }
    Ok((outcome, aws.calls))
}

/// What `deploy` (or `diff`) rolls out, from its flags and the config's variables.
pub(crate) fn release_of(
    s: &Settings,
    changes: &Changes,
    source: &Source,
) -> Result<crate::changes::Release, Error> {
    let (config_env, config_secrets) = s.config.config.variable_flags();
    crate::changes::release(&crate::changes::Flags {
        images: &changes.image,
        revision: changes.revision.as_deref(),
        task_definition_given: source.task_definition.is_some(),
        env: &changes.env,
        unset_env: &changes.unset_env,
        secrets: &changes.secret,
        config_env: &config_env,
        config_secrets: &config_secrets,
    })
}

/// In GitHub Actions, the values the flags bring that masking hides are registered as masks
/// before any AWS call, so nothing printed later can show them.
pub(crate) fn mask_early(s: &Settings, release: &crate::changes::Release) {
    if s.mode == crate::settings::Mode::GithubActions
        && let crate::changes::Release::Definition { env, .. } = release
    {
        crate::render::github::add_masks(&crate::changes::env::masked_values(env));
    }
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
