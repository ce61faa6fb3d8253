//! ECS's own traffic-shifting strategies (BLUE_GREEN, LINEAR, CANARY): what they need of
//! the service before any change, the bake and step settings a deploy gives them, and how
//! production traffic will move, step by step, for the plan.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::ServiceCtx;
use super::observe::Gate;
use crate::engine::refusal::Refusal;
use crate::engine::wait::with_retry;
use crate::error::Error;
use crate::platform::{DeploymentConfiguration, Service, Strategy, TrafficStep};

/// ECS takes bake times in whole minutes, up to a day.
const MAX_BAKE_MINUTES: u64 = 1440;

/// ECS's canary defaults: 5% of production traffic, baked 10 minutes.
const CANARY_DEFAULT_TENTHS: u32 = 50;
const CANARY_DEFAULT_BAKE_MINUTES: i64 = 10;

/// `--bake` as ECS's bakeTimeInMinutes: only a strategy that shifts traffic bakes, in whole
/// minutes up to a day (None: not given).
pub(super) fn bake_minutes(bake: Duration, strategy: &Strategy) -> Result<Option<i64>, Error> {
    if bake.is_zero() {
        return Ok(None);
    }
    if !strategy.shifts_traffic() {
        return Err(Error::usage(
            format!(
                "--bake in service mode is ECS's bake time, which the {strategy} strategy does not have"
            ),
            "pass --strategy blue-green, linear or canary with --bake, or drop --bake",
        ));
    }
    minutes("--bake", bake).map(Some)
}

/// A bake in ECS's whole minutes, or a usage error naming `flag`.
fn minutes(flag: &str, bake: Duration) -> Result<i64, Error> {
    let secs = bake.as_secs();
    if !secs.is_multiple_of(60) || bake.subsec_nanos() != 0 || secs > MAX_BAKE_MINUTES * 60 {
        return Err(Error::usage(
            format!(
                "{flag} {} is not a whole number of minutes up to 24h",
                humantime::format_duration(bake)
            ),
            format!("ECS bakes in whole minutes: pass {flag} 5m (at most {MAX_BAKE_MINUTES}m)"),
        ));
    }
    Ok((secs / 60) as i64)
}

/// `--linear-step`/`--step-bake` and `--canary-percent`/`--canary-bake`, as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficFlags {
    /// Tenths of a percent.
    pub linear_step: Option<u32>,
    pub step_bake: Option<Duration>,
    /// Tenths of a percent.
    pub canary_percent: Option<u32>,
    pub canary_bake: Option<Duration>,
}

/// The linear and canary settings this deploy sets: only with the strategy they belong to,
/// and only what differs from the service's own (None: nothing to set).
pub(super) fn traffic_steps(
    flags: &TrafficFlags,
    strategy: &Strategy,
    original: &DeploymentConfiguration,
) -> Result<(Option<TrafficStep>, Option<TrafficStep>), Error> {
    let linear_given = flags.linear_step.is_some() || flags.step_bake.is_some();
    let canary_given = flags.canary_percent.is_some() || flags.canary_bake.is_some();
    let wrong = |given: &str, belongs: &str| {
        Err(Error::usage(
            format!("{given} set the {belongs} strategy's steps, and this deploy uses {strategy}"),
            format!(
                "pass --strategy {} with them, or drop them",
                belongs.to_lowercase()
            ),
        ))
    };
    if linear_given && *strategy != Strategy::Linear {
        return wrong("--linear-step and --step-bake", "LINEAR");
    }
    if canary_given && *strategy != Strategy::Canary {
        return wrong("--canary-percent and --canary-bake", "CANARY");
    }
    let step = |percent: Option<u32>, bake: Option<Duration>, flag: &str| {
        bake.map(|b| minutes(flag, b))
            .transpose()
            .map(|bake_minutes| TrafficStep {
                percent_tenths: percent,
                bake_minutes,
            })
    };
    let linear = step(flags.linear_step, flags.step_bake, "--step-bake")?;
    let canary = step(flags.canary_percent, flags.canary_bake, "--canary-bake")?;
    Ok((
        differing(linear, original.linear),
        differing(canary, original.canary),
    ))
}

