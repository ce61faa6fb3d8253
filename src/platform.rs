//! The narrow boundary between ecs-roll and AWS.
//!
//! The engine only ever sees these traits and types. The real adapters (`crate::aws`) translate
//! SDK calls into them, and the simulated platform (`crate::sim`) implements them in memory so
//! whole deploys run under tokio's paused clock. SDK types and SDK errors never cross this line.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

pub mod vocab;

pub use vocab::{
    AlarmState, DeploymentController, DeploymentStatus, ResourceStatus, RolloutState,
    ServiceDeploymentStatus, Strategy, TargetHealthState, TaskStatus,
};

/// `arn:aws:ecs:…:task/cluster/abc` -> `abc`, `…:task-definition/app:3` -> `app:3`: the short
/// form people read, for every kind of ECS ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// An ECS container instance, reduced to what placement and reporting need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    pub availability_zone: Option<String>,
    pub status: ResourceStatus,
    pub agent_connected: bool,
    pub remaining_cpu: i64,
    pub remaining_memory: i64,
    /// TCP host ports already taken on the instance (the PORTS remaining resource).
    pub used_ports: Vec<u16>,
}

impl ContainerInstance {
    /// Whether ECS would consider placing new tasks here at all.
    pub fn accepts_tasks(&self) -> bool {
        self.status == ResourceStatus::Active && self.agent_connected
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    pub name: String,
    pub last_status: Option<TaskStatus>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// An ECS task as observed through DescribeTasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub arn: String,
    pub task_definition_arn: String,
    pub container_instance_arn: Option<String>,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    pub started_by: Option<String>,
    /// TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated, ...
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
    /// `service:NAME` for a service's tasks, `family:NAME` for standalone ones.
    pub group: Option<String>,
    /// Host ports the containers are bound to (bridge/host mode), for target matching.
    pub network_bindings: Vec<NetworkBinding>,
    /// The task's own address in awsvpc mode (Fargate), for `ip` target groups.
    pub private_ipv4: Option<String>,
    /// EC2 or FARGATE.
    pub launch_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkBinding {
    pub container_name: String,
    pub container_port: u16,
    pub host_port: u16,
}

impl Task {
    /// Started by a service's scheduler: its group is `service:NAME`.
    pub fn of_a_service(&self) -> bool {
        self.group
            .as_deref()
            .is_some_and(|g| g.starts_with("service:"))
    }

    /// Started by the scheduler of `service` (a name or an ARN): its group is `service:NAME`.
    pub fn of_service(&self, service: &str) -> bool {
        self.group
            .as_deref()
            .and_then(|g| g.strip_prefix("service:"))
            .is_some_and(|name| name == short(service))
    }

    /// A task with only the fields every source has; the rest empty.
    pub fn new(
        arn: &str,
        task_definition_arn: &str,
        last_status: &str,
        desired_status: &str,
    ) -> Task {
        Task {
            arn: arn.into(),
            task_definition_arn: task_definition_arn.into(),
            container_instance_arn: None,
            last_status: TaskStatus::parse(last_status),
            desired_status: TaskStatus::parse(desired_status),
            started_by: None,
            stop_code: None,
            stopped_reason: None,
            containers: Vec::new(),
            group: None,
            network_bindings: Vec::new(),
            private_ipv4: None,
            launch_type: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.last_status == TaskStatus::Running && self.desired_status == TaskStatus::Running
    }

    /// STOPPED, or on its way there: it will never serve again.
    pub fn is_stopping(&self) -> bool {
        self.desired_status == TaskStatus::Stopped || self.last_status.is_stopping()
    }
}

/// A task definition revision: the raw JSON ECS returned (so fields newer than our SDK survive)
/// plus its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    /// The `taskDefinition` object exactly as DescribeTaskDefinition returned it.
    pub body: serde_json::Value,
    pub tags: BTreeMap<String, String>,
}

impl Revision {
    /// `family:revision`, the short name people use.
    pub fn name(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }
}

/// Classic ELB health check settings; they bound how long "wait for InService" may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub target: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub load_balancer_port: u16,
    pub instance_port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicLoadBalancer {
    pub name: String,
    /// EC2 instance ids registered with the load balancer.
    pub instances: Vec<String>,
    pub listeners: Vec<Listener>,
    pub health_check: HealthCheck,
    /// Connection draining timeout, or None when draining is off.
    pub connection_draining: Option<Duration>,
    pub cross_zone: bool,
    pub availability_zones: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HealthState {
    InService,
    OutOfService,
    Unknown,
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthState::InService => "InService",
            HealthState::OutOfService => "OutOfService",
            HealthState::Unknown => "Unknown",
        })
    }
}

