//! How failures are classified, with what AWS said kept in the message.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::SharedCredentialsProvider;

use super::stub::{Canned, StubServer};
use super::{adapter, config};
use crate::aws::{ApiCalls, EcsAdapter};
use crate::platform::{ApiErrorKind, Ecs};

#[tokio::test]
async fn service_errors_are_classified_with_aws_message_kept() {
    use ApiErrorKind::*;
    let json = Canned::json_error;
    // (reply, kind, attempts the SDK makes, text the message must keep)
    let cases = [
        (
            json(
                400,
                "ClientException",
                "Unable to describe task definition.",
            ),
            NotFound,
            1,
            "ClientException: Unable to describe",
        ),
        (
            json(400, "ClusterNotFoundException", "Cluster not found."),
            NotFound,
            1,
            "Cluster not found.",
        ),
        (
            json(400, "AccessDeniedException", "User is not authorized"),
            AccessDenied,
            1,
            "User is not authorized",
        ),
        (
            Canned::raw(
                403,
                "text/xml",
                "<ErrorResponse><Message>denied by policy</Message></ErrorResponse>",
            ),
            AccessDenied,
            1,
            "denied by policy",
        ),
        (
            json(
                400,
                "ExpiredTokenException",
                "The security token is expired",
            ),
            Credentials,
            1,
            "token is expired",
        ),
        (
            json(
                400,
                "UnrecognizedClientException",
                "The security token is invalid",
            ),
            Credentials,
            1,
            "token is invalid",
        ),
        (
            json(400, "InvalidParameterException", "Invalid revision number."),
            InvalidRequest,
            1,
            "Invalid revision number.",
        ),
        // The SDK's standard mode retries these (3 attempts) before we see them.
        (
            json(400, "ThrottlingException", "Rate exceeded"),
            Throttled,
            3,
            "ThrottlingException: Rate exceeded",
        ),
        (
            Canned::raw(
                500,
                "text/html",
                "<html><body>Internal Server Error</body></html>",
            ),
            Unavailable,
            3,
            "Internal Server Error",
        ),
        (
            json(503, "ServerException", "Service unavailable"),
            Unavailable,
            3,
            "Service unavailable",
        ),
    ];
    for (reply, kind, attempts, kept) in cases {
        let what = format!("{} {}", reply.status, reply.body);
        let stub = StubServer::start(vec![reply]);
        let (ecs, _) = adapter(&stub);
        let err = ecs.describe_task_definition("web:9").await.unwrap_err();
        assert_eq!(err.kind, kind, "{what}: {err}");
        assert_eq!(err.operation, "DescribeTaskDefinition");
        assert_eq!(stub.requests().len(), attempts, "{what}");
        assert!(
            err.message.contains(kept),
            "{what}: message {:?} lost {kept:?}",
            err.message
        );
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_and_fails_fast() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ecs = EcsAdapter::new(
        &config(&format!("http://127.0.0.1:{port}")),
        ApiCalls::new(),
    );
    let started = Instant::now();
    let err = ecs.cluster_is_active("c1").await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Unavailable, "{err}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn missing_credentials_are_a_credentials_error_before_anything_is_sent() {
    let stub = StubServer::start(vec![Canned::json(200, "{}")]);
    let nobody = aws_config::profile::ProfileFileCredentialsProvider::builder()
        .profile_name("ecs-roll-test-no-such-profile")
        .build();
    let with_nobody = config(&stub.url())
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(nobody))
        .build();
    let without_any = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(stub.url())
        .build();
    for config in [with_nobody, without_any] {
        let ecs = EcsAdapter::new(&config, ApiCalls::new());
        let err = ecs.cluster_is_active("c1").await.unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::Credentials, "{err}");
        assert!(
            !err.message.contains("DispatchFailure {"),
            "no Debug dumps: {err}"
        );
    }
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn a_missing_region_is_a_lasting_error_not_a_transient_one() {
    let stub = StubServer::start(vec![Canned::json(200, "{}")]);
    let no_region = config(&stub.url()).to_builder().region(None).build();
    let err = EcsAdapter::new(&no_region, ApiCalls::new())
        .cluster_is_active("c1")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Other, "{err}");
    assert!(!err.is_transient());
    assert!(err.message.to_ascii_lowercase().contains("region"), "{err}");
    assert!(stub.requests().is_empty());
}
