//! The targets of the performance issue, each with its measured value and a mark: the last
//! thing `bench/run.sh` prints, and `targets_met` in `bench/results.json`.

use serde::Serialize;

use crate::flat::FlatPoint;
use crate::{
    Limiting, ManyResult, Policy, ScenarioResult, Sweep, TARGET_CONCLUSION_S, TARGET_DETECTION_S,
    TARGET_FLAT_RATIO, TARGET_MANY_RATIO, TARGET_OVERHEAD_RATIO, TARGET_PHASE_OVERHEAD_S,
    TARGET_PREDICTION_ERROR,
};

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

fn verdict(target: impl Into<String>, measured: String, met: bool) -> Verdict {
    Verdict {
        target: target.into(),
        measured,
        met,
    }
}

/// The largest of `values` (scenario, value) against `limit`, measured as "worst
/// {show(value)} ({scenario})"; none without values.
fn worst_within<'a>(
    target: String,
    values: impl Iterator<Item = (&'a str, f64)>,
    limit: f64,
    show: impl Fn(f64) -> String,
) -> Option<Verdict> {
    let (scenario, value) = values.max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(verdict(
        target,
        format!("worst {} ({scenario})", show(value)),
        value <= limit,
    ))
}

fn latency(r: &ScenarioResult) -> Option<f64> {
    r.detection.as_ref().map(|d| d.latency_s)
}

/// The classic ELB's verdict on failed checks, which has a target of its own.
fn classic_checks(r: &ScenarioResult) -> bool {
    r.meets.contains_key("detection<=interval")
}

/// The engine as shipped: the default poll policy, and for many services the shared limiter
/// that `deploy --all` uses.
pub fn judge(
    results: &[ScenarioResult],
    many: &[ManyResult],
    sweep: &[Sweep],
    flat: &[FlatPoint],
) -> Vec<Verdict> {
    let results: Vec<&ScenarioResult> = results
        .iter()
        .filter(|r| r.policy == Policy::Default)
        .collect();
    let many = many
        .iter()
        .filter(|m| m.policy == Policy::Default && m.limiter == Limiting::Shared);
    let flat: Vec<FlatPoint> = flat
        .iter()
        .filter(|p| p.policy == Policy::Default)
        .cloned()
        .collect();
    let of = |field: fn(&ScenarioResult) -> Option<f64>| {
        results
            .iter()
            .filter_map(move |r| field(r).map(|v| (r.scenario.as_str(), v)))
    };
    let seconds = |v: f64| format!("{v:.2} s");
    let percent = |v: f64| format!("{:.1} %", v * 100.0);
    let mut out: Vec<Verdict> = [
        worst_within(
            format!(
                "detection: p99 <= {TARGET_DETECTION_S} s over the crash sweep, every topology"
            ),
            sweep.iter().map(|w| (w.topology.as_str(), w.p99_s)),
            TARGET_DETECTION_S,
            |v| format!("p99 {v:.2} s"),
        ),
        worst_within(
            format!("detection: <= {TARGET_DETECTION_S} s in every failing scenario"),
            of(|r| latency(r).filter(|_| !classic_checks(r))),
            TARGET_DETECTION_S,
            seconds,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    for r in results.iter().filter(|r| classic_checks(r)) {
        out.push(verdict(
            "detection: classic ELB failed checks within one check interval",
            format!(
                "{:.2} s after the deciding check, interval {:.0} s ({})",
                latency(r).unwrap_or(f64::NAN),
                r.settings.interval_s,
                r.scenario
            ),
            r.meets["detection<=interval"],
        ));
    }
    out.extend(
        [
            worst_within(
                format!(
                    "conclusion: the run ends <= {TARGET_CONCLUSION_S} s after the outcome settled"
                ),
                of(|r| r.conclusion_s),
                TARGET_CONCLUSION_S,
                seconds,
            ),
            worst_within(
                format!(
                    "overhead: <= {:.0} % of the deploy",
                    TARGET_OVERHEAD_RATIO * 100.0
                ),
                of(|r| r.overhead_ratio),
                TARGET_OVERHEAD_RATIO,
                percent,
            ),
            worst_within(
                format!("overhead: <= {TARGET_PHASE_OVERHEAD_S} s per phase"),
                of(|r| r.max_phase_overhead_s),
                TARGET_PHASE_OVERHEAD_S,
                seconds,
            ),
        ]
        .into_iter()
        .flatten(),
    );
    flat_cost(&flat, &mut out);
    for m in many {
        out.push(verdict(
            format!(
                "{} services at once within {TARGET_MANY_RATIO}x one's deploy time",
                m.services
            ),
            format!(
                "makespan {:.1} s vs {:.1} s = {:.2}x",
                m.makespan_s, m.solo_deploy_s, m.ratio_to_solo
            ),
            m.ratio_to_solo <= TARGET_MANY_RATIO && m.all_succeeded,
        ));
        let peak_ok = m
            .meets
            .get("ecs_peak_1s<=burst+rate")
            .copied()
            .unwrap_or(false)
            && m.meets
                .get("ecs_10s<=rate+burst/10")
                .copied()
                .unwrap_or(false);
        out.push(verdict(
            format!(
                "peak rate within ECS's read bucket ({}/s, burst {}), {} services, limiter {:?}",
                m.limit_per_second, m.limit_burst, m.services, m.limiter
            ),
            format!(
                "{} calls in 1 s, {:.1}/s over 10 s",
                m.ecs_peak_calls_1s, m.ecs_peak_calls_per_s_10s
            ),
            peak_ok,
        ));
    }
    out.extend(worst_within(
        format!(
            "prediction: predicted vs actual within {:.0} % once a deploy is recorded",
            TARGET_PREDICTION_ERROR * 100.0
        ),
        of(|r| r.prediction.as_ref().map(|p| p.second_error)),
        TARGET_PREDICTION_ERROR,
        percent,
    ));
    out
}

fn flat_cost(flat: &[FlatPoint], out: &mut Vec<Verdict>) {
    let Some(one) = flat.iter().find(|p| p.services == 1) else {
        return;
    };
    for p in flat {
        let ratio = p.idle_watch_reads_per_s / one.idle_watch_reads_per_s;
        out.push(verdict(
            format!(
                "cost: idle reads of {} service{} <= {TARGET_FLAT_RATIO}x one's, detection p99 <= {TARGET_DETECTION_S} s",
                p.services,
                if p.services == 1 { "" } else { "s" }
            ),
            format!(
                "{:.2} reads/s vs {:.2} = {ratio:.2}x (+{:.2}/s lock heartbeats); p99 {:.2} s",
                p.idle_watch_reads_per_s,
                one.idle_watch_reads_per_s,
                p.idle_lock_requests_per_s,
                p.p99_s
            ),
            ratio <= TARGET_FLAT_RATIO && p.p99_s <= TARGET_DETECTION_S,
        ));
    }
}

pub fn print(verdicts: &[Verdict]) {
    println!("\ntargets:");
    for v in verdicts {
        println!(
            "  {} {:<78} {}",
            if v.met { "✓" } else { "✗" },
            v.target,
            v.measured
        );
    }
}
