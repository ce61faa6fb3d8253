//! What the ECS adapter puts on the wire and how it reads replies, against a local stub server:
//! raw task definition bodies, pagination, batching and error classification.

mod stub;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
use serde_json::{Value, json};

use super::{ApiCalls, EcsAdapter};
use crate::image::ImageRef;
use crate::platform::{ApiErrorKind, Ecs};
use crate::taskdef::TaskDefinition;
use stub::{Canned, StubServer};

const FIXTURE: &str = include_str!("../../../tests/fixtures/taskdef-full.json");
const NEW_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2";

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

/// What ECS would answer to registering `body`: the document plus the read-only fields.
fn registered(body: &Value, revision: i64) -> Value {
    let mut td = body.clone();
    let family = td["family"].as_str().unwrap().to_string();
    td["taskDefinitionArn"] = json!(format!(
        "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"
    ));
    td["revision"] = json!(revision);
    td["status"] = json!("ACTIVE");
    let tags = td
        .as_object_mut()
        .unwrap()
        .remove("tags")
        .unwrap_or(json!([]));
    json!({"taskDefinition": td, "tags": tags})
}

#[tokio::test]
async fn register_sends_the_document_itself_with_only_the_image_changed_and_tags_merged() {
    let td = TaskDefinition::parse(FIXTURE, "taskdef-full.json").unwrap();
    let image = ImageRef::parse(NEW_IMAGE).unwrap();
    let body = td.with_image("web", &image).to_json();

    let mut expected: Value = serde_json::from_str(FIXTURE).unwrap();
    expected["containerDefinitions"][0]["image"] = json!(NEW_IMAGE);
    // Ours replace the same key in place; new keys are appended.
    expected["tags"] = json!([
        {"key": "team", "value": "payments"},
        {"key": "deployed-by", "value": "ecs-roll"},
        {"key": "ecs-roll:image", "value": "v2"},
    ]);
    let stub = StubServer::start(vec![Canned::json(
        200,
        &registered(&expected, 7).to_string(),
    )]);
    let (ecs, calls) = adapter(&stub);

    let rev = ecs
        .register_task_definition(
            &body,
            &tags(&[("deployed-by", "ecs-roll"), ("ecs-roll:image", "v2")]),
        )
        .await
        .unwrap();

    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/"));
    assert_eq!(sent.operation(), "RegisterTaskDefinition");
    let wire = sent.json();
    let (wire_fields, expected_fields) = (wire.as_object().unwrap(), expected.as_object().unwrap());
    for (field, value) in expected_fields {
        assert_eq!(
            wire_fields.get(field),
            Some(value),
            "field {field:?} on the wire"
        );
    }
    assert_eq!(
        wire_fields.len(),
        expected_fields.len(),
        "extra fields on the wire: {wire:#}"
    );
    // Our serialisation, byte for byte and in the file's field order, not the SDK's.
    assert_eq!(sent.body, serde_json::to_vec(&expected).unwrap());
    assert_eq!(
        sent.header("content-length"),
        Some(sent.body.len().to_string().as_str())
    );
    assert!(
        sent.header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 "))
    );

    assert_eq!(rev.name(), "web-full:7");
    assert_eq!(
        rev.body["futureField"],
        json!({"x": 1}),
        "the response is read raw too"
    );
    assert_eq!(
        rev.tags,
        tags(&[
            ("team", "payments"),
            ("deployed-by", "ecs-roll"),
            ("ecs-roll:image", "v2")
        ])
    );
    assert_eq!(
        calls.snapshot(),
        BTreeMap::from([("RegisterTaskDefinition".to_string(), 1)])
    );
}

#[tokio::test]
async fn every_retry_of_register_sends_the_same_document() {
    let td: Value = serde_json::from_str(FIXTURE).unwrap();
    let stub = StubServer::start(vec![
        Canned::json_error(500, "ServerException", "try again"),
        Canned::json(200, &registered(&td, 2).to_string()),
    ]);
    let (ecs, calls) = adapter(&stub);
    let rev = ecs
        .register_task_definition(&td, &BTreeMap::new())
        .await
        .unwrap();
    let requests = stub.requests();
    assert_eq!(requests.len(), 2, "one retry after the 500");
    for r in &requests {
        assert_eq!(r.json(), td);
    }
    assert_eq!(rev.revision, 2);
    assert_eq!(
        rev.tags,
        tags(&[("team", "payments"), ("deployed-by", "manual")])
    );
    assert_eq!(calls.total(), 1, "one SDK call, however many attempts");
}

#[tokio::test]
async fn describe_returns_the_task_definition_exactly_as_received() {
    let response = json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "family": "web",
            "revision": 3,
            "containerDefinitions": [{"name": "web", "image": "web:v1", "brandNewOption": [1, 2]}],
            "status": "ACTIVE",
            "futureField": {"nested": {"deep": true}},
            "registeredAt": 1.7e9
        },
        "tags": [{"key": "team", "value": "payments"}]
    });
    let stub = StubServer::start(vec![Canned::json(200, &response.to_string())]);
    let (ecs, _) = adapter(&stub);
    let rev = ecs.describe_task_definition("web:3").await.unwrap();

    assert_eq!(
        stub.requests()[0].json(),
        json!({"taskDefinition": "web:3", "include": ["TAGS"]})
    );
    assert_eq!(rev.body, response["taskDefinition"]);
    assert_eq!(
        (rev.arn.as_str(), rev.family.as_str(), rev.revision),
        (
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "web",
            3
        )
    );
    assert_eq!(rev.tags, tags(&[("team", "payments")]));
}

