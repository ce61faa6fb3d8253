//! `platform::EcsServices` over the ECS SDK: a second impl on `EcsAdapter`, so standalone tasks and
//! services share one client and one call counter.
//!
//! moto (the test bed) parses DescribeServices and UpdateService replies cleanly into the SDK's
//! types, so services are read from those; tasks still go through the raw-JSON path of
//! `Ecs::describe_tasks`. moto implements none of the service-deployment operations: it answers
//! them with an HTML 500 page, which `unsupported_operation` recognises.

mod convert;

use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;

use async_trait::async_trait;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::{self as sdk, DesiredStatus};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::paginate::paginate;
use super::{EcsAdapter, errors};
use crate::platform::{
    ApiError, ApiErrorKind, ApiResult, Ecs, EcsServices, Service, ServiceDeployment, ServiceUpdate,
    Task, TaskStatus,
};

/// The most ARNs DescribeServiceRevisions accepts in one call.
const REVISIONS_BATCH: usize = 20;
/// How many pages of ListServiceDeployments are searched for a deployment. The list comes newest
/// first and the deployment asked about is the service's current one, so it is on the first page
/// unless a stream of newer deployments has already replaced it.
const LIST_DEPLOYMENT_PAGES: usize = 3;

/// Error codes with which endpoints say they do not know an operation. `UnsupportedFeatureException`
/// is ECS's own "not available in this Region".
const UNSUPPORTED_CODES: &[&str] = &[
    "UnknownOperationException",
    "UnknownOperation",
    "InvalidAction",
    "UnsupportedOperation",
    "UnsupportedOperationException",
    "UnsupportedFeatureException",
    "NotImplemented",
];

impl EcsAdapter {
    /// DescribeServices for one service; None when ECS reports it MISSING.
    async fn describe_sdk_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> ApiResult<Option<sdk::Service>> {
        const OP: &str = "DescribeServices";
        let request = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send();
        let out = self.calls.call(OP, request).await?;
        one_service(OP, service, out)
    }

    async fn list_service_task_arns(
        &self,
        cluster: &str,
        service_name: &str,
        desired_status: &str,
    ) -> ApiResult<Vec<String>> {
        paginate(|next_token| async move {
            let request = self
                .client
                .list_tasks()
                .cluster(cluster)
                .service_name(service_name)
                .desired_status(DesiredStatus::from(desired_status))
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListTasks", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.task_arns().to_vec(), next))
        })
        .await
    }

