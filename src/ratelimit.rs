//! A client-side rate limit shared by every target of a multi-target deploy, so 50 services
//! deploying at once stay under the account's API rate limits instead of relying on
//! throttling and retries. A token bucket on tokio time (paused in tests and benchmarks),
//! wrapped around the platform traits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use crate::platform::*;

/// The shortest sleep for a token: below the timer's resolution a sleep does not wait.
const MIN_WAIT: Duration = Duration::from_millis(1);

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
    /// Waiters take their turn in order (tokio's mutex is fair): without it, every waiter
    /// wakes when a token is due, one gets it, and under load some wait far longer than
    /// the others.
    queue: tokio::sync::Mutex<()>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: u32) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            per_second,
            burst: f64::from(burst),
            state: Mutex::new((f64::from(burst), Instant::now())),
            queue: tokio::sync::Mutex::new(()),
        })
    }

    /// Waits for a token, first come first served.
    pub async fn acquire(&self) {
        let _turn = self.queue.lock().await;
        loop {
            let wait = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let refill = now.duration_since(st.1).as_secs_f64() * self.per_second;
                st.0 = (st.0 + refill).min(self.burst);
                st.1 = now;
                // Within rounding of a whole token is a token: the wait for the last
                // billionth would round to a zero sleep, and a zero sleep never lets a paused
                // clock move (nor, on a real one, anything else run): the loop would spin.
                if st.0 >= 1.0 - 1e-6 {
                    st.0 = (st.0 - 1.0).max(0.0);
                    return;
                }
                Duration::from_secs_f64((1.0 - st.0) / self.per_second).max(MIN_WAIT)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One rate limit per account and region: API rate limits are per account and per region,
/// so targets in another region (or account) take nothing from this one's budget.
#[derive(Debug)]
pub struct Limiters {
    per_second: f64,
    burst: u32,
    scopes: Mutex<BTreeMap<String, Arc<RateLimiter>>>,
}

impl Limiters {
    pub fn new(per_second: f64, burst: u32) -> Arc<Limiters> {
        Arc::new(Limiters {
            per_second,
            burst,
            scopes: Mutex::new(BTreeMap::new()),
        })
    }

    /// The limit of `scope` (region and profile), made on first use.
    pub fn of(&self, scope: &str) -> Arc<RateLimiter> {
        let mut m = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(scope.to_string())
            .or_insert_with(|| RateLimiter::new(self.per_second, self.burst))
            .clone()
    }
}

/// The AWS requests behind a listing that returned `items`: List* pages of 100, then one
/// Describe* per 100 (none when the list was empty).
pub(crate) fn list_then_describe(items: usize) -> u32 {
    let pages = items.div_ceil(100).max(1);
    (pages + items.div_ceil(100)) as u32
}

impl RateLimiter {
    /// Takes `n` tokens, one at a time, so a long listing cannot starve the others.
    async fn acquire_n(&self, n: u32) {
        for _ in 0..n {
            self.acquire().await;
        }
    }
}

/// A platform client that takes a token per AWS request: one before each call, and for the
/// calls that are several requests (list then describe), the rest once their size is known.
pub struct Limited<T: ?Sized> {
    inner: Arc<T>,
    limiter: Arc<RateLimiter>,
}

impl<T: ?Sized> Limited<T> {
    pub fn new(inner: Arc<T>, limiter: Arc<RateLimiter>) -> Arc<Limited<T>> {
        Arc::new(Limited { inner, limiter })
    }
}

#[async_trait]
impl Ecs for Limited<dyn Ecs> {
    async fn cluster_is_active(&self, cluster: &str) -> ApiResult<bool> {
        self.limiter.acquire().await;
        self.inner.cluster_is_active(cluster).await
    }
    async fn container_instances(&self, cluster: &str) -> ApiResult<Vec<ContainerInstance>> {
        self.limiter.acquire().await;
        let out = self.inner.container_instances(cluster).await?;
        self.limiter
            .acquire_n(list_then_describe(out.len()) - 1)
            .await;
        Ok(out)
    }
    async fn family_tasks(&self, cluster: &str, family: &str) -> ApiResult<Vec<Task>> {
        self.limiter.acquire().await;
        let out = self.inner.family_tasks(cluster, family).await?;
        self.limiter
            .acquire_n(list_then_describe(out.len()) - 1)
            .await;
        Ok(out)
    }
    async fn cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        self.limiter.acquire().await;
        let out = self.inner.cluster_tasks(cluster).await?;
        self.limiter
            .acquire_n(list_then_describe(out.len()) - 1)
            .await;
        Ok(out)
    }
    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> ApiResult<Vec<Task>> {
        // One DescribeTasks per 100 tasks.
        self.limiter
            .acquire_n(task_arns.len().div_ceil(100).max(1) as u32)
            .await;
        self.inner.describe_tasks(cluster, task_arns).await
    }
    async fn describe_task_definition(&self, reference: &str) -> ApiResult<Revision> {
        self.limiter.acquire().await;
        self.inner.describe_task_definition(reference).await
    }
    async fn register_task_definition(
        &self,
        body: &Value,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<Revision> {
        self.limiter.acquire().await;
        self.inner.register_task_definition(body, tags).await
    }
    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.tag_task_definition(arn, tags).await
    }
    async fn start_task(
        &self,
        cluster: &str,
        task_definition_arn: &str,
        container_instance_arn: &str,
        started_by: &str,
    ) -> ApiResult<Task> {
        self.limiter.acquire().await;
        self.inner
            .start_task(
                cluster,
                task_definition_arn,
                container_instance_arn,
                started_by,
            )
            .await
    }
    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.stop_task(cluster, task_arn, reason).await
    }
    async fn list_task_definitions(&self, family: &str) -> ApiResult<Vec<String>> {
        self.limiter.acquire().await;
        let out = self.inner.list_task_definitions(family).await?;
        // One request per page of 100 after the first.
        self.limiter
            .acquire_n(out.len().div_ceil(100).max(1) as u32 - 1)
            .await;
        Ok(out)
    }
    async fn deregister_task_definition(&self, arn: &str) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.deregister_task_definition(arn).await
    }
}

