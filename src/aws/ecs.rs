//! `platform::Ecs` over the ECS SDK. Task definitions go through `raw_json` so no field is lost.

mod convert;
mod one_off;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::start_task::StartTaskOutput;
use aws_sdk_ecs::operation::stop_task::StopTaskOutput;
use aws_sdk_ecs::types::{DesiredStatus, TaskDefinitionField, TaskDefinitionStatus};
use serde_json::Value;

use super::ApiCalls;
use super::paginate::paginate;
use super::raw_json::{self, RawSuccessBody, ReplaceRequestBody};
use crate::platform::{ApiError, ApiErrorKind, ApiResult, ContainerInstance, Ecs, Revision, Task};

/// The most ARNs DescribeTasks / DescribeContainerInstances accept in one call.
const DESCRIBE_BATCH: usize = 100;

pub struct EcsAdapter {
    // Visible to `aws::services`, whose `EcsServices` impl shares this client and counter.
    pub(super) client: Client,
    pub(super) calls: ApiCalls,
}

impl EcsAdapter {
    pub fn new(config: &SdkConfig, calls: ApiCalls) -> EcsAdapter {
        EcsAdapter {
            client: Client::new(config),
            calls,
        }
    }

    async fn list_container_instance_arns(&self, cluster: &str) -> ApiResult<Vec<String>> {
        paginate(|next_token| async move {
            let request = self
                .client
                .list_container_instances()
                .cluster(cluster)
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListContainerInstances", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.container_instance_arns().to_vec(), next))
        })
        .await
    }

    /// ListTasks of the cluster, RUNNING desired, every family.
    async fn list_running_cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<String>> {
        paginate(|next_token| async move {
            let request = self
                .client
                .list_tasks()
                .cluster(cluster)
                .desired_status(DesiredStatus::Running)
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListTasks", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.task_arns().to_vec(), next))
        })
        .await
    }

    async fn list_running_family_tasks(
        &self,
        cluster: &str,
        family: &str,
    ) -> ApiResult<Vec<String>> {
        paginate(|next_token| async move {
            let request = self
                .client
                .list_tasks()
                .cluster(cluster)
                .family(family)
                .desired_status(DesiredStatus::Running)
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListTasks", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.task_arns().to_vec(), next))
        })
        .await
    }
}

#[async_trait]
impl Ecs for EcsAdapter {
    async fn cluster_is_active(&self, cluster: &str) -> ApiResult<bool> {
        let request = self.client.describe_clusters().clusters(cluster).send();
        match self.calls.call("DescribeClusters", request).await {
            // A missing cluster comes back as a MISSING failure, or as an error from some endpoints.
            Ok(out) => Ok(out.clusters().iter().any(|c| c.status() == Some("ACTIVE"))),
            Err(e) if e.kind == ApiErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn container_instances(&self, cluster: &str) -> ApiResult<Vec<ContainerInstance>> {
        let arns = self.list_container_instance_arns(cluster).await?;
        let mut out = Vec::with_capacity(arns.len());
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let request = self
                .client
                .describe_container_instances()
                .cluster(cluster)
                .set_container_instances(Some(batch.to_vec()));
            let page = self
                .calls
                .call("DescribeContainerInstances", request.send())
                .await?;
            out.extend(
                page.container_instances()
                    .iter()
                    .map(convert::container_instance),
            );
        }
        Ok(out)
    }

    async fn family_tasks(&self, cluster: &str, family: &str) -> ApiResult<Vec<Task>> {
        let arns = self.list_running_family_tasks(cluster, family).await?;
        self.describe_tasks(cluster, &arns).await
    }

    async fn cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        let arns = self.list_running_cluster_tasks(cluster).await?;
        self.describe_tasks(cluster, &arns).await
    }

