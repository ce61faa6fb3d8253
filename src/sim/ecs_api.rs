//! `platform::Ecs` over the simulated world. Each method is one AWS operation, named as AWS
//! names it in the call log and in fault rules.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::Sim;
use crate::platform::{ApiResult, ContainerInstance, Ecs, Revision, Task};

#[async_trait]
impl Ecs for Sim {
    async fn cluster_is_active(&self, cluster: &str) -> ApiResult<bool> {
        self.call("DescribeClusters", |w, _| {
            Ok(w.clusters
                .get(cluster)
                .is_some_and(|c| c.status == "ACTIVE"))
        })
        .await
    }

    async fn container_instances(&self, cluster: &str) -> ApiResult<Vec<ContainerInstance>> {
        self.call("DescribeContainerInstances", |w, now| {
            Ok(w.cluster(cluster)?
                .instances
                .iter()
                .map(|i| i.describe(&w.tasks, now))
                .collect())
        })
        .await
    }

    async fn family_tasks(&self, cluster: &str, family: &str) -> ApiResult<Vec<Task>> {
        self.call("ListTasks", |w, now| {
            w.cluster(cluster)?;
            Ok(w.tasks
                .iter()
                .filter(|t| {
                    t.cluster == cluster && t.family == family && t.desired_status(now) == "RUNNING"
                })
                .map(|t| t.describe(now))
                .collect())
        })
        .await
    }

    async fn cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        self.call("ListTasks", |w, now| {
            w.cluster(cluster)?;
            Ok(w.tasks
                .iter()
                .filter(|t| t.cluster == cluster && t.desired_status(now) == "RUNNING")
                .map(|t| t.describe(now))
                .collect())
        })
        .await
    }

    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> ApiResult<Vec<Task>> {
        self.call("DescribeTasks", |w, now| {
            w.cluster(cluster)?;
            let found = task_arns
                .iter()
                .filter_map(|arn| w.tasks.iter().find(|t| t.is(cluster, arn)));
            Ok(found.map(|t| t.describe(now)).collect())
        })
        .await
    }

    async fn describe_task_definition(&self, reference: &str) -> ApiResult<Revision> {
        self.call("DescribeTaskDefinition", |w, _| {
            w.task_definitions.describe(reference).cloned()
        })
        .await
    }

    async fn register_task_definition(
        &self,
        body: &serde_json::Value,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<Revision> {
        self.call("RegisterTaskDefinition", |w, now| {
            let elapsed = w.elapsed(now).as_secs_f64();
            w.task_definitions.register(body, tags, elapsed)
        })
        .await
    }

    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        self.call("TagResource", |w, _| w.task_definitions.tag(arn, tags))
            .await
    }

    async fn start_task(
        &self,
        cluster: &str,
        task_definition_arn: &str,
        container_instance_arn: &str,
        started_by: &str,
    ) -> ApiResult<Task> {
        self.change_call("StartTask", |w, now| {
            let delay = w.timings.task_start;
            w.start_task(
                cluster,
                task_definition_arn,
                container_instance_arn,
                Some(started_by),
                now,
                delay,
            )
        })
        .await
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> ApiResult<()> {
        self.change_call("StopTask", |w, now| {
            w.stop_task(cluster, task_arn, reason, now)
        })
        .await
    }

    async fn list_task_definitions(&self, family: &str) -> ApiResult<Vec<String>> {
        self.call("ListTaskDefinitions", |w, _| {
            Ok(w.task_definitions.active_of(family))
        })
        .await
    }

    async fn deregister_task_definition(&self, arn: &str) -> ApiResult<()> {
        self.change_call("DeregisterTaskDefinition", |w, now| {
            let elapsed = w.elapsed(now).as_secs_f64();
            w.task_definitions.deregister(arn, elapsed).map(|_| ())
        })
        .await
    }
}
