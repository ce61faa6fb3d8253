//! `ecs-roll history [--limit N]`: the deploys and rollbacks ecs-roll made of the target,
//! newest first, read from AWS (the records on the family's revisions, `engine::run_record`,
//! and for a service ECS's own deployments), so it shows the same from any machine. Also here:
//! writing that record once a deploy or rollback has ended.

use crate::cli::{Global, HistoryArgs, OutputFormat};
use crate::config::Loaded;
use crate::engine::outcome::Outcome;
use crate::engine::refusal::Refusal;
use crate::engine::run_record::{self, EcsDeployment, History};
use crate::engine::wait::with_retry;
use crate::error::Error;
use crate::platform::{Service, short};
use crate::render;
use crate::settings::{Settings, Target};

/// Entries listed when no `--limit` is given.
const DEFAULT_LIMIT: usize = 20;

pub async fn run(g: &Global, args: HistoryArgs, loaded: Loaded) -> Result<i32, Error> {
    let mut s = Settings::one(g, Some(&args.source), loaded, "history")?;
    let limit = parse_limit(args.limit.as_deref())?;
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    let before = Error::from_api_before_change;
    let svc = match &s.target {
        Target::Service { name } => Some(
            with_retry(|| aws.services.describe_service(&s.cluster, name))
                .await
                .map_err(before)?
                .ok_or_else(|| {
                    Error::refused(Refusal::ServiceNotFound {
                        service: name.clone(),
                        cluster: s.cluster.clone(),
                    })
                })?,
        ),
        Target::Standalone { .. } => None,
    };
    let family = match &svc {
        Some(svc) => family_of(&svc.task_definition),
        None => s.family.clone(),
    };
    let arns = with_retry(|| aws.ecs.list_task_definitions(&family))
        .await
        .map_err(before)?;
    let mut revisions = Vec::with_capacity(arns.len());
    for arn in &arns {
        revisions.push(
            with_retry(|| aws.ecs.describe_task_definition(arn))
                .await
                .map_err(before)?,
        );
    }
    let history = History {
        cluster: s.cluster.clone(),
        family,
        service: svc.as_ref().map(|v| v.name.clone()),
        entries: run_record::entries(&revisions, limit),
        ecs_deployments: match &svc {
            Some(svc) => ecs_deployments(&s, &aws, svc).await,
            None => Vec::new(),
        },
    };
    match s.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&history).unwrap_or_default()
        ),
        OutputFormat::JsonLines => {
            render::jsonl::result(serde_json::to_value(&history).unwrap_or_default())
        }
        OutputFormat::Text => print!("{}", render::history::text(&history)),
    }
    Ok(0)
}

/// `arn:…:task-definition/app:3` -> `app`.
fn family_of(task_definition: &str) -> String {
    let name = short(task_definition);
    name.rsplit_once(':').map_or(name, |(f, _)| f).to_string()
}

fn parse_limit(s: Option<&str>) -> Result<usize, Error> {
    let Some(s) = s else {
        return Ok(DEFAULT_LIMIT);
    };
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Error::usage(
            format!("--limit {s:?} is not a positive number"),
            "pass how many entries to list, e.g. --limit 50",
        )),
    }
}

/// The service's deployments, each with DescribeServiceDeployments' status where the
/// endpoint has that operation (moto does not: the status is then left out).
async fn ecs_deployments(s: &Settings, aws: &super::Aws, svc: &Service) -> Vec<EcsDeployment> {
    let mut out = Vec::new();
    for d in &svc.deployments {
        let detailed = aws
            .services
            .service_deployment(&s.cluster, &svc.name, &d.id)
            .await
            .ok()
            .flatten();
        out.push(EcsDeployment {
            id: d.id.clone(),
            status: d.status.to_string(),
            revision: short(&d.task_definition).to_string(),
            rollout_state: d.rollout_state.as_ref().map(ToString::to_string),
            created_at: d.created_at.clone(),
            deployment_status: detailed.map(|x| x.status.to_string()),
        });
    }
    out
}

/// The commit a run in GitHub Actions is made from.
fn commit() -> Option<String> {
    std::env::var("GITHUB_SHA").ok().filter(|v| !v.is_empty())
}

/// Once a deploy or rollback has ended: how, on the revision it rolled out (a warning when
/// that cannot be written; the run's result stands).
pub async fn record_run(s: &Settings, aws: &super::Aws, outcome: &Outcome) {
    let strategy = match (&outcome.plan, &s.target) {
        (Some(plan), _) => run_record::strategy_word(&plan.strategy).to_string(),
        (None, Target::Service { name }) => aws
            .services
            .describe_service(&s.cluster, name)
            .await
            .ok()
            .flatten()
            .map(|svc| {
                svc.deployment_configuration
                    .strategy
                    .map_or("rolling".to_string(), |st| st.as_str().to_lowercase())
            })
            .unwrap_or_else(|| "-".into()),
        (None, Target::Standalone { .. }) => "-".into(),
    };
    let commit = commit();
    for e in run_record::record(aws.ecs.as_ref(), outcome, &strategy, commit.as_deref()).await {
        eprintln!("{}", render::history::unrecorded(&e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_twenty_unless_a_positive_number_is_given() {
        assert_eq!(parse_limit(None).unwrap(), 20);
        assert_eq!(parse_limit(Some("5")).unwrap(), 5);
        for bad in ["0", "-1", "many"] {
            assert_eq!(parse_limit(Some(bad)).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert_eq!(
            family_of("arn:aws:ecs:r:1:task-definition/web-app:12"),
            "web-app"
        );
    }
}