/// One row of DescribeInstanceHealth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceHealth {
    pub instance_id: String,
    pub state: HealthState,
    pub reason_code: Option<String>,
    pub description: Option<String>,
}

impl InstanceHealth {
    /// Classic ELB reports an instance whose connections are still draining as OutOfService
    /// with this description; it leaves the list once draining has finished.
    pub fn is_deregistering(&self) -> bool {
        self.description
            .as_deref()
            .is_some_and(|d| d.contains("deregistration currently in progress"))
    }

    /// OutOfService because the instance failed `UnhealthyThreshold` checks in a row (as opposed
    /// to not having passed `HealthyThreshold` yet, or registration still in progress).
    pub fn has_failed_checks(&self) -> bool {
        self.state != HealthState::InService
            && self
                .description
                .as_deref()
                .is_some_and(|d| d.contains("failed at least the UnhealthyThreshold"))
    }
}

/// What went wrong talking to AWS, classified so the engine and the CLI can act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub operation: &'static str,
    pub kind: ApiErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    /// The named resource does not exist.
    NotFound,
    /// The caller lacks the IAM permission for `operation`.
    AccessDenied,
    /// No credentials, or expired/invalid ones.
    Credentials,
    /// Still throttled after the SDK's own retries.
    Throttled,
    /// The request was rejected as invalid.
    InvalidRequest,
    /// Could not reach the endpoint, or it kept failing (5xx, resets, timeouts).
    Unavailable,
    Other,
}

impl ApiError {
    pub fn new(operation: &'static str, kind: ApiErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            operation,
            kind,
            message: message.into(),
        }
    }

    /// Faults worth retrying at the engine level once the SDK gave up.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::Throttled | ApiErrorKind::Unavailable
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ApiErrorKind::NotFound => "not found",
            ApiErrorKind::AccessDenied => "access denied",
            ApiErrorKind::Credentials => "no valid AWS credentials",
            ApiErrorKind::Throttled => "throttled",
            ApiErrorKind::InvalidRequest => "invalid request",
            ApiErrorKind::Unavailable => "AWS endpoint unavailable",
            ApiErrorKind::Other => "failed",
        };
        write!(f, "{} {what}: {}", self.operation, self.message)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

/// The ECS calls ecs-roll makes for standalone tasks.
#[async_trait]
pub trait Ecs: Send + Sync {
    /// Whether the cluster exists and is ACTIVE.
    async fn cluster_is_active(&self, cluster: &str) -> ApiResult<bool>;
    async fn container_instances(&self, cluster: &str) -> ApiResult<Vec<ContainerInstance>>;
    /// Tasks of the family whose desired status is RUNNING, described.
    async fn family_tasks(&self, cluster: &str, family: &str) -> ApiResult<Vec<Task>>;
    /// Every task of the cluster whose desired status is RUNNING, described (to find which
    /// families run behind a load balancer when none is named).
    async fn cluster_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>>;
    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> ApiResult<Vec<Task>>;
    /// A revision by ARN, `family:revision` or family (latest ACTIVE), with its tags.
    async fn describe_task_definition(&self, reference: &str) -> ApiResult<Revision>;
    /// Registers `body` (a RegisterTaskDefinition request, every field preserved) with tags.
    async fn register_task_definition(
        &self,
        body: &serde_json::Value,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<Revision>;
    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<()>;
    async fn start_task(
        &self,
        cluster: &str,
        task_definition_arn: &str,
        container_instance_arn: &str,
        started_by: &str,
    ) -> ApiResult<Task>;
    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> ApiResult<()>;
    /// ListTaskDefinitions (every page) of the family's ACTIVE revisions: their ARNs, only
    /// this family's (the `familyPrefix` also matches longer family names).
    async fn list_task_definitions(&self, family: &str) -> ApiResult<Vec<String>>;
    /// DeregisterTaskDefinition: the revision turns INACTIVE.
    async fn deregister_task_definition(&self, arn: &str) -> ApiResult<()>;
}

/// The classic ELB calls ecs-roll makes.
#[async_trait]
pub trait ClassicElb: Send + Sync {
    async fn describe_load_balancer(&self, name: &str) -> ApiResult<Option<ClassicLoadBalancer>>;
    /// Health of every instance registered (or still deregistering).
    async fn instance_health(&self, name: &str) -> ApiResult<Vec<InstanceHealth>>;
    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()>;
    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> ApiResult<()>;
}

/// An ECS service, reduced to what a deploy watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub arn: String,
    pub name: String,
    pub status: ResourceStatus,
    pub task_definition: String,
    pub desired_count: i64,
    pub running_count: i64,
    pub pending_count: i64,
    /// EC2, FARGATE, EXTERNAL; None when a capacity provider strategy decides.
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<String>,
    /// Where its tasks run, for one-off tasks that must run there too.
    pub placement: ServicePlacement,
    pub deployment_controller: DeploymentController,
    pub deployment_configuration: DeploymentConfiguration,
    pub deployments: Vec<Deployment>,
    pub load_balancers: Vec<ServiceLoadBalancer>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
}

