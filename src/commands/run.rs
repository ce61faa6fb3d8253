//! `ecs-roll run --command "CMD ARGS"`: one task of the target's revision with the command
//! override, followed until it stops and judged by every essential container's exit code
//! (`engine::oneoff`). A service's one-off runs where its tasks run (launch type or capacity
//! provider strategy, subnets, security groups, public IP, platform version); standalone, on
//! the cluster's container instances, as a variant without port mappings when the revision
//! takes a static host port (`engine::oneoff::variant`).

use std::time::Duration;

use super::Aws;
use crate::cli::{Global, OneOffArgs, OutputFormat, RunArgs, Source};
use crate::config::Loaded;
use crate::engine::oneoff::before::log_where;
use crate::engine::oneoff::{self, OneOffCtx, OneOffError, Spec, variant};
use crate::engine::{Cancel, Ctx, Timeouts, skeleton};
use crate::error::Error;
use crate::overrides::{EnvOverride, parse_command, parse_env};
use crate::platform::{ContainerOverride, Revision, RunTaskRequest, Service};
use crate::render;
use crate::settings::{Mode, Settings, parse_duration};

/// `--run-timeout` when none is given.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub async fn run(g: &Global, args: RunArgs, loaded: Loaded) -> Result<i32, Error> {
    let source = Source {
        task_definition: None,
        container: args.container.clone(),
    };
    let mut s = Settings::one(g, Some(&source), loaded, "run")?;
    // Everything the user typed is checked before AWS is asked anything.
    let command = parse_command(&args.command, "--command")?;
    let env = args
        .env
        .iter()
        .map(|e| parse_env(e))
        .collect::<Result<Vec<_>, _>>()?;
    let (timeout, leave_running) = one_off_limits(&args.one_off)?;
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    let observer = super::progress(&s);
    let cancel = Cancel::default();
    super::watch_signals(cancel.clone(), observer.clone());
    let ctx = super::context(&s, &aws, observer, Timeouts::default(), cancel);
    skeleton::check_cluster(&ctx).await?;
    let service = match s.target.service() {
        Some(name) => Some(described_service(&s, &aws, name).await?),
        None => None,
    };
    let revision = match (&args.revision, &service) {
        (Some(r), _) => super::resolve_revision(&s, &aws, r).await?,
        (None, Some(svc)) => describe(&aws, &svc.task_definition).await?,
        (None, None) => super::current_revision(&s, &aws).await?,
    };
    if let Some(svc) = &service {
        let runs = describe(&aws, &svc.task_definition).await?;
        if runs.family != revision.family {
            return Err(Error::usage(
                format!(
                    "{} is not of family {}, which service {} runs",
                    revision.name(),
                    runs.family,
                    svc.name
                ),
                format!("pass a revision of family {}", runs.family),
            ));
        }
    }
    let container = pick_container(&revision.name(), &revision.body, s.container.as_deref())?;
    let overrides = container_overrides(&revision, &container, command, &env)?;
    let mut request = placement(&s, service.as_ref(), "ecs-roll/run");
    request.overrides = overrides;
    // The first change: a one-off variant, when the revision needs one to be placed.
    let run_as = if request.network.is_none() && variant::needs_variant(&revision) {
        variant::variant(aws.ecs.as_ref(), &revision)
            .await
            .map_err(Error::from_api_after_change)?
            .0
    } else {
        revision.clone()
    };
    request.task_definition = run_as.arn.clone();
    let spec = Spec {
        request,
        revision: revision.name(),
        essential: oneoff::essential_containers(&revision.body),
        log: log_where(&revision, &container),
        timeout,
        leave_running,
    };
    let report = run_one_off(&ctx, &aws, &spec, &s).await?;
    match s.output {
        OutputFormat::Json => println!("{}", render::oneoff::json(&report)),
        OutputFormat::JsonLines => render::jsonl::result(render::oneoff::document(&report)),
        OutputFormat::Text => print!("{}", render::oneoff::text(&report)),
    }
    if s.mode == Mode::GithubActions {
        render::oneoff::publish(&report);
    }
    Ok(report.exit_code())
}

/// `--run-timeout` (default 30m) and `--leave-running`.
pub fn one_off_limits(a: &OneOffArgs) -> Result<(Duration, bool), Error> {
    let timeout = match &a.run_timeout {
        Some(t) => parse_duration(t, "--run-timeout")?,
        None => DEFAULT_RUN_TIMEOUT,
    };
    Ok((timeout, a.leave_running))
}

/// Runs the one-off task, its events printed as they come. A RunTask refused (nothing ran)
/// ends the command with exit 2.
pub async fn run_one_off(
    ctx: &Ctx,
    aws: &Aws,
    spec: &Spec,
    s: &Settings,
) -> Result<oneoff::Report, Error> {
    let o = OneOffCtx {
        ctx,
        tasks: aws.one_offs.as_ref(),
        logs: aws.logs.as_ref(),
    };
    let github = s.mode == Mode::GithubActions;
    let emit = move |e: &oneoff::OneOffEvent| {
        let line = render::oneoff::event_line(e);
        if github && matches!(e, oneoff::OneOffEvent::LogUnreadable { .. }) {
            eprintln!("::warning::{}", render::plain::escape(&line));
        } else {
            eprintln!("{line}");
        }
    };
    oneoff::run(&o, spec, &emit).await.map_err(|e| match e {
        // After the SDK's retries of a 5xx or a lost answer ECS may have started it after all.
        OneOffError::NotStarted(error) if error.is_transient() => Error::failed(
            format!("RunTask got no answer, a one-off task may have started: {error}"),
            format!(
                "look for it: aws ecs list-tasks --cluster {} --started-by {}",
                ctx.cluster, spec.request.started_by
            ),
        ),
        OneOffError::NotStarted(error) => Error::preflight(
            format!("the one-off task could not be started: {error}"),
            "check the cluster's capacity and the task definition (ECS's reason is above); nothing ran",
        ),
        OneOffError::Api { task_arn, error } => Error::failed(
            format!("lost track of one-off task {task_arn}: {error}"),
            format!("see the task in the ECS console, or stop it: aws ecs stop-task --cluster {} --task {task_arn}", ctx.cluster),
        ),
    })
}

