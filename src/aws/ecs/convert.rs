//! ECS SDK types -> platform types.

use std::fmt;

use aws_sdk_ecs::types as sdk;
use serde_json::Value;

use crate::platform::{
    ContainerInstance, ContainerState, NetworkBinding, ResourceStatus, Task, TaskStatus,
};

/// The attribute the ECS agent sets to the instance's availability zone.
const AZ_ATTRIBUTE: &str = "ecs.availability-zone";

pub(super) fn container_instance(ci: &sdk::ContainerInstance) -> ContainerInstance {
    let remaining = |name: &str| {
        ci.remaining_resources()
            .iter()
            .find(|r| r.name() == Some(name))
    };
    // PORTS lists the TCP host ports in use (PORTS_UDP the UDP ones, which we never map).
    let mut used_ports: Vec<u16> = remaining("PORTS")
        .map(|r| {
            r.string_set_value()
                .iter()
                .filter_map(|p| p.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    used_ports.sort_unstable();
    used_ports.dedup();
    ContainerInstance {
        arn: ci.container_instance_arn().unwrap_or_default().to_string(),
        ec2_instance_id: ci.ec2_instance_id().unwrap_or_default().to_string(),
        availability_zone: ci
            .attributes()
            .iter()
            .find(|a| a.name() == AZ_ATTRIBUTE)
            .and_then(|a| a.value())
            .map(String::from),
        status: ResourceStatus::parse(ci.status().unwrap_or_default()),
        agent_connected: ci.agent_connected(),
        remaining_cpu: remaining("CPU").map_or(0, |r| i64::from(r.integer_value())),
        remaining_memory: remaining("MEMORY").map_or(0, |r| i64::from(r.integer_value())),
        used_ports,
    }
}

/// The `tasks` of a DescribeTasks or StartTask response, read from its raw JSON (see
/// `RawSuccessBody` for why not from the SDK's types). Entries without an ARN are skipped.
pub(super) fn tasks(response: &Value) -> impl Iterator<Item = Task> + '_ {
    list(response, "tasks").filter_map(task)
}

fn task(t: &Value) -> Option<Task> {
    Some(Task {
        arn: text(t, "taskArn")?,
        task_definition_arn: text(t, "taskDefinitionArn").unwrap_or_default(),
        container_instance_arn: text(t, "containerInstanceArn"),
        last_status: TaskStatus::parse(&text(t, "lastStatus").unwrap_or_default()),
        desired_status: TaskStatus::parse(&text(t, "desiredStatus").unwrap_or_default()),
        started_by: text(t, "startedBy"),
        stop_code: text(t, "stopCode"),
        stopped_reason: text(t, "stoppedReason"),
        containers: list(t, "containers")
            .map(|c| ContainerState {
                name: text(c, "name").unwrap_or_default(),
                last_status: text(c, "lastStatus").map(|s| TaskStatus::parse(&s)),
                exit_code: c
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .and_then(|x| i32::try_from(x).ok()),
                reason: text(c, "reason"),
            })
            .collect(),
        group: text(t, "group"),
        network_bindings: list(t, "containers")
            .flat_map(|c| {
                let name = text(c, "name").unwrap_or_default();
                list(c, "networkBindings")
                    .filter_map(move |b| {
                        Some(NetworkBinding {
                            container_name: name.clone(),
                            container_port: u16::try_from(b.get("containerPort")?.as_u64()?)
                                .ok()?,
                            host_port: u16::try_from(b.get("hostPort")?.as_u64()?).ok()?,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        // awsvpc: the ENI attachment's details carry the address.
        private_ipv4: list(t, "attachments")
            .flat_map(|a| list(a, "details"))
            .find(|d| text(d, "name").as_deref() == Some("privateIPv4Address"))
            .and_then(|d| text(d, "value")),
        launch_type: text(t, "launchType").filter(|l| !l.is_empty()),
    })
}

/// One entry of a batch call's `failures`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub arn: String,
    pub reason: String,
    pub detail: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.arn, self.reason)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

pub(super) fn failures(response: &Value) -> Vec<Failure> {
    list(response, "failures")
        .map(|f| Failure {
            arn: text(f, "arn").unwrap_or_else(|| "?".into()),
            reason: text(f, "reason").unwrap_or_else(|| "unknown reason".into()),
            detail: text(f, "detail"),
        })
        .collect()
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> + 'a {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// A non-empty string member: ECS (and moto) send "" for "none".
fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(name: &str) -> sdk::builders::ResourceBuilder {
        sdk::Resource::builder().name(name)
    }

    #[test]
    fn container_instance_reads_remaining_resources_and_the_az_attribute() {
        let ci = sdk::ContainerInstance::builder()
            .container_instance_arn("arn:ci/1")
            .ec2_instance_id("i-1")
            .status("ACTIVE")
            .agent_connected(true)
            .remaining_resources(
                resource("CPU")
                    .r#type("INTEGER")
                    .integer_value(1536)
                    .build(),
            )
            .remaining_resources(
                resource("MEMORY")
                    .r#type("INTEGER")
                    .integer_value(3000)
                    .build(),
            )
            .remaining_resources(
                resource("PORTS")
                    .r#type("STRINGSET")
                    .string_set_value("8080")
                    .string_set_value("22")
                    .string_set_value("22")
                    .build(),
            )
            .remaining_resources(
                resource("PORTS_UDP")
                    .r#type("STRINGSET")
                    .string_set_value("53")
                    .build(),
            )
            .attributes(
                sdk::Attribute::builder()
                    .name("ecs.os-type")
                    .value("linux")
                    .build()
                    .unwrap(),
            )
            .attributes(
                sdk::Attribute::builder()
                    .name(AZ_ATTRIBUTE)
                    .value("us-east-1b")
                    .build()
                    .unwrap(),
            )
            .build();
        let got = container_instance(&ci);
        assert_eq!(
            got,
            ContainerInstance {
                arn: "arn:ci/1".into(),
                ec2_instance_id: "i-1".into(),
                availability_zone: Some("us-east-1b".into()),
                status: "ACTIVE".into(),
                agent_connected: true,
                remaining_cpu: 1536,
                remaining_memory: 3000,
                used_ports: vec![22, 8080],
            }
        );
    }

    #[test]
    fn tasks_are_read_from_raw_json_as_moto_and_ecs_send_them() {
        // moto's numbers for a container's cpu/memory (strings in the ECS model) do not matter.
        let response = serde_json::json!({"tasks": [
            {"taskArn": "arn:task/1", "taskDefinitionArn": "arn:td/web:3", "lastStatus": "STOPPED",
             "desiredStatus": "STOPPED", "startedBy": "", "stoppedReason": "Essential container in task exited",
             "containers": [{"name": "web", "lastStatus": "STOPPED", "exitCode": 137, "reason": "", "cpu": 1}]},
            {"lastStatus": "RUNNING"},
            {"taskArn": "arn:task/2", "containerInstanceArn": "arn:ci/1", "lastStatus": "RUNNING",
             "desiredStatus": "RUNNING", "startedBy": "ecs-roll", "containers": []},
        ], "failures": [{"arn": "arn:task/3", "reason": "MISSING"}, {"reason": "RESOURCE:PORTS", "detail": "8080"}]});
        let got: Vec<Task> = tasks(&response).collect();
        assert_eq!(got.len(), 2, "the entry without an ARN is skipped");
        assert_eq!(
            (
                got[0].started_by.as_deref(),
                got[0].container_instance_arn.as_deref()
            ),
            (None, None)
        );
        assert_eq!(
            (
                got[0].containers[0].exit_code,
                got[0].containers[0].reason.as_deref()
            ),
            (Some(137), None)
        );
        assert_eq!(
            got[0].stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
        assert!(got[1].is_running());
        assert_eq!(got[1].started_by.as_deref(), Some("ecs-roll"));
        let f: Vec<String> = failures(&response)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(f, ["arn:task/3: MISSING", "?: RESOURCE:PORTS (8080)"]);
    }
}
