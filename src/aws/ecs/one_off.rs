//! `platform::OneOffTasks` over the ECS SDK: RunTask with the placement and overrides of a
//! one-off task, its answer read raw like StartTask's (moto sends numbers the SDK rejects).

use async_trait::async_trait;
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    KeyValuePair, LaunchType, NetworkConfiguration, TaskOverride,
};

use super::{EcsAdapter, convert};
use crate::aws::raw_json::{self, RawSuccessBody};
use crate::platform::{ApiError, ApiErrorKind, ApiResult, OneOffTasks, RunTaskRequest, Task};

#[async_trait]
impl OneOffTasks for EcsAdapter {
    async fn run_task(&self, r: &RunTaskRequest) -> ApiResult<Task> {
        const OP: &str = "RunTask";
        let raw = RawSuccessBody::new(|| RunTaskOutput::builder().build());
        // The client token makes the SDK's retries of a lost answer start one task, not two;
        // it is new for every one-off (ECS answers a token it saw with the task it started).
        let token = client_token();
        let request = self
            .client
            .run_task()
            .cluster(&r.cluster)
            .task_definition(&r.task_definition)
            .started_by(&r.started_by)
            .client_token(token)
            .count(1)
            .set_launch_type(r.launch_type.as_deref().map(LaunchType::from))
            .set_capacity_provider_strategy(strategy(r))
            .set_network_configuration(r.network.as_ref().map(network))
            .set_platform_version(r.platform_version.clone())
            .overrides(overrides(r))
            .customize()
            .interceptor(raw.clone())
            .send();
        self.calls.call(OP, request).await?;
        let out = raw_json::response_json(OP, raw.take())?;
        if let Some(task) = convert::tasks(&out).next() {
            return Ok(task);
        }
        // Like StartTask, RunTask reports what it could not place as failures.
        let failures: Vec<String> = convert::failures(&out)
            .iter()
            .map(ToString::to_string)
            .collect();
        let message = if failures.is_empty() {
            "ECS started no task and reported no failure".to_string()
        } else {
            format!("ECS started no task: {}", failures.join("; "))
        };
        Err(ApiError::new(OP, ApiErrorKind::InvalidRequest, message))
    }
}

fn client_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("ecs-roll-{}-{nanos}", std::process::id())
}

fn strategy(r: &RunTaskRequest) -> Option<Vec<CapacityProviderStrategyItem>> {
    let items: Vec<_> = r
        .capacity_provider_strategy
        .iter()
        .filter_map(|i| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&i.capacity_provider)
                .weight(i.weight)
                .base(i.base)
                .build()
                .ok()
        })
        .collect();
    (!items.is_empty()).then_some(items)
}

fn network(n: &crate::platform::AwsVpcConfiguration) -> NetworkConfiguration {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(n.subnets.clone()))
        .set_security_groups(Some(n.security_groups.clone()))
        .assign_public_ip(if n.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .ok();
    NetworkConfiguration::builder()
        .set_awsvpc_configuration(vpc)
        .build()
}

fn overrides(r: &RunTaskRequest) -> TaskOverride {
    let containers = r
        .overrides
        .iter()
        .map(|o| {
            let env = o
                .environment
                .iter()
                .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                .collect();
            ContainerOverride::builder()
                .name(&o.name)
                .set_command(o.command.clone())
                .set_environment(Some(env).filter(|e: &Vec<_>| !e.is_empty()))
                .build()
        })
        .collect();
    TaskOverride::builder()
        .set_container_overrides(Some(containers))
        .build()
}
