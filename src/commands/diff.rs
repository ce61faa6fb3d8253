//! `ecs-roll diff --image [CONTAINER=]IMAGE ...` (or `--revision REV`, or a file as it is):
//! the task definition change and the plan a deploy would
//! carry out, on stdout. Changes nothing.

use std::sync::Arc;

use crate::cli::{DiffArgs, Global, OutputFormat};
use crate::config::Loaded;
use crate::engine::events::Recorder;
use crate::engine::{Cancel, Event, Options, Timeouts};
use crate::error::Error;
use crate::render::{self, plain::plan_text};
use crate::settings::{self, Settings};

pub async fn run(g: &Global, args: DiffArgs, loaded: Loaded) -> Result<i32, Error> {
    let mut s = Settings::one(g, Some(&args.source), loaded, "diff")?;
    let count = args
        .count
        .as_deref()
        .map(settings::parse_count)
        .transpose()?;
    let release = super::deploy::release_of(&s, &args.changes, &args.source)?;
    super::deploy::mask_early(&s, &release);
    let aws = super::connect(&s).await?;
    super::family::find(&mut s, &aws).await?;
    let (desired, containers) = super::desired(&s, &aws, &release).await?;
    let recorder = Arc::new(Recorder::default());
    let ctx = super::context(
        &s,
        &aws,
        recorder.clone(),
        Timeouts::default(),
        Cancel::default(),
    );
    let opts = Options {
        command: "diff".into(),
        count,
        dry_run: true,
        container: containers
            .into_iter()
            .next()
            .or_else(|| s.container.clone()),
        ..Options::default()
    };
    let outcome = super::run_engine(&s, &aws, ctx, desired, &opts).await?;
    if matches!(s.output, OutputFormat::Json | OutputFormat::JsonLines) {
        return Ok(super::finish(outcome, &s, &aws.calls, recorder.as_ref()));
    }
    let mut any_diff = false;
    for e in recorder.events() {
        match e {
            Event::Diff { .. } => {
                any_diff = true;
                if s.mode == crate::settings::Mode::GithubActions {
                    render::github::mask_diff(&e);
                }
                println!("{}", render::plain::unified_diff(&e));
                if let Event::Diff {
                    from_definition,
                    to_definition,
                    ..
                } = &e
                {
                    let changes = crate::engine::outcome::definition_image_changes(
                        from_definition,
                        to_definition,
                    );
                    print!("{}", render::summary::image_change_lines(&changes));
                }
            }
            Event::Plan(plan) => println!("{}", plan_text(&plan)),
            Event::ServicePlan(plan) => println!("{}", render::plain::service_plan_text(&plan)),
            Event::Warning(w) => eprintln!("warning: {}", render::plain::warning(&w)),
            _ => {}
        }
    }
    if !any_diff {
        println!("no change to the task definition");
    }
    Ok(0)
}
