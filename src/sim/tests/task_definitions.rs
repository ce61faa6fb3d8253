use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::platform::ApiErrorKind;
use crate::taskdef::TaskDefinition;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn revisions_count_up_per_family_and_keep_the_body() {
    let sim = origin();
    let ecs = sim.ecs();
    let mut body = app("app:v2");
    body["someFieldNewerThanUs"] = json!({ "kept": true });
    let v2 = ecs
        .register_task_definition(&body, &tags(&[("ecs-roll:image", "app:v2")]))
        .await
        .unwrap();
    let other = ecs.register_task_definition(&json!({
        "family": "other", "containerDefinitions": [{ "name": "o", "image": "o:1", "memoryReservation": 64 }]
    }), &BTreeMap::new()).await.unwrap();

    assert_eq!(
        (v2.name(), other.name()),
        ("cb-prototype:2".to_string(), "other:1".to_string())
    );
    assert_eq!(
        v2.arn,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/cb-prototype:2"
    );
    assert_eq!(v2.body["someFieldNewerThanUs"], json!({ "kept": true }));
    assert_eq!(v2.body["status"], "ACTIVE");
    assert_eq!(v2.body["revision"], 2);
    assert_eq!(
        v2.body["containerDefinitions"][0]["essential"], true,
        "ECS fills in defaults"
    );
    assert!(
        TaskDefinition::from_revision(&v2)
            .same_as(&TaskDefinition::parse(&body.to_string(), "t").unwrap())
    );

    for reference in [v2.arn.as_str(), "cb-prototype:2", "cb-prototype"] {
        assert_eq!(
            ecs.describe_task_definition(reference).await.unwrap(),
            v2,
            "{reference}"
        );
    }
    assert_eq!(
        ecs.describe_task_definition("cb-prototype:1")
            .await
            .unwrap()
            .revision,
        1
    );
    let err = ecs
        .describe_task_definition("cb-prototype:7")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn what_ecs_refuses_is_refused() {
    let sim = origin();
    let ecs = sim.ecs();
    let described = ecs.describe_task_definition("cb-prototype").await.unwrap();
    let err = ecs
        .register_task_definition(&described.body, &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::InvalidRequest);
    assert!(err.message.contains("taskDefinitionArn"), "{}", err.message);

    let mut no_memory = app("app:v2");
    no_memory["containerDefinitions"][0]
        .as_object_mut()
        .unwrap()
        .remove("memory");
    let err = ecs
        .register_task_definition(&no_memory, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(err.message.contains("memoryReservation"), "{}", err.message);
}

#[tokio::test(start_paused = true)]
async fn tags_merge_and_deregistered_revisions_are_no_longer_latest() {
    let sim = origin();
    let ecs = sim.ecs();
    let mut body = app("app:v2");
    body["tags"] = json!([{ "key": "team", "value": "web" }]);
    let v2 = ecs
        .register_task_definition(&body, &tags(&[("ecs-roll:previous", "cb-prototype:1")]))
        .await
        .unwrap();
    assert!(
        v2.body.get("tags").is_none(),
        "tags are not part of the task definition"
    );

    ecs.tag_task_definition(
        &v2.arn,
        &tags(&[("team", "platform"), ("ecs-roll:status", "deployed")]),
    )
    .await
    .unwrap();
    let tagged = ecs.describe_task_definition(&v2.arn).await.unwrap().tags;
    assert_eq!(
        tagged,
        tags(&[
            ("ecs-roll:previous", "cb-prototype:1"),
            ("ecs-roll:status", "deployed"),
            ("team", "platform")
        ])
    );

    sim.deregister_task_definition(&v2.arn).unwrap();
    assert_eq!(
        ecs.describe_task_definition("cb-prototype")
            .await
            .unwrap()
            .revision,
        1
    );
    assert_eq!(
        ecs.describe_task_definition(&v2.arn).await.unwrap().body["status"],
        "INACTIVE"
    );
    let instance = instances(&sim).await.remove(0).arn;
    let err = ecs
        .start_task(CLUSTER, &v2.arn, &instance, "t")
        .await
        .unwrap_err();
    assert!(err.message.contains("INACTIVE"), "{}", err.message);
    let v3 = ecs
        .register_task_definition(&app("app:v3"), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(v3.revision, 3, "numbers are never reused");
}