fn arns(kind: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("arn:aws:ecs:us-east-1:123456789012:{kind}/c1/{i:04}"))
        .collect()
}

#[tokio::test]
async fn container_instances_follow_next_token_and_describe_in_batches_of_100() {
    let all = arns("container-instance", 0..155);
    let page = |a: &[String], token: Option<&str>| {
        Canned::json(
            200,
            &json!({"containerInstanceArns": a, "nextToken": token}).to_string(),
        )
    };
    let described = json!({"containerInstances": [{
        "containerInstanceArn": all[0], "ec2InstanceId": "i-0", "status": "ACTIVE", "agentConnected": true,
        "remainingResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 512}],
        "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1a"}]
    }], "failures": []});
    let stub = StubServer::start(vec![
        page(&all[..100], Some("t1")),
        page(&all[100..150], Some("t2")),
        page(&all[150..], None),
        Canned::json(200, &described.to_string()),
    ]);
    let (ecs, calls) = adapter(&stub);
    let got = ecs.container_instances("c1").await.unwrap();

    let requests = stub.requests();
    let ops: Vec<&str> = requests.iter().map(|r| r.operation()).collect();
    assert_eq!(
        ops,
        [
            "ListContainerInstances",
            "ListContainerInstances",
            "ListContainerInstances",
            "DescribeContainerInstances",
            "DescribeContainerInstances"
        ]
    );
    let tokens: Vec<Value> = requests[..3]
        .iter()
        .map(|r| r.json()["nextToken"].clone())
        .collect();
    assert_eq!(tokens, [Value::Null, json!("t1"), json!("t2")]);
    let batches: Vec<Vec<String>> = requests[3..]
        .iter()
        .map(|r| serde_json::from_value(r.json()["containerInstances"].clone()).unwrap())
        .collect();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [100, 55]);
    assert_eq!(batches.concat(), all);
    assert!(requests.iter().all(|r| r.json()["cluster"] == "c1"));
    assert_eq!(
        got.len(),
        2,
        "one described instance per stubbed batch reply"
    );
    assert_eq!(
        (got[0].remaining_cpu, got[0].availability_zone.as_deref()),
        (512, Some("us-east-1a"))
    );
    assert_eq!(
        calls.snapshot(),
        BTreeMap::from([
            ("DescribeContainerInstances".to_string(), 2),
            ("ListContainerInstances".to_string(), 3)
        ])
    );
}

#[tokio::test]
async fn family_tasks_lists_running_tasks_of_the_family_then_describes_them() {
    let all = arns("task", 0..120);
    let stub = StubServer::start(vec![
        Canned::json(200, &json!({"taskArns": all[..100], "nextToken": "n"}).to_string()),
        Canned::json(200, &json!({"taskArns": all[100..]}).to_string()),
        Canned::json(200, &json!({"tasks": [{"taskArn": all[0], "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
            "taskDefinitionArn": "arn:td/web:3", "containers": [{"name": "web", "lastStatus": "RUNNING"}]}]})
        .to_string()),
    ]);
    let (ecs, _) = adapter(&stub);
    let got = ecs.family_tasks("c1", "web").await.unwrap();

    let requests = stub.requests();
    assert_eq!(
        requests[0].json(),
        json!({"cluster": "c1", "family": "web", "desiredStatus": "RUNNING"})
    );
    assert_eq!(requests[1].json()["nextToken"], "n");
    let described: Vec<usize> = requests[2..]
        .iter()
        .map(|r| r.json()["tasks"].as_array().unwrap().len())
        .collect();
    assert_eq!(described, [100, 20]);
    assert!(got.iter().all(|t| t.is_running()));
}

#[tokio::test]
async fn describing_no_tasks_makes_no_call() {
    let stub = StubServer::start(vec![Canned::json_error(
        400,
        "InvalidParameterException",
        "Tasks cannot be empty.",
    )]);
    let (ecs, calls) = adapter(&stub);
    assert_eq!(ecs.describe_tasks("c1", &[]).await.unwrap(), vec![]);
    assert_eq!(calls.total(), 0);
}

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
async fn start_task_turns_placement_failures_into_errors() {
    let stub = StubServer::start(vec![Canned::json(
        200,
        &json!({"tasks": [], "failures": [{"arn": "arn:ci/1", "reason": "RESOURCE:PORTS"}]})
            .to_string(),
    )]);
    let (ecs, _) = adapter(&stub);
    let err = ecs
        .start_task("c1", "arn:td/web:3", "arn:ci/1", "ecs-roll")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Other);
    assert!(err.message.contains("arn:ci/1: RESOURCE:PORTS"), "{err}");
    let sent = stub.requests()[0].json();
    assert_eq!(
        sent,
        json!({"cluster": "c1", "taskDefinition": "arn:td/web:3",
        "containerInstances": ["arn:ci/1"], "startedBy": "ecs-roll"})
    );
}
