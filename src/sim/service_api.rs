//! `platform::EcsServices` over the simulated world. `service_tasks` is what a client does:
//! ListTasks pages of 100 ARNs, then DescribeTasks in batches of 100, each call logged and
//! subject to faults on its own.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::Sim;
use super::world::{Fail, World};
use crate::platform::{
    ApiResult, EcsServices, Service, ServiceDeployment, ServiceUpdate, Task, TaskStatus,
};

/// ListTasks and DescribeTasks take at most this many tasks per call.
const PAGE: usize = 100;

/// ECS keeps stopped tasks describable for about an hour.
const STOPPED_TASKS_KEPT: Duration = Duration::from_secs(3600);

impl World {
    /// ListTasks with `serviceName` and `desiredStatus`: one page from `offset`, and whether
    /// there are more.
    fn list_service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: &str,
        offset: usize,
        now: Instant,
    ) -> Result<(Vec<String>, bool), Fail> {
        if !matches!(desired_status, "RUNNING" | "PENDING" | "STOPPED") {
            return Err(Fail::invalid(format!(
                "InvalidParameterException: desiredStatus {desired_status} is not one of RUNNING, PENDING, STOPPED"
            )));
        }
        let svc = self.service(cluster, service)?;
        let arns: Vec<String> = svc
            .tasks
            .iter()
            .map(|st| &self.tasks[st.index])
            .filter(|t| t.desired_status(now) == desired_status)
            .filter(|t| {
                t.stopped_at()
                    .is_none_or(|at| !t.is_stopped(now) || now < at + STOPPED_TASKS_KEPT)
            })
            .map(|t| t.arn.clone())
            .collect();
        let page: Vec<String> = arns.iter().skip(offset).take(PAGE).cloned().collect();
        let more = arns.len() > offset + PAGE;
        Ok((page, more))
    }
}

impl Sim {
    /// ListTasks page by page (`page` lists the page at an offset, and whether more follow),
    /// then DescribeTasks of the listed tasks, 100 at a time.
    async fn listed_tasks(
        &self,
        cluster: &str,
        page: impl Fn(&World, Instant, usize) -> Result<(Vec<String>, bool), Fail>,
    ) -> ApiResult<Vec<Task>> {
        let mut arns = Vec::new();
        loop {
            let offset = arns.len();
            let (listed, more) = self
                .call("ListTasks", |w, now| page(w, now, offset))
                .await?;
            arns.extend(listed);
            if !more {
                break;
            }
        }
        let mut tasks = Vec::new();
        for batch in arns.chunks(PAGE) {
            let described = self
                .call("DescribeTasks", |w, now| {
                    w.cluster(cluster)?;
                    Ok(batch
                        .iter()
                        .filter_map(|arn| w.tasks.iter().find(|t| t.is(cluster, arn)))
                        .map(|t| t.describe(now))
                        .collect::<Vec<_>>())
                })
                .await?;
            tasks.extend(described);
        }
        Ok(tasks)
    }
}

#[async_trait]
impl EcsServices for Sim {
    async fn list_services(&self, cluster: &str) -> ApiResult<Vec<String>> {
        self.call("ListServices", |w, _| {
            w.cluster(cluster)?;
            Ok(w.services
                .values()
                .filter(|s| s.cluster == cluster)
                .map(|s| s.arn.clone())
                .collect())
        })
        .await
    }

    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        self.call("DescribeServices", |w, now| {
            w.describe_service(cluster, service, now)
        })
        .await
    }

    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> ApiResult<Vec<Service>> {
        self.call("DescribeServices", |w, now| {
            let mut out = Vec::new();
            for name in services {
                out.extend(w.describe_service(cluster, name, now)?);
            }
            Ok(out)
        })
        .await
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        self.change_call("UpdateService", |w, now| {
            w.update_service(cluster, service, update, now)
        })
        .await
    }

    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: TaskStatus,
    ) -> ApiResult<Vec<Task>> {
        self.listed_tasks(cluster, |w, now, offset| {
            w.list_service_tasks(cluster, service, desired_status.as_str(), offset, now)
        })
        .await
    }

    async fn cluster_service_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        let tasks = self
            .listed_tasks(cluster, |w, now, offset| {
                w.cluster(cluster)?;
                let all: Vec<&str> = w
                    .tasks
                    .iter()
                    .filter(|t| t.cluster == cluster && t.desired_status(now) == "RUNNING")
                    .map(|t| t.arn.as_str())
                    .collect();
                let page = all.iter().skip(offset).take(PAGE);
                Ok((
                    page.map(|a| a.to_string()).collect(),
                    all.len() > offset + PAGE,
                ))
            })
            .await?;
        Ok(tasks.into_iter().filter(Task::of_a_service).collect())
    }

    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>> {
        self.call("DescribeServiceDeployments", |w, _| {
            if !w.supports_service_deployments {
                return Ok(None);
            }
            let found = w.service(cluster, service)?.service_deployment(deployment_id);
            found.map(Some).ok_or_else(|| {
                Fail::not_found(format!(
                    "ServiceDeploymentNotFoundException: no service deployment {deployment_id} for service {service}"
                ))
            })
        })
        .await
    }

    async fn stop_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        arn: &str,
    ) -> ApiResult<()> {
        self.change_call("StopServiceDeployment", |w, now| {
            if !w.supports_service_deployments {
                return Err(Fail::invalid(
                    "the endpoint does not implement StopServiceDeployment",
                ));
            }
            w.stop_service_deployment(cluster, service, arn, now)
        })
        .await
    }
}