#[async_trait]
impl ClassicElb for Limited<dyn ClassicElb> {
    async fn describe_load_balancer(&self, name: &str) -> ApiResult<Option<ClassicLoadBalancer>> {
        self.limiter.acquire().await;
        self.inner.describe_load_balancer(name).await
    }
    async fn instance_health(&self, name: &str) -> ApiResult<Vec<InstanceHealth>> {
        self.limiter.acquire().await;
        self.inner.instance_health(name).await
    }
    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.register_instances(name, instance_ids).await
    }
    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.deregister_instances(name, instance_ids).await
    }
}

#[async_trait]
impl EcsServices for Limited<dyn EcsServices> {
    fn pace(&self, cluster: &str) -> crate::platform::Pace {
        self.inner.pace(cluster)
    }
    async fn list_services(&self, cluster: &str) -> ApiResult<Vec<String>> {
        self.limiter.acquire().await;
        let out = self.inner.list_services(cluster).await?;
        self.limiter
            .acquire_n(out.len().div_ceil(100).max(1) as u32 - 1)
            .await;
        Ok(out)
    }
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        self.limiter.acquire().await;
        self.inner.describe_service(cluster, service).await
    }
    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> ApiResult<Vec<Service>> {
        self.limiter.acquire().await;
        self.inner.describe_services(cluster, services).await
    }
    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        self.limiter.acquire().await;
        self.inner.update_service(cluster, service, update).await
    }
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: TaskStatus,
    ) -> ApiResult<Vec<Task>> {
        self.limiter.acquire().await;
        let out = self
            .inner
            .service_tasks(cluster, service, desired_status)
            .await?;
        self.limiter
            .acquire_n(list_then_describe(out.len()) - 1)
            .await;
        Ok(out)
    }
    async fn cluster_service_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        self.limiter.acquire().await;
        let out = self.inner.cluster_service_tasks(cluster).await?;
        self.limiter
            .acquire_n(list_then_describe(out.len()) - 1)
            .await;
        Ok(out)
    }
    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>> {
        self.limiter.acquire().await;
        let out = self
            .inner
            .service_deployment(cluster, service, deployment_id)
            .await?;
        // ListServiceDeployments, then DescribeServiceDeployments when it was found.
        if out.is_some() {
            self.limiter.acquire().await;
        }
        Ok(out)
    }
    async fn stop_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        arn: &str,
    ) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner
            .stop_service_deployment(cluster, service, arn)
            .await
    }
}

#[async_trait]
impl TargetGroups for Limited<dyn TargetGroups> {
    async fn describe_target_group(&self, arn: &str) -> ApiResult<Option<TargetGroup>> {
        self.limiter.acquire().await;
        self.inner.describe_target_group(arn).await
    }
    async fn target_health(&self, arn: &str) -> ApiResult<Vec<TargetHealth>> {
        self.limiter.acquire().await;
        self.inner.target_health(arn).await
    }
}

#[async_trait]
impl ResourceTags for Limited<dyn ResourceTags> {
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>> {
        self.limiter.acquire().await;
        self.inner.cluster_arn(cluster).await
    }
    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        self.limiter.acquire().await;
        self.inner.resource_tags(arn).await
    }
    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.tag_resource(arn, tags).await
    }
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.limiter.acquire().await;
        self.inner.untag_resource(arn, keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_the_burst_then_the_rate() {
        let l = RateLimiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        for _ in 0..20 {
            l.acquire().await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((1.95..=2.05).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_a_hair_short_of_whole_does_not_spin() {
        // 10/s: after 99.99999999 ms the bucket holds 0.9999999999 of a token.
        let l = RateLimiter::new(10.0, 1);
        l.acquire().await;
        tokio::time::advance(Duration::from_nanos(99_999_999)).await;
        let took = tokio::time::timeout(Duration::from_secs(1), l.acquire()).await;
        assert!(took.is_ok(), "the second token never came");
    }

    #[tokio::test(start_paused = true)]
    async fn each_region_and_account_has_a_budget_of_its_own() {
        let limits = Limiters::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limits.of("us-east-1/").acquire().await;
            limits.of("eu-west-1/").acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "each has its own burst");
        limits.of("us-east-1/").acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(100), "and shares it");
    }

    #[test]
    fn a_listing_costs_its_pages_and_its_describes() {
        let table = [(0, 1), (1, 2), (100, 2), (101, 4), (150, 4), (250, 6)];
        for (items, requests) in table {
            assert_eq!(list_then_describe(items), requests, "{items} items");
        }
    }
}
