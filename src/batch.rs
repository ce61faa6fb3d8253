//! What the targets of a multi-target deploy share so that 50 services cost little more than
//! one: the rate limit (`ratelimit`), the cluster-wide reads every target makes at preflight
//! (`SharedEcs`: the cluster, its container instances) and DescribeServices. Each target's watch asks for its own
//! service every few seconds; asked one by one that is 50 requests per round. Here one asker
//! reads every watched service of the cluster, 10 per request (DescribeServices' limit), and
//! the others take that answer while it is younger than `max_age`. A service just updated is
//! read again before its next answer, so no one sees its state from before UpdateService.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::platform::{
    ApiResult, ContainerInstance, Ecs, EcsServices, Revision, Service, ServiceDeployment,
    ServiceUpdate, Task, TaskStatus,
};
use crate::ratelimit::Limiters;

/// DescribeServices takes at most this many services.
const PER_REQUEST: usize = 10;

/// The DescribeServices requests a cluster's shared answers may cost per `max_age` (the
/// poll) while nothing changes, however many services share them: three times one service's
/// watch alone (one request a poll). Up to 30 services are read every poll; beyond that the
/// answers are read less often (50 services: every 1.7 polls), so the cost per cluster stays
/// flat and the time to see a change grows only past 30 services (`bench/` measures both).
pub const CLUSTER_REQUESTS_PER_POLL: u32 = 3;

/// Shared by every target of one command.
#[derive(Clone)]
pub struct Shared {
    /// One rate limit per region and account.
    pub limits: Arc<Limiters>,
    pub board: Arc<ServiceBoard>,
    pub clusters: ClusterShelves,
    /// This target's place at the command's preflight gate.
    pub gate: Option<crate::engine::gate::Ticket>,
}

/// The latest DescribeServices answers, per account scope and cluster.
pub struct ServiceBoard {
    max_age: Duration,
    clusters: Mutex<HashMap<String, Arc<ClusterBoard>>>,
}

/// One cluster's answers, and their pace as of the last read (readable without waiting for
/// a read under way).
#[derive(Default)]
struct ClusterBoard {
    board: tokio::sync::Mutex<Board>,
    pace: Mutex<crate::platform::Pace>,
    /// When the latest DescribeServices answers came back: a task list read since shows at
    /// least what they show.
    answered_at: Mutex<Option<Instant>>,
    tasks: tokio::sync::Mutex<TaskBoard>,
}

/// The cluster's running service tasks, read once for every watch that saw its service
/// change in the same DescribeServices answers (they all start, stop and turn healthy
/// together in a deploy of many services: one request each would queue them all behind the
/// rate limit).
#[derive(Default)]
struct TaskBoard {
    /// When the read began, and the tasks.
    read: Option<(Instant, Vec<Task>)>,
    /// The requests the last cluster-wide read cost (ListTasks and DescribeTasks pages).
    cost: u32,
}

#[derive(Default)]
struct Board {
    /// Every service asked for, in the order first asked.
    names: Vec<String>,
    answers: Vec<Service>,
    read_at: Option<Instant>,
    /// Updated since the last read: read again before answering for them.
    stale: HashSet<String>,
}

impl ServiceBoard {
    /// `max_age`: how old an answer may be when given to a watch; it adds at most that much to
    /// the time a watch takes to see a change.
    pub fn new(max_age: Duration) -> Arc<ServiceBoard> {
        Arc::new(ServiceBoard {
            max_age,
            clusters: Mutex::new(HashMap::new()),
        })
    }

    /// How long an answer for `services` services serves: `max_age`, or longer where
    /// reading them all that often would cost more than `CLUSTER_REQUESTS_PER_POLL`.
    fn period(&self, services: usize) -> Duration {
        let requests = services.div_ceil(PER_REQUEST).max(1) as f64;
        let polls = (requests / f64::from(CLUSTER_REQUESTS_PER_POLL)).max(1.0);
        self.max_age.mul_f64(polls)
    }

