//! The real AWS adapters behind `crate::platform`: the SDK clients, their configuration, and the
//! translation of SDK types and errors into the platform's. Nothing SDK-typed leaves this module.

mod cloudwatch;
mod ecr;
mod ecs;
mod elb;
mod elbv2;
mod errors;
mod logs;
mod paginate;
mod raw_json;
mod services;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::platform::ApiResult;

pub use cloudwatch::AlarmsAdapter;
pub use ecr::{EcrAdapter, EcrImage};
pub use ecs::EcsAdapter;
pub use elb::ClassicElbAdapter;
pub use elbv2::TargetGroupsAdapter;
pub use logs::LogsAdapter;

/// Overrides the SDK's initial retry backoff (milliseconds). Retries sleep for real, so tests that
/// provoke throttling or an unreachable endpoint set this to keep their run short.
pub const RETRY_INITIAL_BACKOFF_ENV: &str = "ECS_ROLL_RETRY_INITIAL_BACKOFF_MS";

/// Loads the AWS configuration through the standard chain: `AWS_PROFILE`, `AWS_REGION`,
/// credentials from env/profile/SSO/process/IMDS, `AWS_ENDPOINT_URL` and the per-service
/// `AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING(_V2)`. `profile` and
/// `region` (from the command line) win over the environment.
///
/// Retries are the SDK's standard mode (throttling, 5xx, timeouts; 3 attempts), which
/// `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` override. `ECS_ROLL_RETRY_INITIAL_BACKOFF_MS` changes only
/// the initial backoff of whatever retry config that yields; a value that is not a whole number
/// of milliseconds is ignored.
pub async fn load_sdk_config(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    let config = loader.load().await;
    let Some(initial_backoff) = initial_backoff_override() else {
        return config;
    };
    // Setting a retry config on the loader would discard AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, so
    // the override is applied to the config the chain produced.
    let retry = config
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard)
        .with_initial_backoff(initial_backoff);
    config.to_builder().retry_config(retry).build()
}

fn initial_backoff_override() -> Option<Duration> {
    let raw = std::env::var(RETRY_INITIAL_BACKOFF_ENV).ok()?;
    raw.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// How many SDK calls each operation made (one per call, not per HTTP retry), shared by every
/// adapter built with a clone of it: it feeds `--verbose` summaries and lets tests assert on
/// request counts (pagination, batching).
#[derive(Debug, Clone, Default)]
pub struct ApiCalls {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl ApiCalls {
    pub fn new() -> ApiCalls {
        ApiCalls::default()
    }

    pub fn record(&self, operation: &str) {
        // A panic elsewhere while holding the lock cannot leave a counter half-updated.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(operation.to_string()).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl ApiCalls {
    /// Counts one call of `operation`, awaits it and classifies its error.
    pub(crate) async fn call<T, E>(
        &self,
        operation: &'static str,
        request: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> ApiResult<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.record(operation);
        request.await.map_err(|e| errors::api_error(operation, &e))
    }
}
