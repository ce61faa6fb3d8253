//! Several targets in one command (repeated `--service`, or `[[app]]`s with `--app`/`--all`):
//! deployed concurrently under one client-side rate limit per region and account once every target's preflight
//! passed (`engine::gate`: one refused target and none changes anything), each target's progress lines
//! prefixed with its name, one summary line per target, and an aggregated exit code.

use std::future::Future;
use std::sync::Arc;

use crate::batch::{ClusterShelves, ServiceBoard, Shared};
use crate::cli::OutputFormat;
use crate::engine::gate::Gate;
use crate::engine::outcome::{Outcome, RunResult};
use crate::engine::timeline::Recording;
use crate::engine::{Cancel, Event, Observer};
use crate::error::{Error, exit};
use crate::ratelimit::Limiters;
use crate::render;
use crate::render::targets::TargetEnd;
use crate::settings::{Mode, Settings};

/// AWS requests per second for all targets in one region and account together, and the burst: the strictest documented
/// ECS bucket (cluster read actions: 50 tokens, 20 a second), applied to every request of
/// every API together although they draw on several buckets (service, task, cluster reads;
/// ELB and ELBv2 throttle on their own), which leaves most of each to the rest of the account.
/// At half that, 50 services took 1.2x one service's time (bench/README.md).
pub const RATE_PER_SECOND: f64 = 20.0;
pub const BURST: u32 = 50;

