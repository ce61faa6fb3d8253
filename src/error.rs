//! Errors that end a command before or outside a rollout, each with the exit code a CI job can
//! act on and a hint that says what to do next. The outcome of a rollout itself (succeeded,
//! failed, rolled back, interrupted) is not an error: see `engine::Outcome`.

use crate::platform::{ApiError, ApiErrorKind};

/// Documented exit codes.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const FAILURE: i32 = 1;
    /// Bad input or a failed preflight check: nothing was changed in AWS.
    pub const USAGE: i32 = 2;
    pub const ROLLED_BACK: i32 = 3;
    /// A one-off task (`ecs-roll run`, `deploy --before`) ran and failed: an essential
    /// container exited non-zero or never started, or it ran past `--run-timeout`.
    pub const ONE_OFF_FAILED: i32 = 4;
    /// Stopped by Ctrl-C / SIGTERM after making the step in progress safe.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line, the environment or the config file is wrong. Nothing changed.
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// A preflight check failed. Nothing changed.
    #[error("{message}")]
    Preflight { message: String, hint: String },
    /// Something failed after AWS may have been changed.
    #[error("{message}")]
    Failed { message: String, hint: String },
    /// A preflight check of the engine refused the run. Nothing changed.
    #[error("{}", crate::render::refusal::message(.0))]
    Refused(Box<crate::engine::refusal::Refusal>),
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn preflight(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Preflight {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Failed {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// An AWS error seen before anything was changed.
    pub fn from_api_before_change(e: ApiError) -> Self {
        Error::Preflight {
            hint: api_hint(&e),
            message: e.to_string(),
        }
    }

    /// An AWS error seen after something may have changed.
    pub fn from_api_after_change(e: ApiError) -> Self {
        Error::Failed {
            hint: api_hint(&e),
            message: e.to_string(),
        }
    }

    /// A failure of the engine after AWS may have been changed.
    pub fn after_change(f: crate::engine::Failure) -> Self {
        match f {
            crate::engine::Failure::Api { error } => Error::from_api_after_change(error),
            other => Error::Failed {
                message: crate::render::failure::message(&other),
                hint: String::new(),
            },
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } | Error::Preflight { .. } | Error::Refused(_) => exit::USAGE,
            Error::Failed { .. } => exit::FAILURE,
        }
    }

    /// The result word of a run that ended in this error, as every output says it:
    /// `refused` when nothing was changed (exit 2), else `failed`.
    pub fn result_word(&self) -> &'static str {
        match self {
            Error::Usage { .. } | Error::Preflight { .. } | Error::Refused(_) => "refused",
            Error::Failed { .. } => "failed",
        }
    }

    pub fn hint(&self) -> String {
        match self {
            Error::Usage { hint, .. }
            | Error::Preflight { hint, .. }
            | Error::Failed { hint, .. } => hint.clone(),
            Error::Refused(r) => crate::render::refusal::hint(r),
        }
    }

    pub fn refused(r: crate::engine::refusal::Refusal) -> Self {
        Error::Refused(Box::new(r))
    }

    /// The refusal, when a preflight check of the engine refused the run.
    pub fn refusal(&self) -> Option<&crate::engine::refusal::Refusal> {
        match self {
            Error::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// Whether AWS is known to be untouched.
    pub fn nothing_changed(&self) -> bool {
        !matches!(self, Error::Failed { .. })
    }
}

/// What a user can do about an AWS error of this kind.
pub fn api_hint(e: &ApiError) -> String {
    match e.kind {
        ApiErrorKind::AccessDenied => format!(
            "grant the permission for {} to the identity ecs-roll runs as (see iam/README.md)",
            iam_action(e.operation)
        ),
        ApiErrorKind::Credentials => "configure AWS credentials: AWS_PROFILE or --profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/OIDC role; refresh them if they expired".into(),
        ApiErrorKind::Unavailable => "check --region / AWS_REGION, AWS_ENDPOINT_URL and the network; the SDK already retried".into(),
        ApiErrorKind::Throttled => "the account's API rate limit is exhausted; retry later or deploy fewer services at once".into(),
        ApiErrorKind::NotFound => "check the name and the region".into(),
        ApiErrorKind::InvalidRequest => "fix the request as the message says".into(),
        ApiErrorKind::Other => "see the message from AWS".into(),
    }
}

/// The IAM action behind an SDK operation name, e.g. `DescribeTasks` -> `ecs:DescribeTasks`.
pub fn iam_action(operation: &str) -> String {
    const ELB: &[&str] = &[
        "DescribeLoadBalancers",
        "DescribeLoadBalancerAttributes",
        "DescribeInstanceHealth",
        "RegisterInstancesWithLoadBalancer",
        "DeregisterInstancesFromLoadBalancer",
        "DescribeTargetHealth",
        "DescribeTargetGroups",
        "DescribeTargetGroupAttributes",
    ];
    let service = match operation {
        op if ELB.contains(&op) => "elasticloadbalancing",
        "DescribeAlarms" => "cloudwatch",
        "GetLogEvents" => "logs",
        "DescribeImages" => "ecr",
        _ => "ecs",
    };
    format!("{service}:{operation}")
}
