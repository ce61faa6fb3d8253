//! What the ECS adapter puts on the wire and how it reads replies, against a local stub server:
//! raw task definition bodies, pagination, batching and error classification.

mod errors;
mod paging;
mod stub;
mod task_definitions;
mod tasks;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};

use super::{ApiCalls, EcsAdapter};
use stub::StubServer;

fn config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDSTUB", "secret", None, None, "stub",
        )))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
        .build()
}

fn adapter(stub: &StubServer) -> (EcsAdapter, ApiCalls) {
    let calls = ApiCalls::new();
    (EcsAdapter::new(&config(&stub.url()), calls.clone()), calls)
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
