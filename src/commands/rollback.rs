//! `ecs-roll rollback [--to REVISION]`: back to the revision that ran before the last deploy,
//! as recorded on the deployed revision (never guessed from revision numbers; which one that
//! is, is `engine::rollback`'s to decide). Run again after a rollback that did not complete
//! (interrupted, failed), it finishes that rollback.

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Global, Rollback};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::outcome::Outcome;
use crate::engine::rollback;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
use crate::engine::{Cancel, Desired, Options};
use crate::error::Error;
use crate::platform::Revision;
use crate::settings::Settings;

pub async fn run(g: &Global, args: Rollback, loaded: Loaded) -> Result<i32, Error> {
    let targets = Settings::all(g, Some(&args.source), loaded)?;
    if targets.len() > 1 && args.to.is_some() {
        return Err(Error::usage(
            "--to names one revision, but several targets are selected",
            "roll back one target at a time with --to, or drop --to",
        ));
    }
    super::run_targets(targets, move |s, observer, cancel, limiter| {
        let args = args.clone();
        async move { one(&s, &args, observer, cancel, limiter).await }
    })
    .await
}

/// One target: find the revision to return to and roll it out.
async fn one(
    s: &Settings,
    args: &Rollback,
    observer: Arc<dyn Observer>,
    cancel: Cancel,
    limiter: Option<Arc<Shared>>,
) -> Result<(Outcome, ApiCalls), Error> {
    let mut s = s.clone();
    let rollout = s.rollout(&args.rollout)?;
    // Everything before the first change gives up at --timeout (exit 2, nothing changed).
    let deadline = PreflightDeadline::from_now(rollout.timeouts.total);
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let aws = by_deadline(deadline, super::connect_limited(&s, limiter)).await?;
    by_deadline(deadline, super::family::find(&mut s, &aws)).await?;
    let mut ctx = super::context(&s, &aws, observer.clone(), rollout.timeouts, cancel);
    ctx.gate = gate;
    let to = match &args.to {
        Some(to) => to.clone(),
        None => {
            by_deadline(deadline, async {
                match s.target.service() {
                    Some(service) => {
                        rollback::service_target(&ctx, aws.services.as_ref(), service).await
                    }
                    None => rollback::standalone_target(&ctx).await,
                }
            })
            .await?
        }
    };
    let target = by_deadline(deadline, super::resolve_revision(&s, &aws, &to)).await?;
    let opts = Options {
        command: "rollback".into(),
        count: rollout.count,
        allow_downtime: rollout.allow_downtime,
        rollback_on_failure: true,
        dry_run: rollout.dry_run,
        container: s.container.clone(),
        strategy: None,
        preflight_deadline: deadline,
        before: None,
        // A rollback returns to what ran: its images are not new to anyone.
        images: None,
        // A rollback is often the answer to an alarm in ALARM: alarms never hold it back.
        alarms: Vec::new(),
        bake: std::time::Duration::ZERO,
        traffic: Default::default(),
    };
    let outcome = super::run_engine(&s, &aws, ctx, Desired::Revision(target), &opts).await?;
    super::history::record_run(&s, &aws, &outcome).await;
    Ok((outcome, aws.calls))
}

/// How `ecs-roll status` shows a revision's rollback target
/// (`engine::rollback::plain_target_name`).
pub(crate) fn plain_target_name(rev: &Revision) -> Option<String> {
    rollback::plain_target_name(rev)
}

/// How `ecs-roll status` shows `rev`'s rollback target.
pub(crate) fn shown_target(rev_name: &str, target: Option<&str>) -> String {
    match target {
        Some(t) if t == rev_name => {
            format!("{t} (a rollback to it did not complete: `ecs-roll rollback` finishes it)")
        }
        Some(t) => t.to_string(),
        None => "none recorded".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_the_rollback_a_plain_rollback_would_finish() {
        assert_eq!(shown_target("td:1", Some("td:2")), "td:2");
        assert_eq!(shown_target("td:1", None), "none recorded");
        assert!(
            shown_target("td:1", Some("td:1")).contains("`ecs-roll rollback` finishes it"),
            "{}",
            shown_target("td:1", Some("td:1"))
        );
    }
}
