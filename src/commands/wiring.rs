//! Wiring a command to AWS: the adapters behind the platform traits (`connect`, or
//! `connect_limited` for several targets at once) and the engine's contexts built on them.

use std::sync::Arc;

use crate::aws::{self, ApiCalls};
use crate::engine::outcome::Outcome;
use crate::engine::service::ServiceCtx;
use crate::engine::{self, Cancel, Ctx, Desired, Observer, Options, StandaloneCtx, Timeouts};
use crate::error::Error;
use crate::platform::{
    Alarms, ClassicElb, Ecs, EcsServices, ImageRegistries, LogStreams, OneOffTasks, ResourceTags,
    TargetGroups,
};
use crate::settings::{Settings, Target};

/// The AWS side of a command: adapters behind the platform traits, and their call counter.
pub struct Aws {
    pub ecs: Arc<dyn Ecs>,
    pub tags: Arc<dyn ResourceTags>,
    pub elb: Arc<dyn ClassicElb>,
    pub services: Arc<dyn EcsServices>,
    pub target_groups: Arc<dyn TargetGroups>,
    /// RunTask, for one-off tasks.
    pub one_offs: Arc<dyn OneOffTasks>,
    /// CloudWatch Logs, where a one-off task's containers log.
    pub logs: Arc<dyn LogStreams>,
    /// ECR and the other registries, asked whether images exist.
    pub registries: Arc<dyn ImageRegistries>,
    /// CloudWatch alarms.
    pub alarms: Arc<dyn Alarms>,
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
    let registries = Arc::new(crate::registry::Registries {
        ecr: aws::EcrAdapter::new(&cfg, calls.clone()),
        v2: std::sync::OnceLock::new(),
        mirrors: s.registry_mirrors()?,
        local_aws: cfg
            .endpoint_url()
            .is_some_and(crate::registry::route::is_loopback),
    });
    Ok(Aws {
        ecs: ecs.clone(),
        tags: ecs.clone(),
        elb: Arc::new(aws::ClassicElbAdapter::new(&cfg, calls.clone())),
        services: ecs.clone(),
        target_groups: Arc::new(aws::TargetGroupsAdapter::new(&cfg, calls.clone())),
        one_offs: ecs,
        logs: Arc::new(aws::LogsAdapter::new(&cfg, calls.clone())),
        registries,
        alarms: Arc::new(aws::AlarmsAdapter::new(&cfg, calls.clone())),
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
    let scope = s.account_scope();
    let l = &sh.limits.of(&scope);
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
        one_offs: aws.one_offs,
        logs: aws.logs,
        registries: aws.registries,
        alarms: aws.alarms,
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
        alarms: aws.alarms.clone(),
        cluster: s.cluster.clone(),
        family: s.family.clone(),
        observer,
        poll: s.poll,
        timeouts,
        cancel,
        actor: actor(),
        lock_heartbeat: s.lock_heartbeat,
        gate: None,
    }
}

/// Who runs this, recorded on the revision and in the deploy lock.
fn actor() -> String {
    actor_from(
        |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        std::process::id(),
    )
}

/// In GitHub Actions the actor and the run's URL; otherwise user@host and the process id,
/// the user and host found where no variable names them.
fn actor_from(var: impl Fn(&str) -> Option<String>, pid: u32) -> String {
    if let (Some(repo), Some(run)) = (var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let url = format!("{server}/{repo}/actions/runs/{run}");
        return match var("GITHUB_ACTOR") {
            Some(actor) => format!("{actor} in {url}"),
            None => url,
        };
    }
    let user = var("USER")
        .or_else(|| var("USERNAME"))
        .or_else(|| var("LOGNAME"))
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown".into());
    let host = var("HOSTNAME")
        .or_else(|| read_trimmed("/proc/sys/kernel/hostname"))
        .or_else(|| read_trimmed("/etc/hostname"))
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} (pid {pid})")
}

/// The user name of this process's uid, from /proc and /etc/passwd (where no USER is set:
/// cron, containers, systemd units).
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
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
    let mut outcome = match &s.target {
        Target::Service { name } => {
            ctx.family = desired.family().to_string();
            let sctx = service_context(ctx, aws, name);
            engine::service::run(&sctx, desired, opts).await?
        }
        Target::Standalone { load_balancer } => {
            let sctx = StandaloneCtx {
                ctx,
                load_balancer: load_balancer.clone(),
            };
            engine::deploy::run(&sctx, desired, opts).await?
        }
    };
    read_failure_log(aws, &mut outcome).await;
    Ok(outcome)
}

/// A failed run's evidence gains the failed container's last log lines, from the revision
/// the failed tasks ran (the one being rolled out).
pub async fn read_failure_log(aws: &Aws, outcome: &mut Outcome) {
    let (Some(f), Some(target)) = (&outcome.failure, &outcome.target) else {
        return;
    };
    outcome.failure_log =
        engine::failure_log::read(aws.ecs.as_ref(), aws.logs.as_ref(), &f.cause, &target.arn).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_holder_is_the_github_actor_and_run_url_in_actions() {
        let ci = vars(&[
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_SERVER_URL", "https://github.example.com"),
            ("USER", "runner"),
        ]);
        assert_eq!(
            actor_from(ci, 7),
            "octocat in https://github.example.com/acme/shop/actions/runs/42"
        );
        let no_actor = vars(&[("GITHUB_REPOSITORY", "acme/shop"), ("GITHUB_RUN_ID", "42")]);
        assert_eq!(
            actor_from(no_actor, 7),
            "https://github.com/acme/shop/actions/runs/42"
        );
    }

    #[test]
    fn the_holder_is_user_at_host_with_the_pid_elsewhere_even_without_user_variables() {
        let named = vars(&[("USER", "alice"), ("HOSTNAME", "laptop")]);
        assert_eq!(actor_from(named, 7), "alice@laptop (pid 7)");
        // No USER, USERNAME, LOGNAME or HOSTNAME (cron, containers): from the uid and the
        // kernel's host name, never `unknown@...`.
        let found = actor_from(vars(&[]), 7);
        assert!(!found.starts_with("unknown@"), "{found}");
        assert!(!found.contains("@unknown-host"), "{found}");
        assert!(found.ends_with(" (pid 7)"), "{found}");
    }
}
