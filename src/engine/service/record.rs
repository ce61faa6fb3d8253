//! The deployment configuration a service had before ecs-roll changed it for a deploy,
//! recorded as a tag on the service before the change. Whatever ends a run (success, failure,
//! rollback, Ctrl-C, kill -9), the next run and `ecs-roll status` know what to restore.

use crate::platform::{DeploymentConfiguration, Strategy};

/// Tag on the service: its deployment configuration before ecs-roll changed it for a deploy,
/// as `max=200 min=100 strategy=ROLLING` (`-` for unset; tag values allow letters, digits,
/// spaces and `_.:/=+-@`).
pub const TAG_CONFIGURATION: &str = "ecs-roll:deployment-configuration";

/// The members ecs-roll changes, in the tag's form.
pub fn encode(c: &DeploymentConfiguration) -> String {
    let n = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    let strategy = c.strategy.as_ref().map_or("-", |s| s.as_str());
    format!(
        "max={} min={} strategy={strategy}",
        n(c.maximum_percent),
        n(c.minimum_healthy_percent)
    )
}

/// `base` with the members the tag records; None when the tag is not of that form (left by
/// something else: ignored rather than applied).
pub fn decode(tag: &str, base: &DeploymentConfiguration) -> Option<DeploymentConfiguration> {
    let mut c = base.clone();
    let mut seen = 0;
    for part in tag.split_whitespace() {
        let (key, value) = part.split_once('=')?;
        let number = || match value {
            "-" => Some(None),
            v => v.parse::<i64>().ok().map(Some),
        };
        match key {
            "max" => c.maximum_percent = number()?,
            "min" => c.minimum_healthy_percent = number()?,
            "strategy" => c.strategy = (value != "-").then(|| Strategy::parse(value)),
            _ => return None,
        }
        seen += 1;
    }
    (seen == 3).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_configuration_reads_back_as_it_was() {
        let base = DeploymentConfiguration {
            circuit_breaker: Some((true, true)),
            ..DeploymentConfiguration::default()
        };
        let table = [
            (Some(200), Some(100), Some(Strategy::Rolling)),
            (None, None, None),
            (Some(100), Some(50), Some(Strategy::BlueGreen)),
        ];
        for (max, min, strategy) in table {
            let c = DeploymentConfiguration {
                maximum_percent: max,
                minimum_healthy_percent: min,
                strategy,
                ..base.clone()
            };
            let tag = encode(&c);
            assert!(
                tag.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || " _.:/=+-@".contains(ch)),
                "{tag} is a valid tag value"
            );
            assert_eq!(decode(&tag, &base), Some(c), "{tag}");
        }
    }

    #[test]
    fn a_tag_of_another_form_is_ignored() {
        let base = DeploymentConfiguration::default();
        for tag in [
            "",
            "max=200",
            "max=x min=1 strategy=-",
            "max=1 min=1 colour=red",
        ] {
            assert_eq!(decode(tag, &base), None, "{tag:?}");
        }
    }
}
