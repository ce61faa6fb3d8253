//! `ecs-roll abort`: ECS rolls the target service's in-flight deployment back
//! (StopServiceDeployment) and the run follows the rollback to its end
//! (`engine::service::abort`). Service mode only: standalone tasks have no ECS deployment.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{AbortArgs, Global};
use crate::config::Loaded;
use crate::engine::outcome::Outcome;
use crate::engine::service::abort::abort;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
use crate::engine::{Cancel, Observer, Timeouts};
use crate::error::Error;
use crate::settings::{Settings, parse_duration};

pub async fn run(g: &Global, args: AbortArgs, loaded: Loaded) -> Result<i32, Error> {
    let targets = Settings::all(g, Some(&args.source), loaded)?;
    super::run_targets(targets, move |s, observer, cancel, limiter| {
        let timeout = args.timeout.clone();
        async move {
            // --timeout, else the target's `timeout` in ecs-roll.toml, as for deploy.
            let timeout = match timeout.or_else(|| s.config.config.timeout.clone()) {
                Some(t) => Some(parse_duration(&t, "--timeout")?),
                None => None,
            };
            one(&s, timeout, observer, cancel, limiter).await
        }
    })
    .await
}

async fn one(
    s: &Settings,
    timeout: Option<std::time::Duration>,
    observer: Arc<dyn Observer>,
    cancel: Cancel,
    limiter: Option<Arc<Shared>>,
) -> Result<(Outcome, ApiCalls), Error> {
    let Some(service) = s.target.service() else {
        return Err(Error::usage(
            "abort stops an ECS service deployment, but the target is standalone tasks behind a classic ELB",
            "name the service with --service (or `service` in ecs-roll.toml); a standalone deploy rolls back by itself",
        ));
    };
    let deadline = PreflightDeadline::from_now(timeout);
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let aws = by_deadline(deadline, super::connect_limited(s, limiter)).await?;
    let timeouts = Timeouts {
        total: timeout,
        ..Timeouts::default()
    };
    let mut ctx = super::context(s, &aws, observer, timeouts, cancel);
    ctx.gate = gate;
    let sctx = super::service_context(ctx, &aws, service);
    let outcome = abort(&sctx, s.container.as_deref(), deadline).await?;
    Ok((outcome, aws.calls))
}