/// Runs `one` for every target at once and prints a line per target.
pub async fn run<F, Fut>(targets: Vec<(String, Settings)>, one: F) -> i32
where
    F: Fn(Settings, Arc<dyn Observer>, Cancel, Option<Arc<Shared>>) -> Fut,
    Fut: Future<Output = Result<Outcome, Error>> + Send + 'static,
{
    let gate = Gate::new(targets.iter().map(|(name, _)| name.clone()).collect());
    let sharing = Arc::new(Shared {
        limits: Limiters::new(RATE_PER_SECOND, BURST),
        // One DescribeServices per 10 services a poll at most, for every watch together.
        board: ServiceBoard::new(
            targets
                .first()
                .map_or(crate::engine::wait::Poll::default().min, |(_, s)| {
                    s.poll.min
                }),
        ),
        clusters: ClusterShelves::default(),
        gate: None,
    });
    let output = targets
        .first()
        .map_or(OutputFormat::Text, |(_, s)| s.output);
    // Bars for many targets at once would fight over the terminal: plain lines.
    let github = targets
        .first()
        .is_some_and(|(_, s)| s.mode == Mode::GithubActions);
    // Each target's events are recorded with their time: its `timeline` in JSON.
    let recordings: Vec<Arc<Recording>> = targets
        .iter()
        .map(|(name, _)| {
            let plain: Arc<dyn Observer> = Arc::new(render::plain::Plain::for_target(github, name));
            Recording::new(match output {
                OutputFormat::JsonLines => Arc::new(render::jsonl::Both(
                    plain,
                    Arc::new(render::jsonl::JsonLines::new(Some(name.clone()))),
                )) as _,
                _ => plain,
            })
        })
        .collect();
    let observers: Vec<Arc<dyn Observer>> = recordings
        .iter()
        .map(|r| r.clone() as Arc<dyn Observer>)
        .collect();
    // What concerns every target (an interrupt) is said by each, under its own name.
    let shared: Arc<dyn Observer> = Arc::new(Every(observers.clone()));
    let cancel = Cancel::default();
    super::watch_signals(cancel.clone(), shared.clone());
    // Each target's deploy is a task of its own on the runtime: the engine's futures are Send.
    let mut set = tokio::task::JoinSet::new();
    for (i, ((name, s), observer)) in targets.into_iter().zip(observers).enumerate() {
        let ticket = gate.ticket(i);
        let mine = Arc::new(Shared {
            gate: Some(ticket.clone()),
            ..(*sharing).clone()
        });
        let fut = one(s, observer, cancel.clone(), Some(mine));
        set.spawn(async move {
            let r = fut.await;
            // A target that ended before the gate (refused, bad input, a dry run) settles
            // its place, so the others do not wait for it.
            ticket.ended(r.is_ok());
            (i, name, r)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(x) => results.push(x),
            Err(e) => results.push((
                usize::MAX,
                "?".into(),
                Err(Error::failed(
                    format!("a deploy task failed: {e}"),
                    "report this as a bug",
                )),
            )),
        }
    }
    shared.event(&Event::Finished);
    results.sort_by_key(|(i, _, _)| *i);
    for (i, _, r) in &mut results {
        if let (Ok(o), Some(rec)) = (r, recordings.get(*i)) {
            o.timeline = rec.timeline();
        }
    }
    let ends: Vec<TargetEnd> = results.into_iter().map(|(_, n, r)| (n, r)).collect();
    let codes: Vec<i32> = ends
        .iter()
        .map(|(_, r)| r.as_ref().map_or_else(Error::exit_code, Outcome::exit_code))
        .collect();
    let code = aggregate(&codes);
    report(&ends, code, output, github);
    code
}

/// One line per target (text) or one document (JSON) on stdout; in GitHub Actions the step
/// outputs and one job summary for all targets.
fn report(ends: &[TargetEnd], code: i32, output: OutputFormat, github: bool) {
    match output {
        OutputFormat::Json => println!("{}", render::targets::json(ends, code)),
        OutputFormat::JsonLines => render::jsonl::result(render::targets::json_value(ends, code)),
        OutputFormat::Text => {
            for (name, r) in ends {
                let line = match r {
                    Ok(o) => line(o),
                    Err(e) => format!("error: {e} ({})", e.hint()),
                };
                println!("{name}: {line}");
            }
        }
    }
    if github {
        render::github::publish_targets(ends, code);
    }
}

/// Tells every target's observer.
struct Every(Vec<Arc<dyn Observer>>);

impl Observer for Every {
    fn event(&self, event: &Event) {
        for o in &self.0 {
            o.event(event);
        }
    }
}

fn line(o: &Outcome) -> String {
    let target = o
        .target
        .as_ref()
        .map_or("?".to_string(), |t| t.name.clone());
    let took = render::human(o.duration);
    match o.result {
        RunResult::Succeeded => format!("{} succeeded: {target} ({took})", o.command),
        RunResult::Planned => format!("{} planned: {target}", o.command),
        RunResult::RolledBack => {
            format!("{} FAILED, rolled back: {} ({took})", o.command, failure(o))
        }
        RunResult::Failed => format!("{} FAILED: {} ({took})", o.command, failure(o)),
        RunResult::Interrupted => format!("{} interrupted ({took})", o.command),
    }
}

/// One code for many: the shared one when all agree; otherwise 1 (something needs a look,
/// and "nothing changed" or "rolled back" would not be true of all of them).
pub fn aggregate(codes: &[i32]) -> i32 {
    match codes.first() {
        Some(first) if codes.iter().all(|c| c == first) => *first,
        Some(_) => exit::FAILURE,
        None => exit::USAGE,
    }
}

fn failure(o: &Outcome) -> String {
    o.failure
        .as_ref()
        .map(render::failure::report)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::engine::events::Recorder;
    use crate::engine::{Event, Observer};

    #[test]
    fn an_interrupt_is_told_to_every_target() {
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let every = super::Every(vec![a.clone(), b.clone()]);
        every.event(&Event::Interrupting);
        assert_eq!(a.events(), [Event::Interrupting]);
        assert_eq!(b.events(), [Event::Interrupting]);
    }

    #[test]
    fn aggregate_table() {
        use super::aggregate;
        assert_eq!(aggregate(&[0, 0, 0]), 0);
        assert_eq!(aggregate(&[3, 3]), 3);
        assert_eq!(aggregate(&[0, 3]), 1);
        assert_eq!(aggregate(&[0, 2]), 1);
        assert_eq!(aggregate(&[]), 2);
    }
}
