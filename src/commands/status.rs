//! `ecs-roll status`: what runs where, how the load balancer sees it, and what a rollback
//! would return to.

use std::sync::Arc;

use serde::Serialize;

use crate::cli::{Global, OutputFormat, StatusArgs};
use crate::config::Loaded;
use crate::engine::deploy::{TAG_DEPLOYED_AT, TAG_DEPLOYED_BY, info, reports};
use crate::engine::events::Recorder;
use crate::engine::observe::{Catalog, Observation};
use crate::engine::outcome::{InstanceReport, RevisionInfo};
use crate::engine::{Cancel, StandaloneCtx, Timeouts};
use crate::error::Error;
use crate::render::summary::instances_table;
use crate::settings::{Settings, Target};

#[derive(Debug, Serialize)]
pub struct Status {
    cluster: String,
    family: String,
    load_balancer: String,
    health_check: String,
    connection_draining_seconds: Option<u64>,
    running: Vec<Running>,
    instances: Vec<InstanceReport>,
}

#[derive(Debug, Serialize)]
struct Running {
    revision: RevisionInfo,
    tasks: usize,
    deployed_at: Option<String>,
    deployed_by: Option<String>,
    /// What `ecs-roll rollback` would return to.
    previous: Option<String>,
}

/// The status of a target at one moment.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Snapshot {
    Standalone(Status),
    Service(super::status_service::ServiceStatus),
}

impl Snapshot {
    pub fn text(&self) -> String {
        match self {
            Snapshot::Standalone(s) => text(s),
            Snapshot::Service(s) => super::status_service::text(s),
        }
    }

    /// Nothing is changing: one revision, every task healthy, no deployment under way.
    pub fn stable(&self) -> bool {
        match self {
            Snapshot::Standalone(s) => {
                s.running.len() == 1
                    && s.instances
                        .iter()
                        .filter(|i| !i.revisions.is_empty())
                        .all(|i| i.health.as_deref() == Some("InService"))
            }
            Snapshot::Service(s) => super::status_service::stable(s),
        }
    }
}

pub async fn run(g: &Global, args: &StatusArgs, loaded: Loaded) -> Result<i32, Error> {
    let every = match &args.every {
        Some(d) => crate::settings::parse_duration(d, "--every")?,
        None => super::watch::EVERY,
    };
    let mut s = Settings::one(g, Some(&args.source), loaded, "status")?;
    if args.watch && s.output != OutputFormat::Text {
        return Err(Error::usage(
            "status --watch draws text, not --output json or json-lines",
            "drop --output to watch, or run `ecs-roll --output json status` for one document",
        ));
    }
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    check(&s, &aws).await?;
    if args.watch {
        return super::watch::watch(&s, &aws, args.until_stable, every).await;
    }
    let snapshot = snapshot(&s, &aws).await?;
    match s.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&snapshot).unwrap_or_default()
        ),
        OutputFormat::JsonLines => {
            crate::render::jsonl::result(serde_json::to_value(&snapshot).unwrap_or_default())
        }
        OutputFormat::Text => print!("{}", snapshot.text()),
    }
    Ok(0)
}

/// The context of a standalone target's reads.
fn standalone_ctx(s: &Settings, aws: &super::Aws, load_balancer: &str) -> StandaloneCtx {
    StandaloneCtx {
        ctx: super::context(
            s,
            aws,
            Arc::new(Recorder::default()),
            Timeouts::default(),
            Cancel::default(),
        ),
        load_balancer: load_balancer.to_string(),
    }
}

/// The target exists: a standalone target's cluster is ACTIVE and its load balancer there
/// (a service's own read says so for a service). Once per command, not per look.
pub async fn check(s: &Settings, aws: &super::Aws) -> Result<(), Error> {
    let Target::Standalone { load_balancer } = &s.target else {
        return Ok(());
    };
    let ctx = standalone_ctx(s, aws, load_balancer);
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
    if ctx
        .elb
        .describe_load_balancer(&ctx.load_balancer)
        .await
        .map_err(Error::from_api_before_change)?
        .is_none()
    {
        return Err(Error::preflight(
            format!("classic load balancer {:?} not found", ctx.load_balancer),
            "check --load-balancer and --region",
        ));
    }
    Ok(())
}

/// What runs now, read from AWS (after [`check`]).
pub async fn snapshot(s: &Settings, aws: &super::Aws) -> Result<Snapshot, Error> {
    let load_balancer = match &s.target {
        Target::Service { name } => {
            return Ok(Snapshot::Service(
                super::status_service::snapshot(s, aws, name).await?,
            ));
        }
        Target::Standalone { load_balancer } => load_balancer,
    };
    let ctx = standalone_ctx(s, aws, load_balancer);
    let obs = Observation::take(&ctx)
        .await
        .map_err(Error::from_api_before_change)?;
    let mut catalog = Catalog::default();
    let mut running = Vec::new();
    for (arn, tasks) in obs.running_revisions() {
        let rev = catalog
            .get(&ctx, &arn)
            .await
            .map_err(Error::from_api_before_change)?;
        running.push(Running {
            revision: info(&rev, s.container.as_deref()),
            tasks,
            deployed_at: rev.tags.get(TAG_DEPLOYED_AT).cloned(),
            deployed_by: rev.tags.get(TAG_DEPLOYED_BY).cloned(),
            previous: super::rollback::plain_target_name(&rev),
        });
    }
    let lb = &obs.load_balancer;
    let status = Status {
        cluster: s.cluster.clone(),
        family: s.family.clone(),
        load_balancer: ctx.load_balancer.clone(),
        health_check: format!(
            "{} every {}s, healthy after {}",
            lb.health_check.target,
            lb.health_check.interval.as_secs(),
            lb.health_check.healthy_threshold
        ),
        connection_draining_seconds: lb.connection_draining.map(|d| d.as_secs()),
        running,
        instances: reports(&obs, &catalog),
    };
    Ok(Snapshot::Standalone(status))
}

fn text(s: &Status) -> String {
    let mut out = format!(
        "cluster {} · family {} · load balancer {}\n",
        s.cluster, s.family, s.load_balancer
    );
    out.push_str(&format!(
        "health check {} · connection draining {}\n",
        s.health_check,
        s.connection_draining_seconds
            .map_or("off".to_string(), |d| format!("{d}s"))
    ));
    if s.running.is_empty() {
        out.push_str("no task of the family is running\n");
    }
    for r in &s.running {
        out.push_str(&format!(
            "running {} ({}) on {} task(s)",
            r.revision.name,
            r.revision.image.as_deref().unwrap_or("?"),
            r.tasks
        ));
        if let Some(at) = &r.deployed_at {
            out.push_str(&format!(", deployed {at}"));
        }
        if let Some(by) = &r.deployed_by {
            out.push_str(&format!(" by {by}"));
        }
        out.push_str(&format!(
            "; rollback target: {}\n",
            super::rollback::shown_target(&r.revision.name, r.previous.as_deref())
        ));
    }
    out.push_str(&instances_table(&s.instances));
    out
}
