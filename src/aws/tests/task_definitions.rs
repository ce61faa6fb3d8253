//! Task definitions go over the wire as our JSON, and come back as ECS's JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::stub::{Canned, StubServer};
use super::{adapter, tags};
use crate::image::ImageRef;
use crate::platform::Ecs;
use crate::taskdef::TaskDefinition;

const FIXTURE: &str = include_str!("../../../tests/fixtures/taskdef-full.json");
const NEW_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2";

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
