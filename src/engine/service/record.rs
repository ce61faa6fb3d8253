//! The deployment configuration a service had before ecs-roll changed it for a deploy,
//! recorded as a tag on the service before the change. Whatever ends a run (success, failure,
//! rollback, Ctrl-C, kill -9), the next run and `ecs-roll status` know what to restore.

use crate::platform::{DeploymentConfiguration, Strategy, TrafficStep};

/// Tag on the service: its deployment configuration before ecs-roll changed it for a deploy,
/// as `max=200 min=100 strategy=ROLLING alarms=11:web-5xx+web-p99 bake=5 linear=250:3
/// canary=-` (`-` for unset; the
/// alarms as enable and rollback flags, then the names joined by `+`, each character a tag
/// value does not allow written `@` and its UTF-8 bytes in hex; tag values allow letters,
/// digits, spaces and `_.:/=+-@`; `bake` in minutes; a linear or canary step as tenths of a
/// percent and minutes). A tag without the later members (an older ecs-roll's) leaves those
/// as they are.
pub const TAG_CONFIGURATION: &str = "ecs-roll:deployment-configuration";

/// The members ecs-roll changes, in the tag's form.
pub fn encode(c: &DeploymentConfiguration) -> String {
    let n = |v: Option<i64>| v.map_or("-".to_string(), |x| x.to_string());
    let strategy = c.strategy.as_ref().map_or("-", |s| s.as_str());
    format!(
        "max={} min={} strategy={strategy} alarms={} bake={} linear={} canary={}",
        n(c.maximum_percent),
        n(c.minimum_healthy_percent),
        encode_alarms(c.alarms.as_ref()),
        n(c.bake_time_minutes),
        encode_step(c.linear),
        encode_step(c.canary)
    )
}

/// `250:3` (tenths of a percent, minutes; `-` for ECS's default), or `-` for none.
fn encode_step(step: Option<TrafficStep>) -> String {
    let Some(s) = step else {
        return "-".into();
    };
    let n = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{}:{}",
        n(s.percent_tenths.map(|p| p.to_string())),
        n(s.bake_minutes.map(|m| m.to_string()))
    )
}

fn decode_step(value: &str) -> Option<Option<TrafficStep>> {
    if value == "-" {
        return Some(None);
    }
    let (p, m) = value.split_once(':')?;
    let percent_tenths = match p {
        "-" => None,
        p => Some(p.parse().ok()?),
    };
    let bake_minutes = match m {
        "-" => None,
        m => Some(m.parse().ok()?),
    };
    Some(Some(TrafficStep {
        percent_tenths,
        bake_minutes,
    }))
}

fn encode_alarms(alarms: Option<&(Vec<String>, bool, bool)>) -> String {
    let Some((names, enable, rollback)) = alarms else {
        return "-".into();
    };
    let flag = |b: &bool| if *b { '1' } else { '0' };
    let names: Vec<String> = names.iter().map(|n| escape(n)).collect();
    format!("{}{}:{}", flag(enable), flag(rollback), names.join("+"))
}

fn decode_alarms(value: &str) -> Option<Option<(Vec<String>, bool, bool)>> {
    if value == "-" {
        return Some(None);
    }
    let (flags, names) = value.split_once(':')?;
    let flag = |c: u8| match c {
        b'1' => Some(true),
        b'0' => Some(false),
        _ => None,
    };
    let [e, r] = flags.as_bytes() else {
        return None;
    };
    let names = match names {
        "" => Vec::new(),
        n => n.split('+').map(unescape).collect::<Option<Vec<_>>>()?,
    };
    Some(Some((names, flag(*e)?, flag(*r)?)))
}

/// An alarm name in the characters a tag value allows (`+` separates names, `@` escapes).
fn escape(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() || "_.:/=-".contains(ch) {
            out.push(ch);
        } else {
            let mut buf = [0; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("@{b:02x}"));
            }
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'@' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
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
            "alarms" => c.alarms = decode_alarms(value)?,
            "bake" => c.bake_time_minutes = number()?,
            "linear" => c.linear = decode_step(value)?,
            "canary" => c.canary = decode_step(value)?,
            _ => return None,
        }
        seen += 1;
    }
    (3..=7).contains(&seen).then_some(c)
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
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let table = [
            (Some(200), Some(100), Some(Strategy::Rolling), None),
            (None, None, None, Some((Vec::new(), false, false))),
            (
                Some(100),
                Some(50),
                Some(Strategy::BlueGreen),
                Some((names(&["web-5xx", "p99 latency+", "ünï@"]), true, false)),
            ),
        ];
        for (i, (max, min, strategy, alarms)) in table.into_iter().enumerate() {
            let c = DeploymentConfiguration {
                maximum_percent: max,
                minimum_healthy_percent: min,
                strategy,
                alarms,
                bake_time_minutes: (i == 2).then_some(15),
                linear: (i == 1).then_some(TrafficStep {
                    percent_tenths: Some(250),
                    bake_minutes: None,
                }),
                canary: (i == 2).then_some(TrafficStep {
                    percent_tenths: Some(5),
                    bake_minutes: Some(10),
                }),
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
            "max=1 min=1 strategy=- alarms=1:a",
            "max=1 min=1 strategy=- alarms=11:a@zz",
        ] {
            assert_eq!(decode(tag, &base), None, "{tag:?}");
        }
    }

    #[test]
    fn a_tag_an_older_ecs_roll_wrote_leaves_the_alarms_as_they_are() {
        let base = DeploymentConfiguration {
            alarms: Some((vec!["web-5xx".into()], true, true)),
            ..DeploymentConfiguration::default()
        };
        let c = decode("max=200 min=100 strategy=-", &base).expect("an older tag");
        assert_eq!(c.alarms, base.alarms);
        assert_eq!(c.maximum_percent, Some(200));
    }
}