    /// Counts and sends a call to an operation the endpoint may not implement: Ok(None) when it
    /// says so, every other failure classified as usual.
    async fn call_if_supported<T, E>(
        &self,
        operation: &'static str,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> ApiResult<Option<T>>
    where
        E: ProvideErrorMetadata + Error + 'static,
    {
        self.calls.record(operation);
        match request.await {
            Ok(out) => Ok(Some(out)),
            Err(e) if unsupported_operation(&e) => Ok(None),
            Err(e) => Err(errors::api_error(operation, &e)),
        }
    }

    /// The service deployment behind `deployment_id`, found through ListServiceDeployments (for
    /// services whose description names no current service deployment). None when the endpoint
    /// cannot list them or lists none.
    async fn find_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<String>> {
        let mut seen = Vec::new();
        let mut next_token = None;
        for _ in 0..LIST_DEPLOYMENT_PAGES {
            let request = self
                .client
                .list_service_deployments()
                .cluster(cluster)
                .service(service)
                .set_next_token(next_token.take())
                .send();
            let Some(page) = self
                .call_if_supported("ListServiceDeployments", request)
                .await?
            else {
                return Ok(None);
            };
            if let Some(found) =
                convert::matching_deployment(page.service_deployments(), deployment_id)
            {
                return Ok(Some(found));
            }
            seen.extend(page.service_deployments().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => next_token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(convert::newest_deployment(&seen))
    }

    /// Task definition ARN of each service revision named by `deployment`. An endpoint without
    /// DescribeServiceRevisions leaves the map empty.
    async fn revision_task_definitions(
        &self,
        deployment: &sdk::ServiceDeployment,
    ) -> ApiResult<BTreeMap<String, String>> {
        let mut arns: Vec<String> = deployment
            .target_service_revision()
            .into_iter()
            .chain(deployment.source_service_revisions())
            .filter_map(|r| r.arn().map(String::from))
            .collect();
        arns.sort();
        arns.dedup();
        let mut out = BTreeMap::new();
        for batch in arns.chunks(REVISIONS_BATCH) {
            let request = self
                .client
                .describe_service_revisions()
                .set_service_revision_arns(Some(batch.to_vec()))
                .send();
            let Some(page) = self
                .call_if_supported("DescribeServiceRevisions", request)
                .await?
            else {
                return Ok(out);
            };
            out.extend(page.service_revisions().iter().filter_map(|r| {
                Some((
                    r.service_revision_arn()?.to_string(),
                    r.task_definition()?.to_string(),
                ))
            }));
        }
        Ok(out)
    }
}

#[async_trait]
impl EcsServices for EcsAdapter {
    async fn list_services(&self, cluster: &str) -> ApiResult<Vec<String>> {
        paginate(|next_token| async move {
            let request = self
                .client
                .list_services()
                .cluster(cluster)
                .set_next_token(next_token)
                .send();
            let page = self.calls.call("ListServices", request).await?;
            let next = page.next_token().map(String::from);
            Ok((page.service_arns().to_vec(), next))
        })
        .await
    }

    /// A service that was deleted (status INACTIVE, still listed by ECS for a while) is returned
    /// as it is; only one ECS does not know at all is None.
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        Ok(self
            .describe_sdk_service(cluster, service)
            .await?
            .map(|s| convert::service(&s)))
    }

    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> ApiResult<Vec<Service>> {
        const OP: &str = "DescribeServices";
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let request = self
            .client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(services.to_vec()))
            .send();
        let out = self.calls.call(OP, request).await?;
        // Failures name the services ECS could not describe; MISSING ones are simply absent.
        let failures: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| f.reason() != Some("MISSING"))
            .map(convert::failure)
            .collect();
        if !failures.is_empty() {
            return Err(ApiError::new(
                OP,
                ApiErrorKind::Other,
                format!("ECS could not describe: {}", failures.join("; ")),
            ));
        }
        Ok(out.services().iter().map(convert::service).collect())
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        const OP: &str = "UpdateService";
        let mut request = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_task_definition(update.task_definition.clone());
        if let Some(wanted) = &update.deployment_configuration {
            // Whether ECS merges a partial deploymentConfiguration into the current one or resets
            // the members left out is not something to rely on (moto replaces it whole). So the
            // current configuration is read and sent back with only the requested members
            // changed; members ecs-roll does not model (canary and linear settings, lifecycle
            // hooks, circuit breaker thresholds) travel along untouched.
            let current = self
                .describe_sdk_service(cluster, service)
                .await?
                .ok_or_else(|| missing_service(OP, cluster, service))?;
            let merged = convert::merged_configuration(current.deployment_configuration(), wanted)
                .map_err(|m| ApiError::new(OP, ApiErrorKind::InvalidRequest, m))?;
            request = request.deployment_configuration(merged);
        }
        let out = self.calls.call(OP, request.send()).await?;
        out.service().map(convert::service).ok_or_else(|| {
            ApiError::new(
                OP,
                ApiErrorKind::Other,
                format!("unexpected response: no service in the reply for {service}"),
            )
        })
    }

