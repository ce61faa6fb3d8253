//! ListX pages are followed; DescribeX calls are made in batches of 100.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::adapter;
use super::stub::{Canned, StubServer};
use crate::platform::Ecs;

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
