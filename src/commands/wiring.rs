//! Wiring a command to AWS: the adapters behind the platform traits (`connect`, or
//! `connect_limited` for several targets at once) and the engine's contexts built on them.

use std::sync::Arc;

use crate::aws::{self, ApiCalls};
use crate::engine::outcome::Outcome;
use crate::engine::service::ServiceCtx;
use crate::engine::{self, Cancel, Ctx, Desired, Observer, Options, StandaloneCtx, Timeouts};
use crate::error::Error;
use crate::platform::{ClassicElb, Ecs, EcsServices, ResourceTags, TargetGroups};
use crate::settings::{Settings, Target};

/// The AWS side of a command: adapters behind the platform traits, and their call counter.
pub struct Aws {
    pub ecs: Arc<dyn Ecs>,
    pub tags: Arc<dyn ResourceTags>,
    pub elb: Arc<dyn ClassicElb>,
    pub services: Arc<dyn EcsServices>,
    pub target_groups: Arc<dyn TargetGroups>,
    pub calls: ApiCalls,
}

pub async fn connect(s: &Settings) -> Result<Aws, Error> {
    let cfg = aws::load_sdk_config(s.profile.as_deref(), s.region.as_deref()).await;
    if cfg.region().is_none() {
        return Err(Error::usage(
            "no AWS region configured",
            "pass --region, set AWS_REGION, or add `region = \"...\"` to ecs-roll.toml",
        ));
    }
    let calls = ApiCalls::new();
    let ecs = Arc::new(aws::EcsAdapter::new(&cfg, calls.clone()));
    Ok(Aws {
        ecs: ecs.clone(),
        tags: ecs.clone(),
        elb: Arc::new(aws::ClassicElbAdapter::new(&cfg, calls.clone())),
        services: ecs,
        target_groups: Arc::new(aws::TargetGroupsAdapter::new(&cfg, calls.clone())),
        calls,
    })
}

/// `connect`, with every request going through a rate limit shared with other targets, and
/// DescribeServices shared with the other targets' watches (`batch`).
pub async fn connect_limited(
    s: &Settings,
    shared: Option<Arc<crate::batch::Shared>>,
) -> Result<Aws, Error> {
    use crate::batch::{Batched, SharedEcs};
    use crate::ratelimit::Limited;
    let aws = connect(s).await?;
    let Some(sh) = shared else { return Ok(aws) };
    let l = &sh.limiter;
    let scope = format!(
        "{}/{}",
        s.region.as_deref().unwrap_or(""),
        s.profile.as_deref().unwrap_or("")
    );
    Ok(Aws {
        ecs: SharedEcs::wrap(
            Limited::new(aws.ecs, l.clone()),
            &sh.clusters,
            std::time::Duration::from_secs(1),
            scope.clone(),
        ),
        tags: Limited::new(aws.tags, l.clone()),
        elb: Limited::new(aws.elb, l.clone()),
        services: Batched::wrap(
            Limited::new(aws.services, l.clone()),
            sh.board.clone(),
            scope,
        ),
        target_groups: Limited::new(aws.target_groups, l.clone()),
        calls: aws.calls,
    })
}

pub fn context(
    s: &Settings,
    aws: &Aws,
    observer: Arc<dyn Observer>,
    timeouts: Timeouts,
    cancel: Cancel,
) -> Ctx {
    Ctx {
        ecs: aws.ecs.clone(),
        elb: aws.elb.clone(),
        tags: aws.tags.clone(),
        cluster: s.cluster.clone(),
        family: s.family.clone(),
        observer,
        poll: s.poll,
        timeouts,
        cancel,
        actor: actor(),
    }
}

/// Who runs this, recorded on the revision: the GitHub run, or user@host.
fn actor() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(repo), Some(run)) = (var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        return format!(
            "github.com/{repo}/actions/runs/{run} ({})",
            var("GITHUB_ACTOR").unwrap_or_default()
        );
    }
    let user = var("USER")
        .or_else(|| var("USERNAME"))
        .unwrap_or_else(|| "unknown".into());
    let host = var("HOSTNAME")
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_default();
    format!("{user}@{host}")
}

/// Runs the engine on the target: a service, with the family of the revision it deploys, or
/// standalone tasks behind the classic ELB.
pub async fn run_engine(
    s: &Settings,
    aws: &Aws,
    mut ctx: Ctx,
    desired: Desired,
    opts: &Options,
) -> Result<Outcome, Error> {
    match &s.target {
        Target::Service { name } => {
            ctx.family = desired.family().to_string();
            let sctx = service_context(ctx, aws, name);
            engine::service::run(&sctx, desired, opts).await
        }
        Target::Standalone { load_balancer } => {
            let sctx = StandaloneCtx {
                ctx,
                load_balancer: load_balancer.clone(),
            };
            engine::deploy::run(&sctx, desired, opts).await
        }
    }
}

/// Service mode: the context for `service`, with the family of the revision it runs.
pub fn service_context(ctx: Ctx, aws: &Aws, service: &str) -> ServiceCtx {
    ServiceCtx {
        ctx,
        services: aws.services.clone(),
        target_groups: aws.target_groups.clone(),
        service: service.to_string(),
    }
}
