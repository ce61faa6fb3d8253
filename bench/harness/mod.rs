//! Support of the benchmark harness (`examples/bench.rs`): virtual-time stamps of the
//! engine's events, a log of the tag calls (the deploy lock) that the simulation does not
//! log itself, and `Frugal`, the prototype of "fewer calls per poll" for service mode.

#[cfg(ecs_roll_bench_evidence)]
pub mod evidence;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ecs_roll::engine::events::{Event, Observer};
use ecs_roll::platform::{
    ApiResult, EcsServices, ResourceTags, Service, ServiceDeployment, ServiceUpdate, TargetGroup,
    TargetGroups, TargetHealth, Task,
};
use ecs_roll::ratelimit::RateLimiter;
use ecs_roll::sim::{MemoryTags, Sim};
use tokio::time::Instant;

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Every engine event with the virtual time (s since the simulation was built) it came at.
pub struct Stamps {
    sim: Sim,
    events: Mutex<Vec<(f64, Event)>>,
}

impl Stamps {
    pub fn new(sim: Sim) -> Stamps {
        Stamps {
            sim,
            events: Mutex::new(Vec::new()),
        }
    }

    pub fn events(&self) -> Vec<(f64, Event)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Observer for Stamps {
    fn event(&self, event: &Event) {
        let at = secs(self.sim.elapsed());
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, event.clone()));
    }
}

/// Calls made outside the simulation's own log, with their virtual time.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<(f64, String)>>>);

impl CallLog {
    pub fn push(&self, at: f64, op: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, op.to_string()));
    }

    pub fn calls(&self) -> Vec<(f64, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `MemoryTags` whose calls are logged under the ECS operation names the AWS adapter uses.
pub struct LoggedTags {
    inner: MemoryTags,
    sim: Sim,
    log: CallLog,
}

impl LoggedTags {
    pub fn new(inner: MemoryTags, sim: Sim, log: CallLog) -> LoggedTags {
        LoggedTags { inner, sim, log }
    }

    fn note(&self, op: &str) {
        self.log.push(secs(self.sim.elapsed()), op);
    }
}

#[async_trait]
impl ResourceTags for LoggedTags {
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>> {
        self.note("DescribeClusters");
        self.inner.cluster_arn(cluster).await
    }
    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        self.note("ListTagsForResource");
        self.inner.resource_tags(arn).await
    }
    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
        self.note("TagResource");
        self.inner.tag_resource(arn, tags).await
    }
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.note("UntagResource");
        self.inner.untag_resource(arn, keys).await
    }
}

/// The prototype of "fewer calls per poll" in service mode, as a layer between the engine
/// and the platform so the engine's code runs unchanged: DescribeServices always goes
/// through; the service's RUNNING tasks, DescribeServiceDeployments and target health are
/// read again only when DescribeServices changed (deployments' status, rollout state,
/// counts, failed tasks, newest event), or when a health check may have changed a target
/// (one health-check interval since the last read while a target is not settled), or when
/// they are older than a minute (a safety net). Otherwise the previous answer is returned,
/// which is exactly what the platform would have answered: nothing the engine looks at can
/// change without one of those.
///
/// The src/ change this stands for: `observe::snapshot` keeps the previous snapshot and
/// re-reads the same parts under the same conditions.
pub struct Frugal {
    services: Arc<dyn EcsServices>,
    target_groups: Arc<dyn TargetGroups>,
    state: Mutex<FrugalState>,
}

#[derive(Default)]
struct FrugalState {
    /// Bumped whenever DescribeServices answers something new.
    version: u64,
    last_service: Option<String>,
    tasks: Option<(u64, Instant, Vec<Task>)>,
    deployments: HashMap<String, (u64, Option<ServiceDeployment>)>,
    health: HashMap<String, (u64, Instant, Vec<TargetHealth>)>,
    intervals: HashMap<String, Duration>,
}

const SAFETY_NET: Duration = Duration::from_secs(60);

fn service_fingerprint(s: &Service) -> String {
    let mut fp = format!(
        "{}:{}:{};",
        s.desired_count, s.running_count, s.pending_count
    );
    for d in &s.deployments {
        fp.push_str(&format!(
            "{}:{}:{:?}:{}:{}:{}:{};",
            d.id,
            d.status,
            d.rollout_state,
            d.desired_count,
            d.running_count,
            d.pending_count,
            d.failed_tasks
        ));
    }
    fp.push_str(&s.events.first().map(|e| e.id.clone()).unwrap_or_default());
    fp
}

