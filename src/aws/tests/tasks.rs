//! Tasks are read from the raw response body.

use serde_json::json;

use super::adapter;
use super::stub::{Canned, StubServer};
use crate::platform::{ApiErrorKind, Ecs};

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

#[tokio::test]
async fn start_task_is_sent_once_even_where_the_sdk_would_retry() {
    // A 503 may come after ECS started the task: a second call could start another one. The
    // engine looks for the first task before it tries again; the SDK must not retry blindly.
    let stub = StubServer::start(vec![
        Canned::json_error(503, "ServerException", "Service unavailable"),
        Canned::json(200, &json!({"tasks": [], "failures": []}).to_string()),
    ]);
    let (ecs, _) = adapter(&stub);
    let err = ecs
        .start_task("c1", "arn:td/web:3", "arn:ci/1", "ecs-roll/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Unavailable, "{err}");
    assert_eq!(stub.requests().len(), 1);
    // Other calls keep the SDK's retries.
    let stub = StubServer::start(vec![
        Canned::json_error(503, "ServerException", "Service unavailable"),
        Canned::json(200, &json!({"tasks": [], "failures": []}).to_string()),
    ]);
    let (ecs, _) = adapter(&stub);
    ecs.describe_tasks("c1", &["arn:task/1".to_string()])
        .await
        .unwrap();
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn tasks_the_sdk_cannot_parse_are_read_raw_without_a_retry() {
    // moto sends a container's cpu/memory as numbers; the ECS model (and the SDK) want strings.
    let moto_style = json!({"tasks": [{"taskArn": "arn:task/1", "taskDefinitionArn": "arn:td/web:3",
        "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "startedBy": "",
        "containers": [{"name": "web", "lastStatus": "PENDING", "cpu": 1, "memory": 4}]}], "failures": []});
    let stub = StubServer::start(vec![Canned::json(200, &moto_style.to_string())]);
    let (ecs, _) = adapter(&stub);
    let tasks = ecs
        .describe_tasks("c1", &["arn:task/1".to_string()])
        .await
        .unwrap();
    assert_eq!(
        stub.requests().len(),
        1,
        "a 2xx is not retried because the SDK could not parse it"
    );
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].arn.as_str(), tasks[0].started_by.as_deref()),
        ("arn:task/1", None)
    );

    let stub = StubServer::start(vec![Canned::raw(
        200,
        "text/html",
        "<html>captive portal</html>",
    )]);
    let (ecs, _) = adapter(&stub);
    let err = ecs
        .describe_tasks("c1", &["arn:task/1".to_string()])
        .await
        .unwrap_err();
    assert_eq!((err.kind, stub.requests().len()), (ApiErrorKind::Other, 1));
    assert!(err.message.contains("not JSON"), "{err}");
}