/// A service's capacity provider strategy, awsvpc network configuration and platform version:
/// what a one-off task of the service copies so it runs where the service's tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServicePlacement {
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    pub network: Option<AwsVpcConfiguration>,
    pub platform_version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeploymentConfiguration {
    pub maximum_percent: Option<i64>,
    pub minimum_healthy_percent: Option<i64>,
    /// The deployment circuit breaker: (enabled, roll back on failure).
    pub circuit_breaker: Option<(bool, bool)>,
    /// Its `thresholdConfiguration` (None: ECS's default rule). ecs-roll never sets it.
    pub breaker_threshold: Option<BreakerThreshold>,
    /// None: ROLLING.
    pub strategy: Option<Strategy>,
    pub bake_time_minutes: Option<i64>,
    /// CloudWatch alarms that roll back the deployment: (alarm names, enabled, roll back).
    pub alarms: Option<(Vec<String>, bool, bool)>,
    /// LINEAR: production traffic in equal steps.
    pub linear: Option<TrafficStep>,
    /// CANARY: a share of production traffic first, then the rest.
    pub canary: Option<TrafficStep>,
}

/// The circuit breaker's `thresholdConfiguration`: how ECS counts the failed tasks that trip
/// it, from its value and the service's desired count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerThreshold {
    /// That many failed tasks.
    Count(u32),
    /// That percentage of the desired count, at least 3 and at most 200: ECS's default rule
    /// with 50.
    BoundedPercent(u32),
    /// That percentage of the desired count, unbounded.
    UnboundedPercent(u32),
}

impl BreakerThreshold {
    /// ECS's rule where the service has no thresholdConfiguration.
    pub const DEFAULT: BreakerThreshold = BreakerThreshold::BoundedPercent(50);

    /// The failed tasks that trip the breaker of a deployment of `desired` tasks (at least
    /// one: ECS never trips on none).
    pub fn failed_tasks(self, desired: i64) -> u32 {
        let desired = desired.max(0) as u64;
        let share = |pct: u32| (desired * u64::from(pct)).div_ceil(100);
        let n = match self {
            BreakerThreshold::Count(n) => u64::from(n),
            BreakerThreshold::BoundedPercent(pct) => share(pct).clamp(3, 200),
            BreakerThreshold::UnboundedPercent(pct) => share(pct),
        };
        n.clamp(1, u64::from(u32::MAX)) as u32
    }
}

/// One shift of production traffic ECS makes, and how long it bakes after it: LINEAR's
/// stepPercent and stepBakeTimeInMinutes, CANARY's canaryPercent and canaryBakeTimeInMinutes
/// (None: ECS's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficStep {
    /// Tenths of a percent (ECS takes one decimal): 250 is 25%.
    pub percent_tenths: Option<u32>,
    pub bake_minutes: Option<i64>,
}

/// One entry of a service's `deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    pub task_definition: String,
    pub desired_count: i64,
    pub running_count: i64,
    pub pending_count: i64,
    pub failed_tasks: i64,
    /// None where the endpoint does not report it.
    pub rollout_state: Option<RolloutState>,
    pub rollout_state_reason: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLoadBalancer {
    pub target_group_arn: Option<String>,
    /// Classic ELB name.
    pub load_balancer_name: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<u16>,
    /// What ECS needs to shift traffic itself (BLUE_GREEN, LINEAR, CANARY).
    pub advanced: Option<AdvancedConfiguration>,
}

/// A load balancer's `advancedConfiguration`: the target group the new revision starts in,
/// the listener rules ECS moves (production, and optionally test) and the role it does so
/// with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdvancedConfiguration {
    pub alternate_target_group_arn: Option<String>,
    /// A listener rule ARN (ALB) or a listener ARN (NLB).
    pub production_listener_rule: Option<String>,
    pub test_listener_rule: Option<String>,
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub message: String,
}

