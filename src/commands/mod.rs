//! One module per command. This one holds what they share: loading settings, connecting to
//! AWS, watching for Ctrl-C/SIGTERM, and printing the result.

pub mod deploy;
pub mod diff;
pub mod multi;
pub mod rollback;
pub mod status;
mod status_service;
pub mod unlock;

use std::sync::Arc;

use crate::aws::{self, ApiCalls};
use crate::cli::{Cli, Command, OutputFormat};
use crate::config;
use crate::engine::outcome::Outcome;
use crate::engine::service::ServiceCtx;
use crate::engine::{Cancel, Ctx, Event, Observer, Timeouts};
use crate::error::Error;
use crate::platform::{ClassicElb, Ecs, EcsServices, ResourceTags, Revision, TargetGroups};
use crate::render;
use crate::settings::{Mode, Settings};

/// Runs the command and returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let output = cli.global.output.unwrap_or(OutputFormat::Text);
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            report_error(&e, output);
            e.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    let cwd = std::env::current_dir().map_err(|e| {
        Error::usage(
            format!("cannot read the current directory: {e}"),
            "run from an existing directory",
        )
    })?;
    let loaded = config::load(cli.global.config.as_deref(), &cwd)?;
    match cli.command {
        Command::Deploy(args) => deploy::run(&cli.global, args, loaded).await,
        Command::Rollback(args) => rollback::run(&cli.global, args, loaded).await,
        Command::Status => status::run(&cli.global, loaded).await,
        Command::Diff(args) => diff::run(&cli.global, args, loaded).await,
        Command::Unlock => unlock::run(&cli.global, loaded).await,
    }
}

fn report_error(e: &Error, output: OutputFormat) {
    eprintln!("error: {e}");
    if !e.hint().is_empty() {
        eprintln!("  hint: {}", e.hint());
    }
    if e.nothing_changed() {
        eprintln!("  nothing was changed in AWS");
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        eprintln!(
            "::error::{}",
            render::plain::escape(&format!("{e} ({})", e.hint()))
        );
    }
    if output == OutputFormat::Json {
        let doc = serde_json::json!({
            "result": "error",
            "exit_code": e.exit_code(),
            "error": e.to_string(),
            "hint": e.hint(),
            "nothing_changed": e.nothing_changed(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
}

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
        load_balancer: s.load_balancer.clone(),
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

/// First Ctrl-C/SIGTERM: finish the step in progress, then stop. Second: exit at once.
pub fn watch_signals(cancel: Cancel, observer: Arc<dyn Observer>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                cancel.request();
                observer.event(&Event::Interrupting);
            } else {
                eprintln!(
                    "second interrupt: aborting at once; run the same command again to resume, or `ecs-roll rollback`"
                );
                // Release the deploy lock (briefly), so the rerun is not blocked by its own lock.
                crate::engine::lock::release_all(std::time::Duration::from_secs(2)).await;
                std::process::exit(crate::error::exit::INTERRUPTED);
            }
        }
    });
}

/// Prints the outcome (text or JSON on stdout; GitHub outputs and summary) and returns the
/// exit code.
pub fn finish(
    mut outcome: Outcome,
    s: &Settings,
    calls: &ApiCalls,
    observer: &dyn Observer,
) -> i32 {
    observer.event(&Event::Finished);
    outcome.api_calls = calls.snapshot();
    match s.output {
        OutputFormat::Json => println!("{}", render::summary::json(&outcome)),
        OutputFormat::Text => print!("{}", render::summary::text(&outcome)),
    }
    if s.mode == Mode::GithubActions {
        render::github::publish(&outcome);
    }
    outcome.exit_code()
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

/// The revision a service runs now.
pub async fn service_revision(s: &Settings, aws: &Aws, service: &str) -> Result<Revision, Error> {
    let svc = aws
        .services
        .describe_service(&s.cluster, service)
        .await
        .map_err(Error::from_api_before_change)?;
    let Some(svc) = svc else {
        return Err(Error::preflight(
            format!("service {service:?} not found in cluster {:?}", s.cluster),
            "check --service (or `service` in ecs-roll.toml), --cluster and --region",
        ));
    };
    aws.ecs
        .describe_task_definition(&svc.task_definition)
        .await
        .map_err(Error::from_api_before_change)
}

/// The revision most of the family's running tasks run, or the family's latest when none runs.
pub async fn current_revision(s: &Settings, aws: &Aws) -> Result<Revision, Error> {
    let tasks = aws
        .ecs
        .family_tasks(&s.cluster, &s.family)
        .await
        .map_err(Error::from_api_before_change)?;
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for t in tasks.iter().filter(|t| t.is_running()) {
        *counts.entry(&t.task_definition_arn).or_default() += 1;
    }
    let reference = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| s.family.clone());
    aws.ecs
        .describe_task_definition(&reference)
        .await
        .map_err(|e| match e.kind {
            crate::platform::ApiErrorKind::NotFound
            | crate::platform::ApiErrorKind::InvalidRequest => Error::usage(
                format!(
                    "no revision of family {:?} exists and none runs in cluster {:?}",
                    s.family, s.cluster
                ),
                "pass --task-definition FILE to register the first revision",
            ),
            _ => Error::from_api_before_change(e),
        })
}

pub fn progress(s: &Settings) -> Arc<dyn Observer> {
    render::progress(s.mode)
}

/// The task definition a deploy of `image` registers: the file in force, or the revision
/// that runs now, with `image` in the chosen container. Returns it with that container.
pub async fn desired_definition(
    s: &Settings,
    aws: &Aws,
    image: &crate::image::ImageRef,
) -> Result<(crate::taskdef::TaskDefinition, String), Error> {
    use crate::taskdef::TaskDefinition;
    let file = s
        .task_definition
        .as_deref()
        .map(crate::settings::load_task_definition)
        .transpose()?;
    let source = match (file, &s.service) {
        (Some(td), _) => td,
        (None, Some(service)) => {
            TaskDefinition::from_revision(&service_revision(s, aws, service).await?)
        }
        (None, None) => TaskDefinition::from_revision(&current_revision(s, aws).await?),
    };
    let container = source
        .pick_container(s.container.as_deref(), image)
        .map_err(|e| {
            Error::usage(
                e.to_string(),
                "pass --container NAME (or `container` in ecs-roll.toml)",
            )
        })?;
    let desired = source.with_image(&container, image);
    Ok((desired, container))
}

/// Runs `one` for the selected target, or for every selected target at once.
pub async fn run_targets<F, Fut>(mut targets: Vec<(String, Settings)>, one: F) -> Result<i32, Error>
where
    F: Fn(Settings, Arc<dyn Observer>, Cancel, Option<Arc<crate::batch::Shared>>) -> Fut,
    Fut: std::future::Future<Output = Result<(Outcome, ApiCalls), Error>> + Send + 'static,
{
    if targets.len() > 1 {
        let counted = move |s, observer, cancel, limiter| {
            let fut = one(s, observer, cancel, limiter);
            async move {
                let (mut o, calls) = fut.await?;
                o.api_calls = calls.snapshot();
                Ok(o)
            }
        };
        return Ok(multi::run(targets, counted).await);
    }
    let (_, s) = targets.remove(0);
    let observer = progress(&s);
    let cancel = Cancel::default();
    watch_signals(cancel.clone(), observer.clone());
    let (outcome, calls) = one(s.clone(), observer.clone(), cancel, None).await?;
    Ok(finish(outcome, &s, &calls, observer.as_ref()))
}
