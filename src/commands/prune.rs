//! `ecs-roll prune --keep N [--dry-run]`: the family's ACTIVE revisions older than the newest
//! N deregistered on demand, by the same rules as `deploy --keep-revisions` (which revisions
//! go is `engine::prune`'s to decide).

use std::sync::Arc;

use crate::cli::{Global, OutputFormat, PruneArgs};
use crate::config::Loaded;
use crate::engine::events::Recorder;
use crate::engine::refusal::Refusal;
use crate::engine::{Cancel, Ctx, Timeouts, prune, rollback};
use crate::error::Error;
use crate::platform::short;
use crate::render;
use crate::settings::{self, Settings, Target};

pub async fn run(g: &Global, args: PruneArgs, loaded: Loaded) -> Result<i32, Error> {
    let mut s = Settings::one(g, Some(&args.source), loaded, "prune")?;
    let keep = settings::parse_keep(&args.keep, "--keep")?;
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    let ctx = super::context(
        &s,
        &aws,
        Arc::new(Recorder::default()),
        Timeouts::default(),
        Cancel::default(),
    );
    if !ctx
        .ecs
        .cluster_is_active(&ctx.cluster)
        .await
        .map_err(Error::from_api_before_change)?
    {
        return Err(Error::preflight(
            format!("cluster {:?} does not exist or is not ACTIVE", s.cluster),
            "check --cluster and --region",
        ));
    }
    let (family, target) = family_and_target(&s, &aws, &ctx).await?;
    let report = prune::prune(
        aws.ecs.as_ref(),
        aws.services.as_ref(),
        &s.cluster,
        &family,
        keep,
        target.as_deref(),
        args.dry_run,
    )
    .await
    .map_err(Error::from_api_before_change)?;
    match s.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        OutputFormat::JsonLines => {
            render::jsonl::result(serde_json::to_value(&report).unwrap_or_default())
        }
        OutputFormat::Text => print!("{}", render::prune::text(&report)),
    }
    Ok(0)
}

/// The family to prune (a service's: that of the revision it runs) and the rollback target a
/// plain `ecs-roll rollback` would return to, if ecs-roll recorded one.
async fn family_and_target(
    s: &Settings,
    aws: &super::Aws,
    ctx: &Ctx,
) -> Result<(String, Option<String>), Error> {
    let (family, target) = match &s.target {
        Target::Standalone { .. } => (s.family.clone(), rollback::standalone_target(ctx).await),
        Target::Service { name } => {
            let svc = aws
                .services
                .describe_service(&s.cluster, name)
                .await
                .map_err(Error::from_api_before_change)?
                .ok_or_else(|| {
                    Error::refused(Refusal::ServiceNotFound {
                        service: name.clone(),
                        cluster: s.cluster.clone(),
                    })
                })?;
            let family = short(&svc.task_definition)
                .rsplit_once(':')
                .map_or(svc.task_definition.clone(), |(f, _)| f.to_string());
            let target = rollback::service_target(ctx, aws.services.as_ref(), name).await;
            (family, target)
        }
    };
    match target {
        Ok(t) => Ok((family, Some(t))),
        // Nothing recorded to return to: nothing to protect beyond the other rules.
        Err(Error::Refused(_)) => Ok((family, None)),
        Err(e) => Err(e),
    }
}