impl Frugal {
    pub fn new(
        services: Arc<dyn EcsServices>,
        target_groups: Arc<dyn TargetGroups>,
        _evidence: bool,
    ) -> Arc<Frugal> {
        Arc::new(Frugal {
            services,
            target_groups,
            state: Mutex::new(FrugalState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FrugalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl EcsServices for Frugal {
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        let out = self.services.describe_service(cluster, service).await?;
        let fp = out.as_ref().map(service_fingerprint);
        let mut st = self.state();
        if st.last_service != fp {
            st.last_service = fp;
            st.version += 1;
        }
        Ok(out)
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        let out = self
            .services
            .update_service(cluster, service, update)
            .await?;
        self.state().version += 1;
        Ok(out)
    }

    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: &str,
    ) -> ApiResult<Vec<Task>> {
        if desired_status != "RUNNING" {
            return self
                .services
                .service_tasks(cluster, service, desired_status)
                .await;
        }
        {
            let st = self.state();
            if let Some((v, at, tasks)) = &st.tasks
                && *v == st.version
                && at.elapsed() < SAFETY_NET
            {
                return Ok(tasks.clone());
            }
        }
        let tasks = self
            .services
            .service_tasks(cluster, service, desired_status)
            .await?;
        let mut st = self.state();
        let v = st.version;
        st.tasks = Some((v, Instant::now(), tasks.clone()));
        Ok(tasks)
    }

    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>> {
        {
            let st = self.state();
            if let Some((v, d)) = st.deployments.get(deployment_id)
                && *v == st.version
            {
                return Ok(d.clone());
            }
        }
        let d = self
            .services
            .service_deployment(cluster, service, deployment_id)
            .await?;
        let mut st = self.state();
        let v = st.version;
        st.deployments
            .insert(deployment_id.to_string(), (v, d.clone()));
        Ok(d)
    }
}

#[async_trait]
impl TargetGroups for Frugal {
    async fn describe_target_group(&self, arn: &str) -> ApiResult<Option<TargetGroup>> {
        let out = self.target_groups.describe_target_group(arn).await?;
        if let Some(tg) = &out {
            self.state()
                .intervals
                .insert(arn.to_string(), tg.health_check_interval);
        }
        Ok(out)
    }

    async fn target_health(&self, arn: &str) -> ApiResult<Vec<TargetHealth>> {
        {
            let st = self.state();
            let interval = st
                .intervals
                .get(arn)
                .copied()
                .unwrap_or(Duration::from_secs(30));
            if let Some((v, at, health)) = st.health.get(arn) {
                // A check may have moved a target that is not settled yet.
                let unsettled = health.iter().any(|h| h.state == "initial");
                let check_due = unsettled && at.elapsed() >= interval;
                if *v == st.version && !check_due && at.elapsed() < SAFETY_NET {
                    return Ok(health.clone());
                }
            }
        }
        let health = self.target_groups.target_health(arn).await?;
        let mut st = self.state();
        let v = st.version;
        st.health
            .insert(arn.to_string(), (v, Instant::now(), health.clone()));
        Ok(health)
    }
}

/// Takes one more token for each AWS request a trait method makes beyond the first (the
/// proposed fix of src/ratelimit.rs): `service_tasks` is ListTasks then DescribeTasks per
/// 100 tasks. Put inside `Limited`, which takes the first token.
pub struct PerRequest {
    inner: Arc<dyn EcsServices>,
    limiter: Arc<RateLimiter>,
}

impl PerRequest {
    pub fn wrap(inner: Arc<dyn EcsServices>, limiter: Arc<RateLimiter>) -> Arc<dyn EcsServices> {
        Arc::new(PerRequest { inner, limiter })
    }
}

#[async_trait]
impl EcsServices for PerRequest {
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        self.inner.describe_service(cluster, service).await
    }
    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        self.inner.update_service(cluster, service, update).await
    }
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: &str,
    ) -> ApiResult<Vec<Task>> {
        // The ListTasks token was taken by `Limited`; this one is for DescribeTasks.
        self.limiter.acquire().await;
        self.inner
            .service_tasks(cluster, service, desired_status)
            .await
    }
    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>> {
        self.inner
            .service_deployment(cluster, service, deployment_id)
            .await
    }
}