/// DescribeServiceDeployments: the service deployment with its lifecycle, where the endpoint
/// supports it (newer ECS; moto does not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDeployment {
    pub arn: String,
    pub status: ServiceDeploymentStatus,
    pub status_reason: Option<String>,
    /// For BLUE_GREEN/LINEAR/CANARY: RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP, TEST_TRAFFIC_SHIFT,
    /// PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP, ...
    pub lifecycle_stage: Option<String>,
    pub target_task_definition: Option<String>,
    pub source_task_definitions: Vec<String>,
    /// Whether ECS rolled back (circuit breaker or alarms).
    pub rollback: bool,
    /// The deployment alarms ECS saw go into ALARM (`alarms.triggeredAlarmNames`).
    pub triggered_alarms: Vec<String>,
}

/// What ecs-roll changes on a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    pub task_definition: Option<String>,
    pub deployment_configuration: Option<DeploymentConfiguration>,
}

/// An ALB/NLB target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    /// instance, ip, lambda, alb.
    pub target_type: String,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub health_check_interval: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub deregistration_delay: Duration,
    pub load_balancer_arns: Vec<String>,
}

/// One row of DescribeTargetHealth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    /// An EC2 instance id (target type instance) or an IP address (ip).
    pub id: String,
    pub port: Option<u16>,
    pub state: TargetHealthState,
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// How a watch paces its looks at a service whose DescribeServices answers it shares with the
/// watches of other services of the cluster (`batch::Batched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// When the next shared answer is read: a look then sees it first.
    pub next_answer: Option<tokio::time::Instant>,
    /// How many services of the cluster share the answers (1: this one alone).
    pub sharing: usize,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            next_answer: None,
            sharing: 1,
        }
    }
}

/// The ECS service calls ecs-roll makes.
#[async_trait]
pub trait EcsServices: Send + Sync {
    /// The pace of shared reads; alone by default.
    fn pace(&self, _cluster: &str) -> Pace {
        Pace::default()
    }
    /// ListServices (every page): the ARNs of the cluster's services.
    async fn list_services(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// None when the service does not exist (MISSING) in the cluster.
    async fn describe_service(&self, cluster: &str, service: &str) -> ApiResult<Option<Service>>;
    /// One DescribeServices for up to 10 services of a cluster: the ones that exist, in any
    /// order (the ones missing are left out).
    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> ApiResult<Vec<Service>>;
    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        update: &ServiceUpdate,
    ) -> ApiResult<Service>;
    /// The service's tasks with desired status `desired_status` (RUNNING or STOPPED), described.
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired_status: TaskStatus,
    ) -> ApiResult<Vec<Task>>;
    /// Every task of the cluster with desired status RUNNING that a service started (group
    /// `service:NAME`), described: ListTasks of the whole cluster (every page), then
    /// DescribeTasks of up to 100 at a time. One read for the watches of several services.
    async fn cluster_service_tasks(&self, cluster: &str) -> ApiResult<Vec<Task>>;
    /// DescribeServiceDeployments for the service's current deployment; Ok(None) where the
    /// endpoint does not support it.
    async fn service_deployment(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> ApiResult<Option<ServiceDeployment>>;
    /// StopServiceDeployment with stopType ROLLBACK: ECS rolls the in-flight service
    /// deployment back to its source revision, even where the service's configuration asks
    /// for no rollback. An endpoint without the call is an `InvalidRequest` saying so.
    async fn stop_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        arn: &str,
    ) -> ApiResult<()>;
}

/// The ALB/NLB calls ecs-roll makes.
#[async_trait]
pub trait TargetGroups: Send + Sync {
    /// None when the target group does not exist.
    async fn describe_target_group(&self, arn: &str) -> ApiResult<Option<TargetGroup>>;
    /// One call per target group: the health of every target.
    async fn target_health(&self, arn: &str) -> ApiResult<Vec<TargetHealth>>;
}

/// Tags on ECS resources (clusters, services), where ecs-roll keeps its deploy lock.
#[async_trait]
pub trait ResourceTags: Send + Sync {
    /// The cluster's ARN; None when it does not exist.
    async fn cluster_arn(&self, cluster: &str) -> ApiResult<Option<String>>;
    async fn resource_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>>;
    async fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> ApiResult<()>;
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()>;
}