    fn board(&self, key: &str) -> Arc<ClusterBoard> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

/// One cluster-wide answer shared by the targets: read by the first who asks, given to those
/// who ask within `max_age` of that read's start.
type Shelf<T> = Arc<tokio::sync::Mutex<Option<(Instant, T)>>>;

/// The cluster-wide reads of a target's ECS client, shared through a board of answers.
pub struct SharedEcs {
    inner: Arc<dyn Ecs>,
    max_age: Duration,
    scope: String,
    shelves: ClusterShelves,
}

/// The shelves `SharedEcs` clients of one command share.
#[derive(Clone, Default)]
pub struct ClusterShelves {
    active: Arc<Mutex<HashMap<String, Shelf<bool>>>>,
    instances: Arc<Mutex<HashMap<String, Shelf<Vec<ContainerInstance>>>>>,
}

impl SharedEcs {
    pub fn wrap(
        inner: Arc<dyn Ecs>,
        shelves: &ClusterShelves,
        max_age: Duration,
        scope: String,
    ) -> Arc<dyn Ecs> {
        Arc::new(SharedEcs {
            inner,
            max_age,
            scope,
            shelves: shelves.clone(),
        })
    }

    fn shelf<T>(map: &Mutex<HashMap<String, Shelf<T>>>, key: String) -> Shelf<T> {
        map.lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone()
    }

    async fn shared<T, F, Fut>(&self, shelf: Shelf<T>, read: F) -> ApiResult<T>
    where
        T: Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ApiResult<T>>,
    {
        let asked = Instant::now();
        let mut kept = shelf.lock().await;
        if let Some((at, value)) = kept.as_ref()
            && *at + self.max_age > asked
        {
            return Ok(value.clone());
        }
        let at = Instant::now();
        let value = read().await?;
        *kept = Some((at, value.clone()));
        Ok(value)
    }
}

#[async_trait]
impl Ecs for SharedEcs {
    async fn cluster_is_active(&self, cluster: &str) -> ApiResult<bool> {
        let shelf = Self::shelf(&self.shelves.active, format!("{}\n{cluster}", self.scope));
        self.shared(shelf, || self.inner.cluster_is_active(cluster))
            .await
    }
    async fn container_instances(&self, cluster: &str) -> ApiResult<Vec<ContainerInstance>> {
        let shelf = Self::shelf(
            &self.shelves.instances,
            format!("{}\n{cluster}", self.scope),
        );
        self.shared(shelf, || self.inner.container_instances(cluster))
            .await
    }
    async fn family_tasks(&self, cluster: &str, family: &str) -> ApiResult<Vec<Task>> {
        self.inner.family_tasks(cluster, family).await
    }
    async fn cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        self.inner.cluster_tasks(cluster).await
    }
    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> ApiResult<Vec<Task>> {
        self.inner.describe_tasks(cluster, task_arns).await
    }
    async fn describe_task_definition(&self, reference: &str) -> ApiResult<Revision> {
        self.inner.describe_task_definition(reference).await
    }
    async fn register_task_definition(
        &self,
        body: &serde_json::Value,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ApiResult<Revision> {
        self.inner.register_task_definition(body, tags).await
    }
    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ApiResult<()> {
        self.inner.tag_task_definition(arn, tags).await
    }
    async fn start_task(
        &self,
        cluster: &str,
        task_definition_arn: &str,
        container_instance_arn: &str,
        started_by: &str,
    ) -> ApiResult<Task> {
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
        self.inner.stop_task(cluster, task_arn, reason).await
    }
    async fn list_task_definitions(&self, family: &str) -> ApiResult<Vec<String>> {
        self.inner.list_task_definitions(family).await
    }
    async fn deregister_task_definition(&self, arn: &str) -> ApiResult<()> {
        self.inner.deregister_task_definition(arn).await
    }
}

fn is(s: &Service, name: &str) -> bool {
    s.name == name || s.arn == name
}

/// A target's ECS services client, reading DescribeServices through the shared board.
pub struct Batched {
    inner: Arc<dyn EcsServices>,
    board: Arc<ServiceBoard>,
    /// Region and profile: only services of the same account and region share a request.
    scope: String,
}

impl Batched {
    pub fn wrap(
        inner: Arc<dyn EcsServices>,
        board: Arc<ServiceBoard>,
        scope: String,
    ) -> Arc<dyn EcsServices> {
        Arc::new(Batched {
            inner,
            board,
            scope,
        })
    }