/// `wanted` when it sets a member to something other than the service has.
fn differing(wanted: TrafficStep, own: Option<TrafficStep>) -> Option<TrafficStep> {
    let own = own.unwrap_or_default();
    let differs = wanted
        .percent_tenths
        .is_some_and(|p| own.percent_tenths != Some(p))
        || wanted
            .bake_minutes
            .is_some_and(|m| own.bake_minutes != Some(m));
    differs.then_some(wanted)
}

/// One move of production traffic to the new revision, and how long ECS waits after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// Tenths of a percent of production traffic on the new revision after the move.
    pub percent_tenths: u32,
    /// None: ECS's default, which ecs-roll does not know.
    #[serde(with = "crate::engine::failure::opt_secs")]
    pub bake: Option<Duration>,
}

/// How production traffic moves in a deploy with `strategy` and configuration `c`, for the
/// plan: each shift with its bake, the last (to 100%) with the deployment's bake time, when
/// both revisions still run. Empty for ROLLING. A linear step ECS would default is shown as
/// one move, its size unknown.
pub fn shifts(strategy: &Strategy, c: &DeploymentConfiguration) -> Vec<Shift> {
    let mins = |m: Option<i64>| m.map(|m| Duration::from_secs(60 * m.max(0) as u64));
    let all = Shift {
        percent_tenths: 1000,
        bake: mins(c.bake_time_minutes),
    };
    match strategy {
        Strategy::Linear => {
            let step = c.linear.unwrap_or_default();
            let Some(p) = step.percent_tenths.filter(|p| *p > 0) else {
                return vec![all];
            };
            let mut out: Vec<Shift> = (1..)
                .map(|k| k * p)
                .take_while(|share| *share < 1000)
                .map(|share| Shift {
                    percent_tenths: share,
                    bake: mins(step.bake_minutes),
                })
                .collect();
            out.push(all);
            out
        }
        Strategy::Canary => {
            let k = c.canary.unwrap_or_default();
            let canary = Shift {
                percent_tenths: k.percent_tenths.unwrap_or(CANARY_DEFAULT_TENTHS),
                bake: mins(Some(k.bake_minutes.unwrap_or(CANARY_DEFAULT_BAKE_MINUTES))),
            };
            vec![canary, all]
        }
        Strategy::BlueGreen => vec![all],
        _ => Vec::new(),
    }
}

