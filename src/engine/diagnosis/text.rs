//! Reading ECS's and the load balancers' own wording: error prefixes, the image a pull named,
//! the IAM action a denial names, the closest matching instance of a placement event. Each
//! reader is tolerant: it returns None (or the generic case) when the wording differs.

use super::{PullProblem, Shortfall};
use crate::engine::failure::StoppedTask;
use crate::platform::short;

/// The first text of the task that mentions `needle`: a container's reason (with the
/// container's name) before the task's stopped reason, since the container is the more
/// precise of the two.
pub(super) fn first_mention<'a>(
    t: &'a StoppedTask,
    needle: &str,
) -> Option<(Option<String>, &'a str)> {
    let container = t.containers.iter().find_map(|c| {
        c.reason
            .as_deref()
            .filter(|r| r.contains(needle))
            .map(|r| (Some(c.name.clone()), r))
    });
    container.or_else(|| {
        t.stopped_reason
            .as_deref()
            .filter(|r| r.contains(needle))
            .map(|r| (None, r))
    })
}

pub(super) fn pull_problem(said: &str) -> PullProblem {
    let s = said.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| s.contains(w));
    // Docker Hub answers "pull access denied ... repository does not exist" for a missing
    // repository too; it reads as a denial, and the hint covers both.
    if any(&[
        "access denied",
        "no basic auth credentials",
        "unauthorized",
        "not authorized",
        "403 forbidden",
    ]) {
        PullProblem::AccessDenied
    } else if any(&["not found", "manifest unknown", "does not exist"]) {
        PullProblem::NotFound
    } else if any(&[
        "i/o timeout",
        "dial tcp",
        "context deadline exceeded",
        "no such host",
        "connection refused",
    ]) {
        PullProblem::Unreachable
    } else {
        PullProblem::Other
    }
}

/// The image a pull error names: `failed to resolve ref IMAGE:`, `pull access denied for
/// IMAGE,` or `manifest for IMAGE not found`.
pub(super) fn pulled_image(said: &str) -> Option<String> {
    [
        "failed to resolve ref ",
        "pull access denied for ",
        "manifest for ",
    ]
    .iter()
    .find_map(|marker| token_after(said, marker))
}

/// The IAM action of an "is not authorized to perform: ACTION on resource: ..." denial.
pub(super) fn denied_action(said: &str) -> Option<String> {
    token_after(said, "not authorized to perform: ")
}

/// The secret or parameter a ResourceInitializationError names.
pub(super) fn denied_resource(said: &str) -> Option<String> {
    token_after(said, "on resource: ")
        .or_else(|| token_after(said, "invalid ssm parameters: "))
        .or_else(|| token_after(said, "secret "))
        .filter(|r| r.contains(':') || r.starts_with('/'))
}

/// The codes of "Health checks failed with these codes: [404]" (a target group's
/// `Target.ResponseCodeMismatch` description).
pub(super) fn status_codes(description: &str) -> Vec<u16> {
    let Some(list) = description
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
    else {
        return Vec::new();
    };
    list.split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect()
}

/// The load balancer of "Task failed ELB health checks in (target-group ARN)" or "(elb NAME)",
/// the stopped reason of a service task ECS replaced for failing its health checks.
pub(super) fn failed_elb_checks(reason: &str) -> Option<String> {
    let (_, rest) = reason.split_once("failed ELB health checks")?;
    let inside = rest
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(i, _)| i.trim());
    let lb = match inside {
        Some(i) => i
            .strip_prefix("target-group ")
            .or_else(|| i.strip_prefix("elb "))
            .unwrap_or(i),
        None => "the load balancer",
    };
    Some(lb.to_string())
}

/// The alarms a rollback reason names: a bracketed list, or the word after "alarm(s)",
/// "alarms" or "alarm".
pub(super) fn alarm_names(reason: &str) -> Vec<String> {
    if let Some((_, rest)) = reason.split_once('[')
        && let Some((list, _)) = rest.split_once(']')
    {
        return list
            .split(',')
            .map(|a| a.trim().trim_matches('"').to_string())
            .filter(|a| !a.is_empty())
            .collect();
    }
    ["alarm(s) ", "alarms ", "alarm "]
        .iter()
        .find_map(|m| token_after(reason, m))
        .filter(|a| !matches!(a.as_str(), "is" | "are" | "in" | "went" | "state"))
        .into_iter()
        .collect()
}

/// Which resource a placement message says was short, in ECS's service event wording ("is
/// already using a port required by your task", "has insufficient memory available") or as
/// StartTask's failure reasons (`RESOURCE:PORTS`, `RESOURCE:MEMORY`, ...).
pub(super) fn shortfall(message: &str) -> Shortfall {
    let has = |w: &str| message.contains(w);
    if has("RESOURCE:PORTS") || has("already using a port") {
        Shortfall::Ports
    } else if has("RESOURCE:MEMORY") || has("insufficient memory") {
        Shortfall::Memory
    } else if has("RESOURCE:CPU") || has("insufficient CPU") {
        Shortfall::Cpu
    } else if has("ATTRIBUTE") || has("missing an attribute") || has("placement constraint") {
        Shortfall::Attribute
    } else if has("AGENT") {
        Shortfall::Agent
    } else if has("No Container Instances were found") {
        Shortfall::NoInstances
    } else if has("Capacity is unavailable") {
        Shortfall::FargateCapacity
    } else {
        Shortfall::Other
    }
}

/// The container instance a placement message names (its short id), e.g. "The closest
/// matching (container-instance 0a1b2c) has insufficient memory available". Only after
/// "closest matching", or as an ARN: "no container instance met" names none.
pub(super) fn closest_instance(message: &str) -> Option<String> {
    let (text, any_word) = match message.split_once("closest matching") {
        Some((_, rest)) => (rest, true),
        None => (message, false),
    };
    ["container-instance ", "container instance "]
        .iter()
        .find_map(|m| token_after(text, m))
        .filter(|id| any_word || id.starts_with("arn:"))
        .map(|id| short(&id).to_string())
}

/// The port a placement message names: "host port 8080", "RESOURCE:PORTS (8080)".
pub(super) fn port(message: &str) -> Option<u16> {
    let lower = message.to_ascii_lowercase();
    lower.match_indices("port").find_map(|(i, _)| {
        let rest = lower[i + 4..].trim_start_matches(['s', ' ', '(', ':']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// The word after `marker`, without the punctuation that ends it in a sentence.
fn token_after(text: &str, marker: &str) -> Option<String> {
    let (_, rest) = text.split_once(marker)?;
    let word = rest.split_whitespace().next()?;
    let word = word.trim_end_matches([':', ',', '.', ')', ';']);
    let word = word.trim_start_matches('(');
    (!word.is_empty()).then(|| word.to_string())
}
