//! ECS SDK types -> platform types.

use aws_sdk_ecs::types as sdk;

use crate::platform::{ContainerInstance, ContainerState, Task};

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
        status: ci.status().unwrap_or_default().to_string(),
        agent_connected: ci.agent_connected(),
        remaining_cpu: remaining("CPU").map_or(0, |r| i64::from(r.integer_value())),
        remaining_memory: remaining("MEMORY").map_or(0, |r| i64::from(r.integer_value())),
        used_ports,
    }
}

pub(super) fn task(t: &sdk::Task) -> Task {
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    Task {
        arn: text(t.task_arn()),
        task_definition_arn: text(t.task_definition_arn()),
        container_instance_arn: t.container_instance_arn().map(String::from),
        last_status: text(t.last_status()),
        desired_status: text(t.desired_status()),
        started_by: t.started_by().filter(|s| !s.is_empty()).map(String::from),
        stopped_reason: t
            .stopped_reason()
            .filter(|s| !s.is_empty())
            .map(String::from),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: text(c.name()),
                last_status: c.last_status().map(String::from),
                exit_code: c.exit_code(),
                reason: c.reason().filter(|s| !s.is_empty()).map(String::from),
            })
            .collect(),
    }
}

/// "arn: REASON (detail)" for the failures a batch call returned.
pub(super) fn failures(failures: &[sdk::Failure]) -> String {
    failures
        .iter()
        .map(|f| {
            let mut s = format!(
                "{}: {}",
                f.arn().unwrap_or("?"),
                f.reason().unwrap_or("unknown reason")
            );
            if let Some(d) = f.detail().filter(|d| !d.is_empty()) {
                s.push_str(&format!(" ({d})"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
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
    fn task_keeps_container_exit_codes_and_drops_empty_reasons() {
        let t = sdk::Task::builder()
            .task_arn("arn:task/1")
            .task_definition_arn("arn:td/web:3")
            .last_status("STOPPED")
            .desired_status("STOPPED")
            .started_by("")
            .stopped_reason("Essential container in task exited")
            .containers(
                sdk::Container::builder()
                    .name("web")
                    .last_status("STOPPED")
                    .exit_code(137)
                    .reason("")
                    .build(),
            )
            .build();
        let got = task(&t);
        assert_eq!(got.started_by, None);
        assert_eq!(got.container_instance_arn, None);
        assert_eq!(got.containers[0].exit_code, Some(137));
        assert_eq!(got.containers[0].reason, None);
        assert_eq!(
            got.stop_explanation(),
            "Essential container in task exited; container web exited 137"
        );
    }
}