    /// ListTasks' `serviceName` filter is applied by ECS; the tasks are also kept only if their
    /// group is `service:NAME`, because some endpoints (moto) ignore the filter and list every
    /// task of the cluster.
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: TaskStatus,
    ) -> ApiResult<Vec<Task>> {
        let name = convert::service_name(service);
        let arns = self
            .list_service_task_arns(cluster, name, desired_status.as_str())
            .await?;
        let tasks = Ecs::describe_tasks(self, cluster, &arns).await?;
        Ok(tasks.into_iter().filter(|t| t.of_service(name)).collect())
    }

    async fn cluster_service_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        let tasks = Ecs::cluster_tasks(self, cluster).await?;
        Ok(tasks.into_iter().filter(Task::of_a_service).collect())
    }

    /// The service's current service deployment, as DescribeServices names it; where it names
    /// none, the listed service deployment whose target revision carries `deployment_id`'s number,
    /// else the newest listed. Ok(None) where the endpoint lacks the service-deployment operations
    /// (moto) or has no service deployment for the service. The caller can compare
    /// `target_task_definition` with the deployment's task definition to be sure it is the same
    /// rollout.
    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>> {
        const OP: &str = "DescribeServiceDeployments";
        let described = self
            .describe_sdk_service(cluster, service)
            .await?
            .ok_or_else(|| missing_service("DescribeServices", cluster, service))?;
        let arn = match described.current_service_deployment() {
            Some(arn) if !arn.is_empty() => arn.to_string(),
            _ => match self
                .find_service_deployment(cluster, service, deployment_id)
                .await?
            {
                Some(arn) => arn,
                None => return Ok(None),
            },
        };
        let request = self
            .client
            .describe_service_deployments()
            .service_deployment_arns(&arn)
            .send();
        let Some(out) = self.call_if_supported(OP, request).await? else {
            return Ok(None);
        };
        let Some(found) = out
            .service_deployments()
            .iter()
            .find(|d| d.service_deployment_arn() == Some(arn.as_str()))
            .or_else(|| out.service_deployments().first())
        else {
            let failures: Vec<String> = out
                .failures()
                .iter()
                .filter(|f| f.reason() != Some("MISSING"))
                .map(convert::failure)
                .collect();
            if failures.is_empty() {
                return Ok(None);
            }
            return Err(ApiError::new(
                OP,
                ApiErrorKind::Other,
                format!(
                    "ECS described no service deployment: {}",
                    failures.join("; ")
                ),
            ));
        };
        let task_definitions = self.revision_task_definitions(found).await?;
        Ok(Some(convert::service_deployment(found, &task_definitions)))
    }

    async fn stop_service_deployment(
        &self,
        _cluster: &str,
        _service: &str,
        arn: &str,
    ) -> ApiResult<()> {
        const OP: &str = "StopServiceDeployment";
        let request = self
            .client
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(sdk::StopServiceDeploymentStopType::Rollback)
            .send();
        match self.call_if_supported(OP, request).await? {
            Some(_) => Ok(()),
            None => Err(ApiError::new(
                OP,
                ApiErrorKind::InvalidRequest,
                "the endpoint does not implement StopServiceDeployment",
            )),
        }
    }
}

/// The one service of a DescribeServices reply for `service`. A MISSING failure is None; any
/// other failure is an error, since ECS then could not say whether the service exists.
fn one_service(
    operation: &'static str,
    service: &str,
    out: DescribeServicesOutput,
) -> ApiResult<Option<sdk::Service>> {
    let name = convert::service_name(service);
    let mut services = out.services.unwrap_or_default();
    if let Some(i) = services
        .iter()
        .position(|s| s.service_name() == Some(name) || s.service_arn() == Some(service))
    {
        return Ok(Some(services.swap_remove(i)));
    }
    if let Some(only) = services.pop() {
        return Ok(Some(only));
    }
    let failures = out.failures.unwrap_or_default();
    if failures.is_empty() || failures.iter().any(|f| f.reason() == Some("MISSING")) {
        return Ok(None);
    }
    let listed: Vec<String> = failures.iter().map(convert::failure).collect();
    Err(ApiError::new(
        operation,
        ApiErrorKind::Other,
        format!("ECS described no service {service}: {}", listed.join("; ")),
    ))
}

fn missing_service(operation: &'static str, cluster: &str, service: &str) -> ApiError {
    ApiError::new(
        operation,
        ApiErrorKind::NotFound,
        format!("service {service} not found in cluster {cluster}"),
    )
}

/// Whether a failed call means "this endpoint does not implement the operation" rather than a
/// failure of the operation: a 501, an error code that says so, or, without any error code, a 404
/// or an HTML 500 page. AWS itself answers every error with a JSON body and a code; moto (through
/// Werkzeug) answers an action it lacks with its generic HTML 500 page. Denials, throttling and
/// AWS's own 5xx errors all carry codes and stay errors.
fn unsupported_operation<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    let Some(response) = err.raw_response() else {
        // Timeouts and connection failures: nothing was answered at all.
        return false;
    };
    let status = response.status().as_u16();
    if status == 501 {
        return true;
    }
    match err.code() {
        Some(code) => UNSUPPORTED_CODES.contains(&code),
        None => status == 404 || (status == 500 && body_is_html(response)),
    }
}

fn body_is_html(response: &HttpResponse) -> bool {
    let Some(bytes) = response.body().bytes() else {
        return false;
    };
    let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
        .trim_start()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}
