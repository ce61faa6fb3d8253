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

/// The worst of `values` by `key`, with the scenario it came from.
fn worst<'a, T>(
    values: impl Iterator<Item = (&'a str, T)>,
    key: impl Fn(&T) -> f64,
) -> Option<(&'a str, T)> {
    values.max_by(|a, b| key(&a.1).total_cmp(&key(&b.1)))
}

/// The engine as shipped: the default poll policy, and for many services the shared limiter
/// that `deploy --all` uses.
pub fn judge(
    results: &[ScenarioResult],
    many: &[ManyResult],
    sweep: &[Sweep],
    flat: &[FlatPoint],
) -> Vec<Verdict> {
    let results: Vec<ScenarioResult> = results
        .iter()
        .filter(|r| r.policy == Policy::Default)
        .cloned()
        .collect();
    let results = results.as_slice();
    let many = many
        .iter()
        .filter(|m| m.policy == Policy::Default && m.limiter == Limiting::Shared);
    let flat: Vec<FlatPoint> = flat
        .iter()
        .filter(|p| p.policy == Policy::Default)
        .cloned()
        .collect();
    let flat = flat.as_slice();
    let mut out = Vec::new();
    if let Some(w) = worst(sweep.iter().map(|w| (w.topology.as_str(), w.p99_s)), |p| *p) {
        out.push(verdict(
            format!(
                "detection: p99 <= {TARGET_DETECTION_S} s over the crash sweep, every topology"
            ),
            format!("worst p99 {:.2} s ({})", w.1, w.0),
            w.1 <= TARGET_DETECTION_S,
        ));
    }
    let failing = results.iter().filter_map(|r| {
        r.detection
            .as_ref()
            .map(|d| (r.scenario.as_str(), d.latency_s))
    });
    let others: Vec<_> = failing
        .clone()
        .filter(|(name, _)| {
            !name.starts_with("standalone-") || !name.ends_with("fails-health-check")
        })
        .collect();
    if let Some(w) = worst(others.into_iter(), |l| *l) {
        out.push(verdict(
            format!("detection: <= {TARGET_DETECTION_S} s in every failing scenario"),
            format!("worst {:.2} s ({})", w.1, w.0),
            w.1 <= TARGET_DETECTION_S,
        ));
    }
    for r in results
        .iter()
        .filter(|r| r.meets.contains_key("detection<=interval"))
    {
        let latency = r.detection.as_ref().map_or(f64::NAN, |d| d.latency_s);
        out.push(verdict(
            "detection: classic ELB failed checks within one check interval",
            format!(
                "{latency:.2} s after the deciding check, interval {:.0} s ({})",
                r.settings.interval_s, r.scenario
            ),
            r.meets["detection<=interval"],
        ));
    }
    let conclusions = results
        .iter()
        .filter_map(|r| r.conclusion_s.map(|c| (r.scenario.as_str(), c)));
    if let Some(w) = worst(conclusions, |c| *c) {
        out.push(verdict(
            format!(
                "conclusion: the run ends <= {TARGET_CONCLUSION_S} s after the outcome settled"
            ),
            format!("worst {:.2} s ({})", w.1, w.0),
            w.1 <= TARGET_CONCLUSION_S,
        ));
    }
    let ratios = results
        .iter()
        .filter_map(|r| r.overhead_ratio.map(|o| (r.scenario.as_str(), o)));
    if let Some(w) = worst(ratios, |o| *o) {
        out.push(verdict(
            format!(
                "overhead: <= {:.0} % of the deploy",
                TARGET_OVERHEAD_RATIO * 100.0
            ),
            format!("worst {:.1} % ({})", w.1 * 100.0, w.0),
            w.1 <= TARGET_OVERHEAD_RATIO,
        ));
    }
    let phases = results
        .iter()
        .filter_map(|r| r.max_phase_overhead_s.map(|o| (r.scenario.as_str(), o)));
    if let Some(w) = worst(phases, |o| *o) {
        out.push(verdict(
            format!("overhead: <= {TARGET_PHASE_OVERHEAD_S} s per phase"),
            format!("worst {:.2} s ({})", w.1, w.0),
            w.1 <= TARGET_PHASE_OVERHEAD_S,
        ));
    }
    flat_cost(flat, &mut out);
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
    let predictions = results.iter().filter_map(|r| {
        r.prediction
            .as_ref()
            .map(|p| (r.scenario.as_str(), p.second_error))
    });
    if let Some(w) = worst(predictions, |e| *e) {
        out.push(verdict(
            format!(
                "prediction: predicted vs actual within {:.0} % once a deploy is recorded",
                TARGET_PREDICTION_ERROR * 100.0
            ),
            format!("worst {:.1} % ({})", w.1 * 100.0, w.0),
            w.1 <= TARGET_PREDICTION_ERROR,
        ));
    }
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