pub(super) async fn described_service(
    s: &Settings,
    aws: &Aws,
    name: &str,
) -> Result<Service, Error> {
    aws.services
        .describe_service(&s.cluster, name)
        .await
        .map_err(Error::from_api_before_change)?
        .ok_or_else(|| {
            Error::preflight(
                format!("service {name:?} not found in cluster {:?}", s.cluster),
                "check --service (or `service` in ecs-roll.toml), --cluster and --region",
            )
        })
}

async fn describe(aws: &Aws, reference: &str) -> Result<Revision, Error> {
    aws.ecs
        .describe_task_definition(reference)
        .await
        .map_err(Error::from_api_before_change)
}

/// The container the command runs in: the one named, else the only essential one, of the
/// definition `body` (`what` names it).
pub fn pick_container(
    what: &str,
    body: &serde_json::Value,
    named: Option<&str>,
) -> Result<String, Error> {
    let names: Vec<String> = body["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    if let Some(name) = named {
        if names.iter().any(|n| n == name) {
            return Ok(name.to_string());
        }
        return Err(Error::usage(
            format!("{what} has no container {name:?}"),
            format!("pass --container with one of: {}", names.join(", ")),
        ));
    }
    match oneoff::essential_containers(body).as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::usage(
            format!("{what} has several containers; which one runs the command?"),
            format!("pass --container with one of: {}", names.join(", ")),
        )),
    }
}

/// The command for `container`, and each `--env` for its container (which must exist).
fn container_overrides(
    revision: &Revision,
    container: &str,
    command: Vec<String>,
    env: &[EnvOverride],
) -> Result<Vec<ContainerOverride>, Error> {
    let mut out = vec![ContainerOverride {
        name: container.to_string(),
        command: Some(command),
        environment: Vec::new(),
    }];
    for e in env {
        let name = match &e.container {
            Some(c) => pick_container(&revision.name(), &revision.body, Some(c))?,
            None => container.to_string(),
        };
        let at = match out.iter().position(|o| o.name == name) {
            Some(i) => i,
            None => {
                out.push(ContainerOverride {
                    name,
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        out[at].environment.push((e.name.clone(), e.value.clone()));
    }
    Ok(out)
}

/// Where the task runs: as the service's tasks do, or on the cluster's instances.
pub(super) fn placement(
    s: &Settings,
    service: Option<&Service>,
    started_by: &str,
) -> RunTaskRequest {
    let started_by = started_by.to_string();
    let Some(svc) = service else {
        return RunTaskRequest {
            cluster: s.cluster.clone(),
            started_by,
            launch_type: Some("EC2".into()),
            ..Default::default()
        };
    };
    let p = &svc.placement;
    RunTaskRequest {
        cluster: s.cluster.clone(),
        started_by,
        // ECS takes a launch type or a capacity provider strategy, never both.
        launch_type: if p.capacity_provider_strategy.is_empty() {
            svc.launch_type.clone()
        } else {
            None
        },
        capacity_provider_strategy: p.capacity_provider_strategy.clone(),
        network: p.network.clone(),
        platform_version: p.platform_version.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(containers: serde_json::Value) -> Revision {
        Revision {
            arn: "arn:aws:ecs:eu-west-1:1:task-definition/app:3".into(),
            family: "app".into(),
            revision: 3,
            body: serde_json::json!({"family": "app", "containerDefinitions": containers}),
            tags: Default::default(),
        }
    }

    #[test]
    fn the_command_runs_in_the_named_container_or_the_only_essential_one() {
        let rev = revision(serde_json::json!([
            {"name": "app"}, {"name": "metrics", "essential": false}
        ]));
        let pick = |named| pick_container(&rev.name(), &rev.body, named);
        assert_eq!(pick(None).unwrap(), "app");
        assert_eq!(pick(Some("metrics")).unwrap(), "metrics");
        let err = pick(Some("web")).unwrap_err();
        assert_eq!(err.to_string(), "app:3 has no container \"web\"");
        assert_eq!(err.hint(), "pass --container with one of: app, metrics");
        let two = revision(serde_json::json!([{"name": "a"}, {"name": "b"}]));
        assert!(pick_container(&two.name(), &two.body, None).is_err());
    }

    #[test]
    fn env_overrides_go_to_their_container_beside_the_command() {
        let rev = revision(serde_json::json!([{"name": "app"}, {"name": "proxy"}]));
        let env = [
            parse_env("A=1").unwrap(),
            parse_env("proxy:B=2").unwrap(),
            parse_env("C=3").unwrap(),
        ];
        let got = container_overrides(&rev, "app", vec!["x".into()], &env).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].command.as_deref(), Some(&["x".to_string()][..]));
        assert_eq!(
            got[0].environment,
            vec![("A".into(), "1".into()), ("C".into(), "3".into())]
        );
        assert_eq!(got[1].name, "proxy");
        assert_eq!(got[1].command, None);
        let unknown = [parse_env("nope:B=2").unwrap()];
        assert!(container_overrides(&rev, "app", vec!["x".into()], &unknown).is_err());
    }
}