    /// Tasks ECS no longer knows (reported as MISSING) are left out of the result.
    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> ApiResult<Vec<Task>> {
        const OP: &str = "DescribeTasks";
        let mut out = Vec::with_capacity(task_arns.len());
        for batch in task_arns.chunks(DESCRIBE_BATCH) {
            let raw = RawSuccessBody::new(|| DescribeTasksOutput::builder().build());
            let request = self
                .client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(batch.to_vec()))
                .customize()
                .interceptor(raw.clone())
                .send();
            self.calls.call(OP, request).await?;
            out.extend(convert::tasks(&raw_json::response_json(OP, raw.take())?));
        }
        Ok(out)
    }

    async fn describe_task_definition(&self, reference: &str) -> ApiResult<Revision> {
        const OP: &str = "DescribeTaskDefinition";
        let raw = RawSuccessBody::new(|| DescribeTaskDefinitionOutput::builder().build());
        let request = self
            .client
            .describe_task_definition()
            .task_definition(reference)
            .include(TaskDefinitionField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send();
        self.calls.call(OP, request).await?;
        raw_json::revision_from_response(OP, raw_json::response_json(OP, raw.take())?, None)
    }

    async fn register_task_definition(
        &self,
        body: &Value,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<Revision> {
        const OP: &str = "RegisterTaskDefinition";
        let invalid = |m: String| ApiError::new(OP, ApiErrorKind::InvalidRequest, m);
        let body = raw_json::with_tags(body, tags).map_err(invalid)?;
        let bytes = serde_json::to_vec(&body).map_err(|e| invalid(e.to_string()))?;
        let raw = RawSuccessBody::new(|| RegisterTaskDefinitionOutput::builder().build());
        // The typed input only has to serialise; ReplaceRequestBody sends `body` instead. The
        // family is set so logs and tracing still name the right one.
        let request = self
            .client
            .register_task_definition()
            .family(
                body.get("family")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .set_container_definitions(Some(Vec::new()))
            .customize()
            .interceptor(ReplaceRequestBody::new(bytes))
            .interceptor(raw.clone())
            .send();
        self.calls.call(OP, request).await?;
        let sent_tags = raw_json::tags_of(body.get("tags"));
        raw_json::revision_from_response(
            OP,
            raw_json::response_json(OP, raw.take())?,
            Some(&sent_tags),
        )
    }

    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        // A revision is tagged like any other ECS resource.
        crate::platform::ResourceTags::tag_resource(self, arn, tags).await
    }

    async fn start_task(
        &self,
        cluster: &str,
        task_definition_arn: &str,
        container_instance_arn: &str,
        started_by: &str,
    ) -> ApiResult<Task> {
        const OP: &str = "StartTask";
        let raw = RawSuccessBody::new(|| StartTaskOutput::builder().build());
        // Sent once: StartTask has no client token, and a retry after an answer that was lost
        // would start a second task. The engine looks for the first before it tries again
        // (`engine::rollout::start`).
        let once = aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled());
        let request = self
            .client
            .start_task()
            .cluster(cluster)
            .task_definition(task_definition_arn)
            .container_instances(container_instance_arn)
            .started_by(started_by)
            .customize()
            .config_override(once)
            .interceptor(raw.clone())
            .send();
        self.calls.call(OP, request).await?;
        let out = raw_json::response_json(OP, raw.take())?;
        if let Some(task) = convert::tasks(&out).next() {
            return Ok(task);
        }
        // StartTask succeeds at the HTTP level and reports placement problems as failures.
        let failures = convert::failures(&out);
        let kind = if failures.iter().any(|f| f.reason == "MISSING") {
            ApiErrorKind::NotFound
        } else {
            ApiErrorKind::Other
        };
        let message = if failures.is_empty() {
            format!("ECS started no task on {container_instance_arn} and reported no failure")
        } else {
            let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
            format!("ECS started no task: {}", listed.join("; "))
        };
        Err(ApiError::new(OP, kind, message))
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> ApiResult<()> {
        // The reply describes the task, which the SDK cannot parse from moto (numbers where
        // the model has strings); nothing of it is needed, so it is taken raw and dropped.
        let raw = RawSuccessBody::new(|| StopTaskOutput::builder().build());
        let request = self
            .client
            .stop_task()
            .cluster(cluster)
            .task(task_arn)
            .reason(reason)
            .customize()
            .interceptor(raw.clone())
            .send();
        self.calls.call("StopTask", request).await?;
        Ok(())
    }

    async fn list_task_definitions(&self, family: &str) -> ApiResult<Vec<String>> {
        let arns = paginate(|next_token| async move {
            let request = self
                .client
                .list_task_definitions()
                .family_prefix(family)
                .status(TaskDefinitionStatus::Active)
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListTaskDefinitions", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.task_definition_arns().to_vec(), next))
        })
        .await?;
        Ok(arns
            .into_iter()
            .filter(|a| family_of_arn(a) == Some(family))
            .collect())
    }

    async fn deregister_task_definition(&self, arn: &str) -> ApiResult<()> {
        // The reply describes the revision, which the SDK cannot always parse from moto; only
        // success matters, so it is taken raw and dropped (as for StopTask).
        let raw = RawSuccessBody::new(|| DeregisterTaskDefinitionOutput::builder().build());
        let request = self
            .client
            .deregister_task_definition()
            .task_definition(arn)
            .customize()
            .interceptor(raw.clone())
            .send();
        self.calls.call("DeregisterTaskDefinition", request).await?;
        Ok(())
    }
}

/// `arn:…:task-definition/app:3` -> `app`.
fn family_of_arn(arn: &str) -> Option<&str> {
    crate::platform::short(arn).rsplit_once(':').map(|(f, _)| f)
}
