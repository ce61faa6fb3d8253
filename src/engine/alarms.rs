//! The CloudWatch alarms that gate a deploy (`--alarm`): each must exist and must not be in
//! ALARM before any change; once ECS failed a deployment, the ones in ALARM are named.

use super::context::Ctx;
use super::refusal::Refusal;
use super::wait::with_retry;
use crate::error::Error;
use crate::platform::{Alarm, AlarmState};

/// Why the alarms found do not let the deploy start, if they do not: a name CloudWatch does
/// not know, else the ones in ALARM.
pub fn refusal(wanted: &[String], found: &[Alarm]) -> Option<Refusal> {
    let missing: Vec<String> = wanted
        .iter()
        .filter(|w| !found.iter().any(|a| &a.name == *w))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Some(Refusal::AlarmsNotFound { alarms: missing });
    }
    let firing = in_alarm(
        wanted
            .iter()
            .filter_map(|w| found.iter().find(|a| &a.name == w))
            .cloned(),
    );
    (!firing.is_empty()).then_some(Refusal::AlarmsFiring { alarms: firing })
}

/// Those of `alarms` in ALARM, in their order.
pub fn in_alarm(alarms: impl IntoIterator<Item = Alarm>) -> Vec<Alarm> {
    alarms
        .into_iter()
        .filter(|a| a.state == AlarmState::Alarm)
        .collect()
}

/// The preflight check: reads the alarms (nothing when none are named) and refuses as
/// `refusal` says.
pub async fn check(ctx: &Ctx, wanted: &[String]) -> Result<(), Error> {
    if wanted.is_empty() {
        return Ok(());
    }
    let found = with_retry(|| ctx.alarms.describe_alarms(wanted))
        .await
        .map_err(Error::from_api_before_change)?;
    match refusal(wanted, &found) {
        Some(r) => Err(Error::refused(r)),
        None => Ok(()),
    }
}

/// Those of `wanted` in ALARM now; empty when CloudWatch cannot say (the failure is told
/// without the names then).
pub async fn firing(ctx: &Ctx, wanted: &[String]) -> Vec<String> {
    if wanted.is_empty() {
        return Vec::new();
    }
    match with_retry(|| ctx.alarms.describe_alarms(wanted)).await {
        Ok(found) => in_alarm(found).into_iter().map(|a| a.name).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: AlarmState) -> Alarm {
        Alarm {
            name: name.into(),
            state,
            reason: None,
        }
    }

    #[test]
    fn alarms_refuse_a_deploy_when_one_is_missing_or_already_in_alarm() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = alarm("5xx", AlarmState::Ok);
        let no_data = alarm("p99", AlarmState::InsufficientData);
        let firing = alarm("p99", AlarmState::Alarm);
        let table: Vec<(Vec<String>, Vec<Alarm>, Option<Refusal>)> = vec![
            (names(&["5xx"]), vec![ok.clone()], None),
            // INSUFFICIENT_DATA is not ALARM: ECS watches it and acts once it fires.
            (names(&["5xx", "p99"]), vec![ok.clone(), no_data], None),
            (
                names(&["5xx", "gone"]),
                vec![ok.clone()],
                Some(Refusal::AlarmsNotFound {
                    alarms: names(&["gone"]),
                }),
            ),
            (
                names(&["5xx", "p99"]),
                vec![firing.clone(), ok.clone()],
                Some(Refusal::AlarmsFiring {
                    alarms: vec![firing.clone()],
                }),
            ),
            // A missing one is told first: the names may be wrong altogether.
            (
                names(&["p99", "gone"]),
                vec![firing],
                Some(Refusal::AlarmsNotFound {
                    alarms: names(&["gone"]),
                }),
            ),
        ];
        for (wanted, found, want) in table {
            assert_eq!(refusal(&wanted, &found), want, "{wanted:?}");
        }
    }
}