/// Each target group's advancedConfiguration names an alternate target group on the same
/// load balancer, the production listener rule and the role: what ECS needs to shift
/// traffic (read before any change; a refusal names what is missing).
pub(super) async fn check_traffic_shift(
    s: &ServiceCtx,
    svc: &Service,
    strategy: &Strategy,
    gates: &[Gate],
) -> Result<(), Error> {
    let groups: BTreeMap<String, crate::platform::TargetGroup> = gates
        .iter()
        .filter_map(|g| match g {
            Gate::TargetGroup { group, .. } => Some((group.arn.clone(), group.clone())),
            Gate::Classic { .. } => None,
        })
        .collect();
    let mut alternates = BTreeMap::new();
    for lb in &svc.load_balancers {
        let Some(alt) = lb
            .advanced
            .as_ref()
            .and_then(|a| a.alternate_target_group_arn.clone())
            .filter(|a| !a.is_empty() && !alternates.contains_key(a))
        else {
            continue;
        };
        let found = with_retry(|| s.target_groups.describe_target_group(&alt))
            .await
            .map_err(Error::from_api_before_change)?;
        alternates.insert(alt, found);
    }
    let problems = super::preflight::shift_problems(&svc.load_balancers, &groups, &alternates);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::refused(
        Refusal::StrategyNeedsAdvancedConfiguration {
            strategy: strategy.clone(),
            service: s.service.clone(),
            problems,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bake_is_ecss_bake_time_in_whole_minutes_for_a_strategy_that_shifts_traffic() {
        let m = |n: u64| Duration::from_secs(n * 60);
        assert_eq!(
            bake_minutes(Duration::ZERO, &Strategy::Rolling).ok(),
            Some(None)
        );
        assert_eq!(bake_minutes(m(5), &Strategy::BlueGreen).ok(), Some(Some(5)));
        assert_eq!(
            bake_minutes(m(1440), &Strategy::Canary).ok(),
            Some(Some(1440))
        );
        for (bake, strategy) in [
            (m(5), Strategy::Rolling),
            (Duration::from_secs(90), Strategy::Linear),
            (m(1441), Strategy::BlueGreen),
        ] {
            let err = bake_minutes(bake, &strategy).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bake:?} {strategy}: {err}");
        }
    }

    fn step(percent: Option<u32>, bake: Option<i64>) -> TrafficStep {
        TrafficStep {
            percent_tenths: percent,
            bake_minutes: bake,
        }
    }

    #[test]
    fn each_strategy_moves_production_traffic_as_its_configuration_says() {
        let m = |n: u64| Some(Duration::from_secs(60 * n));
        let s = |p: u32, bake| Shift {
            percent_tenths: p,
            bake,
        };
        let c = |bake, linear, canary| DeploymentConfiguration {
            bake_time_minutes: bake,
            linear,
            canary,
            ..DeploymentConfiguration::default()
        };
        let table = [
            (Strategy::Rolling, c(Some(5), None, None), vec![]),
            (
                Strategy::BlueGreen,
                c(Some(5), None, None),
                vec![s(1000, m(5))],
            ),
            (
                Strategy::BlueGreen,
                c(None, None, None),
                vec![s(1000, None)],
            ),
            (
                Strategy::Linear,
                c(Some(0), Some(step(Some(333), Some(2))), None),
                vec![s(333, m(2)), s(666, m(2)), s(999, m(2)), s(1000, m(0))],
            ),
            (
                Strategy::Linear,
                c(None, Some(step(Some(1000), Some(2))), None),
                vec![s(1000, None)],
            ),
            // ECS's own step size, unknown here: one move.
            (Strategy::Linear, c(None, None, None), vec![s(1000, None)]),
            // ECS's canary defaults: 5%, 10 minutes.
            (
                Strategy::Canary,
                c(Some(1), None, None),
                vec![s(50, m(10)), s(1000, m(1))],
            ),
            (
                Strategy::Canary,
                c(None, None, Some(step(Some(1), Some(30)))),
                vec![s(1, m(30)), s(1000, None)],
            ),
        ];
        for (strategy, config, want) in table {
            assert_eq!(shifts(&strategy, &config), want, "{strategy} {config:?}");
        }
    }

    #[test]
    fn steps_are_set_only_for_their_strategy_and_only_where_they_differ() {
        let flags = TrafficFlags {
            linear_step: Some(250),
            step_bake: Some(Duration::from_secs(180)),
            ..TrafficFlags::default()
        };
        let none = DeploymentConfiguration::default();
        assert_eq!(
            traffic_steps(&flags, &Strategy::Linear, &none).ok(),
            Some((Some(step(Some(250), Some(3))), None))
        );
        let same = DeploymentConfiguration {
            linear: Some(step(Some(250), Some(3))),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(
            traffic_steps(&flags, &Strategy::Linear, &same).ok(),
            Some((None, None))
        );
        let err = traffic_steps(&flags, &Strategy::BlueGreen, &none).unwrap_err();
        assert!(err.to_string().contains("--linear-step"), "{err}");
        let canary = TrafficFlags {
            canary_bake: Some(Duration::from_secs(90)),
            ..TrafficFlags::default()
        };
        let err = traffic_steps(&canary, &Strategy::Canary, &none).unwrap_err();
        assert!(err.to_string().contains("--canary-bake 1m 30s"), "{err}");
    }
}