    fn key(&self, cluster: &str) -> String {
        format!("{}\n{cluster}", self.scope)
    }
}

#[async_trait]
impl EcsServices for Batched {
    /// The next read of the cluster's answers as of the last one, for every watch to look
    /// right then (not up to a poll later), and how many services share them.
    fn pace(&self, cluster: &str) -> crate::platform::Pace {
        let cell = self.board.board(&self.key(cluster));
        *cell.pace.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn list_services(&self, cluster: &str) -> ApiResult<Vec<String>> {
        self.inner.list_services(cluster).await
    }
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>> {
        let cell = self.board.board(&self.key(cluster));
        let asked = Instant::now();
        // Held across the read on purpose: whoever comes meanwhile waits for this answer
        // instead of asking again.
        let mut b = cell.board.lock().await;
        // Young enough for when it was asked: a read that began while this one waited for the
        // lock serves it, however long the rate limit made that read take (judged against
        // the time the lock was got instead, slow reads would go stale before they are used
        // and every asker would read again).
        let period = self.board.period(b.names.len());
        let mut fresh =
            b.read_at.is_some_and(|at| at + period > asked) && !b.stale.contains(service);
        if !b.names.iter().any(|n| n == service) {
            b.names.push(service.to_string());
            fresh = false;
        }
        if !fresh {
            // Its age counts from before the reads: they may wait for the rate limit.
            let at = Instant::now();
            let mut answers = Vec::with_capacity(b.names.len());
            for chunk in b.names.chunks(PER_REQUEST) {
                answers.extend(self.inner.describe_services(cluster, chunk).await?);
            }
            b.answers = answers;
            b.read_at = Some(at);
            b.stale.clear();
            *cell.answered_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            *cell.pace.lock().unwrap_or_else(|e| e.into_inner()) = crate::platform::Pace {
                next_answer: Some(at + self.board.period(b.names.len())),
                sharing: b.names.len(),
            };
        }
        Ok(b.answers.iter().find(|s| is(s, service)).cloned())
    }

    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> ApiResult<Vec<Service>> {
        self.inner.describe_services(cluster, services).await
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service> {
        let out = self.inner.update_service(cluster, service, update).await;
        let cell = self.board.board(&self.key(cluster));
        cell.board.lock().await.stale.insert(service.to_string());
        out
    }

    /// Running tasks come from one read of the cluster's service tasks made since the latest
    /// DescribeServices answers, while that costs less than a read per sharing service (a
    /// cluster with many other tasks is read service by service). Stopped tasks, read only
    /// after a failure, are the service's own read.
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: TaskStatus,
    ) -> ApiResult<Vec<Task>> {
        let cell = self.board.board(&self.key(cluster));
        let sharing = cell.pace.lock().unwrap_or_else(|e| e.into_inner()).sharing as u32;
        let answered = *cell.answered_at.lock().unwrap_or_else(|e| e.into_inner());
        let shared = desired_status == TaskStatus::Running && sharing >= 2;
        let own_read = || {
            self.inner
                .service_tasks(cluster, service, desired_status.clone())
        };
        let Some(answered) = answered.filter(|_| shared) else {
            return own_read().await;
        };
        let mut tasks = cell.tasks.lock().await;
        if tasks.cost > 2 * sharing {
            drop(tasks);
            return own_read().await;
        }
        let fresh = tasks.read.as_ref().is_some_and(|(at, _)| *at >= answered);
        if !fresh {
            let at = Instant::now();
            let read = self.inner.cluster_service_tasks(cluster).await?;
            tasks.cost = crate::ratelimit::list_then_describe(read.len());
            tasks.read = Some((at, read));
        }
        Ok(tasks.read.as_ref().map_or_else(Vec::new, |(_, all)| {
            all.iter()
                .filter(|t| t.of_service(service))
                .cloned()
                .collect()
        }))
    }

    async fn cluster_service_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>> {
        self.inner.cluster_service_tasks(cluster).await
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

    async fn stop_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        arn: &str,
    ) -> ApiResult<()> {
        let out = self
            .inner
            .stop_service_deployment(cluster, service, arn)
            .await;
        let cell = self.board.board(&self.key(cluster));
        cell.board.lock().await.stale.insert(service.to_string());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{ServiceSpec, Sim};

    fn sim(n: usize) -> Sim {
        let mut b = Sim::builder().cluster("default").instances(2);
        for i in 0..n {
            let name = format!("web-{i:02}");
            let td = serde_json::json!({
                "family": name,
                "containerDefinitions": [{
                    "name": "app", "image": "app:v1", "memory": 16, "essential": true,
                }]
            });
            b = b.service(
                &name,
                ServiceSpec {
                    desired: 1,
                    task_definition: td,
                    ..ServiceSpec::default()
                },
            );
        }
        b.build()
    }

    fn clients(sim: &Sim, n: usize, max_age: Duration) -> Vec<Arc<dyn EcsServices>> {
        let board = ServiceBoard::new(max_age);
        (0..n)
            .map(|_| Batched::wrap(sim.services(), board.clone(), "us-east-1".into()))
            .collect()
    }

    #[test]
    fn a_cluster_answers_every_poll_up_to_thirty_services_and_costs_three_requests_a_poll_beyond() {
        let board = ServiceBoard::new(Duration::from_secs(1));
        let ms = |n: u64| Duration::from_millis(n);
        for (services, period) in [
            (0, ms(1000)),
            (1, ms(1000)),
            (30, ms(1000)),
            (31, ms(1333)),
            (50, ms(1667)),
            (100, ms(3333)),
        ] {
            let got = board.period(services);
            assert!(
                got.abs_diff(period) < ms(1),
                "{services} services: {got:?}, expected {period:?}"
            );
        }
        let half = ServiceBoard::new(ms(500));
        assert!(half.period(50).abs_diff(ms(833)) < ms(1));
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_five_watches_share_three_requests_a_round() {
        let sim = sim(25);
        let clients = clients(&sim, 25, Duration::from_secs(1));
        let reads = |sim: &Sim| {
            sim.calls()
                .iter()
                .filter(|c| c.operation == "DescribeServices")
                .count()
        };
        for round in 0..3 {
            sim.clear_calls();
            for (i, c) in clients.iter().enumerate() {
                let s = c
                    .describe_service("default", &format!("web-{i:02}"))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(s.name, format!("web-{i:02}"));
            }
            // The first round reads again as each service joins (1, 2 then 3 requests);
            // after that, one asker reads all 25 in 3 requests for everyone.
            let want = if round == 0 { 10 + 2 * 10 + 3 * 5 } else { 3 };
            assert_eq!(reads(&sim), want, "round {round}");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn watches_that_saw_the_same_answers_share_one_read_of_the_clusters_tasks() {
        let sim = sim(25);
        tokio::time::sleep(Duration::from_secs(30)).await;
        let clients = clients(&sim, 25, Duration::from_secs(1));
        let count = |sim: &Sim, op: &str| sim.calls().iter().filter(|c| c.operation == op).count();
        for round in 0..2 {
            for (i, c) in clients.iter().enumerate() {
                c.describe_service("default", &format!("web-{i:02}"))
                    .await
                    .unwrap();
            }
            sim.clear_calls();
            for (i, c) in clients.iter().enumerate() {
                let name = format!("web-{i:02}");
                let tasks = c
                    .service_tasks("default", &name, TaskStatus::Running)
                    .await
                    .unwrap();
                // Each gets its own service's task, and only that.
                assert_eq!(tasks.len(), 1, "round {round}, {name}");
                assert_eq!(
                    tasks[0].group.as_deref(),
                    Some(format!("service:{name}").as_str())
                );
            }
            // 25 tasks: one ListTasks page and one DescribeTasks for all 25 watches.
            assert_eq!(count(&sim, "ListTasks"), 1, "round {round}");
            assert_eq!(count(&sim, "DescribeTasks"), 1, "round {round}");
            // Asked again without new DescribeServices answers: the same read serves.
            clients[3]
                .service_tasks("default", "web-03", TaskStatus::Running)
                .await
                .unwrap();
            assert_eq!(count(&sim, "ListTasks"), 1, "round {round}");
            // New answers: the next ask reads the tasks again.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        // Stopped tasks are each service's own read.
        sim.clear_calls();
        clients[0]
            .service_tasks("default", "web-00", TaskStatus::Stopped)
            .await
            .unwrap();
        assert_eq!(count(&sim, "ListTasks"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_never_older_than_max_age_nor_from_before_an_update() {
        let sim = sim(2);
        let clients = clients(&sim, 2, Duration::from_secs(1));
        let a = clients[0]
            .describe_service("default", "web-00")
            .await
            .unwrap();
        let b = clients[1]
            .describe_service("default", "web-01")
            .await
            .unwrap();
        assert!(a.is_some() && b.is_some());
        sim.clear_calls();
        // Within max_age: the shared answer.
        clients[1]
            .describe_service("default", "web-01")
            .await
            .unwrap();
        assert_eq!(sim.calls().len(), 0);
        // Past it: read again.
        tokio::time::sleep(Duration::from_millis(1001)).await;
        clients[1]
            .describe_service("default", "web-01")
            .await
            .unwrap();
        assert_eq!(sim.calls().len(), 1);
        // After an update: read again at once.
        let update = ServiceUpdate {
            task_definition: None,
            deployment_configuration: None,
        };
        let _ = clients[0]
            .update_service("default", "web-00", &update)
            .await;
        sim.clear_calls();
        clients[0]
            .describe_service("default", "web-00")
            .await
            .unwrap();
        assert_eq!(sim.calls().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn targets_share_the_cluster_reads_of_one_moment() {
        let sim = sim(3);
        let shelves = ClusterShelves::default();
        let clients: Vec<Arc<dyn Ecs>> = (0..3)
            .map(|_| SharedEcs::wrap(sim.ecs(), &shelves, Duration::from_secs(1), "x".into()))
            .collect();
        sim.clear_calls();
        for c in &clients {
            assert!(c.cluster_is_active("default").await.unwrap());
            assert_eq!(c.container_instances("default").await.unwrap().len(), 2);
        }
        let ops: Vec<&str> = sim.calls().iter().map(|c| c.operation).collect();
        assert_eq!(
            ops.iter().filter(|o| **o == "DescribeClusters").count(),
            1,
            "{ops:?}"
        );
        let listed = ops
            .iter()
            .filter(|o| **o == "DescribeContainerInstances")
            .count();
        assert_eq!(listed, 1, "{ops:?}");
        // A second later, read again.
        tokio::time::sleep(Duration::from_secs(1)).await;
        clients[2].cluster_is_active("default").await.unwrap();
        let ops: Vec<&str> = sim.calls().iter().map(|c| c.operation).collect();
        assert_eq!(
            ops.iter().filter(|o| **o == "DescribeClusters").count(),
            2,
            "{ops:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_service_is_none() {
        let sim = sim(1);
        let clients = clients(&sim, 1, Duration::from_secs(1));
        assert!(
            clients[0]
                .describe_service("default", "nope")
                .await
                .unwrap()
                .is_none()
        );
    }
}