/// A RunTask request for a one-off task (a migration, any command): where it runs and what
/// it overrides. Service mode copies the service's placement; standalone tasks run on the
/// cluster's container instances (EC2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunTaskRequest {
    pub cluster: String,
    /// ARN or `family:revision`.
    pub task_definition: String,
    /// Marks the task as ecs-roll's (at most 36 characters, as ECS allows).
    pub started_by: String,
    /// EC2, FARGATE, EXTERNAL; None with a capacity provider strategy.
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// awsvpc mode: the service's subnets, security groups and public IP setting.
    pub network: Option<AwsVpcConfiguration>,
    pub platform_version: Option<String>,
    pub overrides: Vec<ContainerOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityProviderItem {
    pub capacity_provider: String,
    pub weight: i32,
    pub base: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AwsVpcConfiguration {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

/// One container's overrides: its command, and environment variables added or replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerOverride {
    pub name: String,
    pub command: Option<Vec<String>>,
    pub environment: Vec<(String, String)>,
}

/// RunTask, for one-off tasks (`ecs-roll run`, `deploy --before`). A task ECS could not
/// place (RunTask's `failures`) is an `InvalidRequest` naming ECS's reason.
#[async_trait]
pub trait OneOffTasks: Send + Sync {
    async fn run_task(&self, request: &RunTaskRequest) -> ApiResult<Task>;
}

/// One event of a CloudWatch Logs stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// A page of a log stream's events, oldest first, and the token that reads on from after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    pub events: Vec<LogEvent>,
    /// Where the next read starts; the same token as given when nothing new was there.
    pub next: Option<String>,
}

/// CloudWatch Logs, read forward from the start of a stream, or its end.
#[async_trait]
pub trait LogStreams: Send + Sync {
    /// The events of `stream` in `group` after `after` (from the stream's start when None).
    /// A stream that does not exist yet (the container has not logged) is an empty page.
    async fn log_events(
        &self,
        group: &str,
        stream: &str,
        after: Option<&str>,
    ) -> ApiResult<LogPage>;

    /// The last `limit` events of `stream`, oldest first; none when the stream does not exist.
    async fn last_events(
        &self,
        group: &str,
        stream: &str,
        limit: usize,
    ) -> ApiResult<Vec<LogEvent>>;
}

/// A CloudWatch alarm (metric or composite), as a deploy gate reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    /// CloudWatch's `StateReason`: why it is in that state.
    pub reason: Option<String>,
}

/// The CloudWatch calls ecs-roll makes: the alarms that gate a deploy.
#[async_trait]
pub trait Alarms: Send + Sync {
    /// DescribeAlarms of these names (metric and composite alarms, every page): the ones
    /// that exist, in any order (the ones missing are left out).
    async fn describe_alarms(&self, names: &[String]) -> ApiResult<Vec<Alarm>>;
}

/// What a container registry says of one image reference, asked before any change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum ImageLookup {
    /// The manifest is there: a task can pull it.
    Found,
    /// The registry has no repository of that name.
    RepositoryMissing { registry: String },
    /// The repository is there, the tag (or digest) is not.
    TagMissing { registry: String },
    /// The registry wants credentials ecs-roll does not have (a private repository, or on
    /// Docker Hub one that does not exist: it answers both alike).
    NeedsCredentials { registry: String },
    /// The registry could not be asked: network, TLS, a 5xx, a timeout.
    Unreachable { registry: String, error: String },
    /// Not asked, on purpose: a local AWS (AWS_ENDPOINT_URL on loopback) and no mirror for
    /// the registry, so nothing leaves the machine.
    NotAsked { registry: String },
}

/// The registries that hold the images a revision names (ECR, or any registry HTTP API v2).
#[async_trait]
pub trait ImageRegistries: Send + Sync {
    async fn lookup(&self, image: &str) -> ImageLookup;
}

#[cfg(test)]
mod tests {
    use super::BreakerThreshold::{self, *};

    #[test]
    fn the_breaker_trips_at_the_failed_tasks_its_threshold_counts_for_the_desired_count() {
        let table: [(BreakerThreshold, i64, u32); 11] = [
            // ECS's default rule: half, at least 3, at most 200.
            (BreakerThreshold::DEFAULT, 1, 3),
            (BreakerThreshold::DEFAULT, 3, 3),
            (BreakerThreshold::DEFAULT, 10, 5),
            (BreakerThreshold::DEFAULT, 11, 6),
            (BreakerThreshold::DEFAULT, 1000, 200),
            (Count(4), 100, 4),
            (Count(0), 3, 1),
            (BoundedPercent(10), 10, 3),
            (UnboundedPercent(10), 10, 1),
            (UnboundedPercent(25), 1000, 250),
            (UnboundedPercent(50), 0, 1),
        ];
        for (threshold, desired, want) in table {
            assert_eq!(
                threshold.failed_tasks(desired),
                want,
                "{threshold:?} of {desired}"
            );
        }
    }
}
