//! Helpers of the end-to-end tests (`tests/e2e/*.rs`): running the real ecs-roll binary
//! against a test's moto_server and looking at what it left in AWS.
//!
//! * [`ecs_roll`] is the binary with the harness's AWS environment and nothing of the
//!   developer's own ecs-roll or CI setup; [`run`] runs it to the end (bounded),
//!   [`spawn`] starts it and lets the test watch stderr and send signals.
//! * [`Fingerprint`] is the part of the AWS state a command must not change when it fails
//!   before changing anything; [`quick_fingerprint`] is a cheaper one read straight from
//!   moto over HTTP (no Python).
//! * [`proxy`] is a loopback HTTP proxy between ecs-roll and moto that can hold or react
//!   to chosen API calls, for failures moto cannot produce by itself.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod proxy;
pub mod registry;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{AwsState, CLUSTER, FAMILY, IMAGE_V2, LOAD_BALANCER, MotoServer, REGION};

/// Variables of a developer's own ecs-roll or CI setup that must not reach the binary.
pub const VARS_TO_CLEAR: &[&str] = &[
    "ECS_ROLL_CLUSTER",
    "ECS_ROLL_FAMILY",
    "ECS_ROLL_LOAD_BALANCER",
    "ECS_ROLL_PROFILE",
    "ECS_ROLL_REGION",
    "ECS_ROLL_CONFIG",
    "ECS_ROLL_OUTPUT",
    "ECS_ROLL_PROGRESS",
    "ECS_ROLL_IMAGE",
    "ECS_ROLL_TASK_DEFINITION",
    "ECS_ROLL_CONTAINER",
    "ECS_ROLL_COUNT",
    "ECS_ROLL_TIMEOUT",
    "ECS_ROLL_HEALTH_TIMEOUT",
    "ECS_ROLL_IMAGE_CHECK",
    "ECS_ROLL_REGISTRY_MIRRORS",
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_ACTOR",
];

/// Limit for one ecs-roll run in these tests (a deploy on moto takes seconds).
pub const RUN_LIMIT: Duration = Duration::from_secs(240);

/// The global flags that name the reference setup.
pub fn globals() -> Vec<String> {
    [
        "--cluster",
        CLUSTER,
        "--family",
        FAMILY,
        "--load-balancer",
        LOAD_BALANCER,
        "--region",
        REGION,
    ]
    .map(String::from)
    .to_vec()
}

/// `globals()` followed by `rest`.
pub fn with_globals(rest: &[&str]) -> Vec<String> {
    let mut v = globals();
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

/// The reference task definition file, relative to the repository root (where [`ecs_roll`]
/// runs the binary).
pub const TASKDEF: &str = "taskdefs/cb-prototype.json";

/// The reference deploy: `globals()`, JSON output, `deploy --image IMAGE_V2
/// --task-definition TASKDEF`.
pub fn deploy_args() -> Vec<String> {
    deploy_args_with(&[])
}

/// [`deploy_args`] followed by `extra` (more flags of `deploy`).
pub fn deploy_args_with(extra: &[&str]) -> Vec<String> {
    let mut a = with_globals(&[
        "--output",
        "json",
        "deploy",
        "--image",
        IMAGE_V2,
        "--task-definition",
        TASKDEF,
    ]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The ecs-roll binary with the harness's environment (endpoint, dummy credentials,
/// region, fast polling), plain progress lines, stdin closed, run from the repository root.
pub fn ecs_roll(moto: &MotoServer) -> Command {
    let mut cmd = moto.ecs_roll();
    for k in VARS_TO_CLEAR {
        cmd.env_remove(k);
    }
    cmd.env("ECS_ROLL_PROGRESS", "never");
    cmd
}

/// A finished ecs-roll run.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Everything about the run, for assertion messages.
    pub fn context(&self) -> String {
        format!(
            "ecs-roll {}\nexit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
            self.args.join(" "),
            self.status.code(),
            self.took,
            tail(&self.stdout, 80),
            tail(&self.stderr, 80)
        )
    }

    /// stdout as the one JSON document of `--output json`.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{}", self.context()))
    }

    /// stderr lines that start with `error:` (ecs-roll's and clap's error line).
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect()
    }

    pub fn assert_code(&self, want: i32) {
        assert_eq!(self.code(), want, "wrong exit code\n{}", self.context());
    }

    /// Refused before any change: exit 2, stderr saying `why` and that nothing changed.
    pub fn assert_refused(&self, why: &str) {
        self.assert_code(2);
        assert!(
            self.stderr.contains(why),
            "{why:?} not said:\n{}",
            self.context()
        );
        assert!(
            self.stderr.contains("nothing was changed in AWS"),
            "{}",
            self.context()
        );
    }
}

/// A running ecs-roll: stderr arrives line by line while it runs.
pub struct Running {
    pub args: Vec<String>,
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
    stdout_reader: Option<JoinHandle<String>>,
    started: Instant,
}

/// Starts `cmd args...` with stdout and stderr captured.
pub fn spawn(mut cmd: Command, args: &[String]) -> Running {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning ecs-roll: {e}"));
    let started = Instant::now();
    let mut out = child.stdout.take().expect("stdout piped");
    let err = child.stderr.take().expect("stderr piped");
    let stdout_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, lines) = mpsc::channel();
    let all = Arc::clone(&stderr);
    let stderr_reader = thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            {
                let mut a = all.lock().unwrap();
                a.push_str(&line);
                a.push('\n');
            }
            let _ = tx.send(line);
        }
    });
    Running {
        args: args.to_vec(),
        child,
        lines,
        stderr,
        stderr_reader: Some(stderr_reader),
        stdout_reader: Some(stdout_reader),
        started,
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle`; returns it, or None on timeout or
    /// when the process closed stderr first.
    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal (`INT`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits for the end (killing it after `limit`) and collects the output.
    pub fn finish(mut self, limit: Duration) -> Run {
        let deadline = self.started + limit;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self.stderr_so_far();
                    panic!(
                        "ecs-roll {} still running after {limit:?}; killed\n--- stderr (tail) ---\n{}",
                        self.args.join(" "),
                        tail(&stderr, 60)
                    );
                }
                Err(e) => panic!("waiting for ecs-roll: {e}"),
            }
        };
        let took = self.started.elapsed();
        if let Some(r) = self.stderr_reader.take() {
            let _ = r.join();
        }
        let stdout = self
            .stdout_reader
            .take()
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default();
        Run {
            args: self.args.clone(),
            status,
            stdout,
            stderr: self.stderr_so_far(),
            took,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panicked while the process ran: do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd args...` to the end (at most `RUN_LIMIT`).
pub fn run(cmd: Command, args: &[String]) -> Run {
    spawn(cmd, args).finish(RUN_LIMIT)
}

pub fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// AWS state

/// What a command that fails before changing anything must leave exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// By revision.
    pub task_definitions: BTreeMap<i64, RevisionPrint>,
    /// Every task of the cluster, by ARN.
    pub tasks: BTreeMap<String, TaskPrint>,
    pub registered: Vec<String>,
    pub health: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionPrint {
    pub status: String,
    pub images: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPrint {
    pub revision: i64,
    pub last_status: Option<String>,
    pub desired_status: Option<String>,
    pub instance: Option<String>,
}

impl Fingerprint {
    pub fn of(state: &AwsState) -> Fingerprint {
        let lb = state.load_balancer.as_ref();
        Fingerprint {
            task_definitions: state
                .task_definitions
                .iter()
                .map(|t| {
                    let print = RevisionPrint {
                        status: t.status.clone(),
                        images: t.images.clone(),
                        tags: t.tags.clone(),
                    };
                    (t.revision, print)
                })
                .collect(),
            tasks: state
                .tasks
                .iter()
                .map(|t| {
                    let print = TaskPrint {
                        revision: t.revision,
                        last_status: t.last_status.clone(),
                        desired_status: t.desired_status.clone(),
                        instance: t.instance_id.clone(),
                    };
                    (t.arn.clone(), print)
                })
                .collect(),
            registered: lb
                .map(|l| l.registered_instances.clone())
                .unwrap_or_default(),
            health: lb.map(|l| l.instance_health.clone()).unwrap_or_default(),
        }
    }
}

/// A cheap fingerprint straight from moto (no Python): the family's task definition
/// ARNs, revision 1's tags, the cluster's RUNNING and STOPPED task ARNs and the ELB's
/// instance health.
pub fn quick_fingerprint(moto: &MotoServer) -> Value {
    let port = moto.port();
    let ecs = |op: &str, body: Value| -> Value {
        let (status, v) =
            proxy::ecs_call(port, op, &body).unwrap_or_else(|e| panic!("{op} on moto: {e}"));
        assert_eq!(status, 200, "{op}: HTTP {status}: {v}");
        v
    };
    let mut defs = ecs(
        "ListTaskDefinitions",
        json!({"familyPrefix": FAMILY, "status": "ACTIVE"}),
    )["taskDefinitionArns"]
        .clone();
    let inactive = ecs(
        "ListTaskDefinitions",
        json!({"familyPrefix": FAMILY, "status": "INACTIVE"}),
    )["taskDefinitionArns"]
        .clone();
    let rev1_tags = ecs(
        "DescribeTaskDefinition",
        json!({"taskDefinition": format!("{FAMILY}:1"), "include": ["TAGS"]}),
    )["tags"]
        .clone();
    let mut tasks = BTreeMap::new();
    for status in ["RUNNING", "STOPPED"] {
        let mut arns: Vec<String> = ecs(
            "ListTasks",
            json!({"cluster": CLUSTER, "desiredStatus": status}),
        )["taskArns"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        arns.sort();
        tasks.insert(status, arns);
    }
    let (status, xml) = proxy::elb_call(
        port,
        "DescribeInstanceHealth",
        &[("LoadBalancerName", LOAD_BALANCER)],
    )
    .unwrap_or_else(|e| panic!("DescribeInstanceHealth on moto: {e}"));
    assert_eq!(status, 200, "DescribeInstanceHealth: HTTP {status}: {xml}");
    let mut health: Vec<(String, String, String)> = xml_blocks(&xml, "member")
        .iter()
        .map(|m| {
            (
                xml_value(m, "InstanceId"),
                xml_value(m, "State"),
                xml_value(m, "Description"),
            )
        })
        .collect();
    health.sort();
    if let (Some(a), Some(b)) = (defs.as_array_mut(), inactive.as_array()) {
        a.extend(b.iter().cloned());
    }
    json!({
        "task_definitions": defs,
        "revision_1_tags": rev1_tags,
        "tasks": tasks,
        "instance_health": health,
    })
}

/// The text of every `<tag>` element of an XML answer, in order.
pub fn xml_blocks(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

fn xml_value(xml: &str, tag: &str) -> String {
    xml_blocks(xml, tag)
        .into_iter()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Instances that run exactly one RUNNING task of `revision` with `image`; every other
/// container instance runs no task of the family.
pub fn assert_runs_only(state: &AwsState, revision: i64, image: &str, instances: &[String]) {
    for (id, tasks) in &state.running_tasks_by_instance {
        let family: Vec<_> = tasks.iter().filter(|t| t.family == FAMILY).collect();
        if instances.contains(id) {
            assert_eq!(
                family.len(),
                1,
                "{id} should run exactly one task of {FAMILY}: {family:?}\n{}",
                state.raw
            );
            assert_eq!(
                (family[0].revision, family[0].image.as_deref()),
                (revision, Some(image)),
                "{id} runs the wrong revision\n{}",
                state.raw
            );
        } else {
            assert!(
                family.is_empty(),
                "{id} should run no task of {FAMILY}: {family:?}"
            );
        }
    }
    for id in instances {
        assert!(
            state.running_tasks_by_instance.contains_key(id),
            "{id} is not a container instance"
        );
    }
}

/// The ELB has exactly `ids` registered, all InService, none draining.
pub fn assert_registered_exactly(state: &AwsState, ids: &[String]) {
    let lb = state.load_balancer.as_ref().expect("load balancer");
    let mut want = ids.to_vec();
    want.sort();
    let mut got = lb.registered_instances.clone();
    got.sort();
    assert_eq!(got, want, "registered instances");
    assert!(
        lb.draining_instances.is_empty(),
        "instances still draining: {:?}",
        lb.draining_instances
    );
    for id in ids {
        assert_eq!(
            lb.instance_health.get(id).map(String::as_str),
            Some("InService"),
            "{id}: {:?}",
            lb.instance_health
        );
    }
    assert_eq!(lb.in_service, ids.len(), "{:?}", lb.instance_health);
}

/// Every container instance either serves (registered, InService, a RUNNING task of the
/// family) or is out of the ELB with no task: nothing registered without a task behind it
/// and no task left unregistered.
pub fn assert_safe_resting_state(state: &AwsState) {
    let lb = state.load_balancer.as_ref().expect("load balancer");
    assert!(
        lb.draining_instances.is_empty(),
        "instances left draining: {:?}",
        lb.draining_instances
    );
    for (id, tasks) in &state.running_tasks_by_instance {
        let has_task = tasks.iter().any(|t| t.family == FAMILY);
        let registered = lb.registered_instances.contains(id);
        let in_service = lb.instance_health.get(id).map(String::as_str) == Some("InService");
        assert!(
            (registered && in_service && has_task) || (!registered && !has_task),
            "{id}: registered {registered}, InService {in_service}, task {has_task} ({tasks:?})"
        );
    }
}

/// The ARN ecs-roll recorded as `ecs-roll:previous` on `revision`.
pub fn previous_tag(state: &AwsState, revision: i64) -> Option<String> {
    state
        .task_definition(revision)
        .unwrap_or_else(|| panic!("no revision {revision}: {:?}", state.task_definitions))
        .tags
        .get("ecs-roll:previous")
        .cloned()
}

pub fn arn_of(state: &AwsState, revision: i64) -> String {
    state
        .task_definition(revision)
        .unwrap_or_else(|| panic!("no revision {revision}"))
        .arn
        .clone()
}

/// `api_calls.OP` of an outcome document (0 when absent).
pub fn api_calls(doc: &Value, op: &str) -> u64 {
    doc["api_calls"][op].as_u64().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// A quick look at the resting state, straight from moto over HTTP (no Python): cheap
// enough to take after every one of many runs.

/// Each container instance with the family's tasks on it and how the ELB sees it, and the
/// family's revisions.
#[derive(Debug, Clone)]
pub struct QuickState {
    /// By EC2 instance id.
    pub instances: BTreeMap<String, QuickInstance>,
    /// Every revision of the family, ACTIVE or INACTIVE.
    pub revisions: Vec<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct QuickInstance {
    /// Revisions of the family's tasks whose desired status is RUNNING (one entry per task).
    pub tasks: Vec<i64>,
    /// Those of them whose last status is RUNNING too.
    pub running: Vec<i64>,
    /// Listed by DescribeInstanceHealth (draining ones included).
    pub registered: bool,
    pub in_service: bool,
    /// Connection draining in progress.
    pub draining: bool,
}

/// What a classic ELB says of an instance whose connections are draining.
pub const DEREGISTERING: &str = "Instance deregistration currently in progress.";

fn revision_of_arn(arn: &str) -> i64 {
    arn.rsplit(':')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1)
}

/// Reads [`QuickState`] from moto (about ten calls).
pub fn quick_state(moto: &MotoServer) -> QuickState {
    let port = moto.port();
    let ecs = |op: &str, body: Value| -> Value {
        let (status, v) =
            proxy::ecs_call(port, op, &body).unwrap_or_else(|e| panic!("{op} on moto: {e}"));
        assert_eq!(status, 200, "{op}: HTTP {status}: {v}");
        v
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let ci_arns = strings(
        &ecs("ListContainerInstances", json!({"cluster": CLUSTER}))["containerInstanceArns"],
    );
    let described = ecs(
        "DescribeContainerInstances",
        json!({"cluster": CLUSTER, "containerInstances": ci_arns}),
    );
    let mut ec2_of = BTreeMap::new();
    let mut instances = BTreeMap::new();
    for ci in described["containerInstances"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (arn, id) = (
            ci["containerInstanceArn"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ci["ec2InstanceId"].as_str().unwrap_or_default().to_string(),
        );
        instances.insert(id.clone(), QuickInstance::default());
        ec2_of.insert(arn, id);
    }
    let task_arns = strings(
        &ecs(
            "ListTasks",
            json!({"cluster": CLUSTER, "family": FAMILY, "desiredStatus": "RUNNING"}),
        )["taskArns"],
    );
    if !task_arns.is_empty() {
        let tasks = ecs(
            "DescribeTasks",
            json!({"cluster": CLUSTER, "tasks": task_arns}),
        );
        for t in tasks["tasks"].as_array().into_iter().flatten() {
            if t["desiredStatus"] != "RUNNING" {
                continue;
            }
            let rev = revision_of_arn(t["taskDefinitionArn"].as_str().unwrap_or_default());
            let ci = t["containerInstanceArn"].as_str().unwrap_or_default();
            let id = ec2_of.get(ci).cloned().unwrap_or_else(|| format!("? {ci}"));
            let entry = instances.entry(id).or_default();
            entry.tasks.push(rev);
            if t["lastStatus"] == "RUNNING" {
                entry.running.push(rev);
            }
        }
    }
    let (status, xml) = proxy::elb_call(
        port,
        "DescribeInstanceHealth",
        &[("LoadBalancerName", LOAD_BALANCER)],
    )
    .unwrap_or_else(|e| panic!("DescribeInstanceHealth on moto: {e}"));
    assert_eq!(status, 200, "DescribeInstanceHealth: HTTP {status}: {xml}");
    for m in xml_blocks(&xml, "member") {
        let id = xml_value(&m, "InstanceId");
        let entry = instances.entry(id).or_default();
        let state = xml_value(&m, "State");
        entry.registered = state != "Unknown";
        entry.in_service = state == "InService";
        entry.draining = xml_value(&m, "Description") == DEREGISTERING;
    }
    let mut revisions: Vec<i64> = ["ACTIVE", "INACTIVE"]
        .iter()
        .flat_map(|status| {
            strings(
                &ecs(
                    "ListTaskDefinitions",
                    json!({"familyPrefix": FAMILY, "status": status}),
                )["taskDefinitionArns"],
            )
        })
        .map(|a| revision_of_arn(&a))
        .collect();
    revisions.sort_unstable();
    QuickState {
        instances,
        revisions,
    }
}

impl QuickState {
    /// Every container instance serves (registered, InService, not draining, a RUNNING task
    /// of the family) or is out of the ELB with no task of the family.
    pub fn assert_safe(&self, what: &str) {
        for (id, i) in &self.instances {
            let serving = i.registered && i.in_service && !i.draining && !i.running.is_empty();
            let empty = !i.registered && i.tasks.is_empty();
            assert!(
                serving || empty,
                "{what}: {id} is neither serving nor out of the ELB with no task: {i:?}\n{self:#?}"
            );
        }
    }

    /// Every container instance serves exactly one RUNNING task of `revision`.
    pub fn assert_converged(&self, revision: i64, what: &str) {
        assert!(!self.instances.is_empty(), "{what}: no container instance");
        for (id, i) in &self.instances {
            assert!(
                i.registered
                    && i.in_service
                    && !i.draining
                    && i.tasks == [revision]
                    && i.running == [revision],
                "{what}: {id} should serve one task of revision {revision}: {i:?}\n{self:#?}"
            );
        }
    }

    /// Instances that serve: registered, InService, not draining, with a RUNNING task.
    pub fn serving(&self) -> usize {
        self.instances
            .values()
            .filter(|i| i.registered && i.in_service && !i.draining && !i.running.is_empty())
            .count()
    }

    /// Instances running at least one task of `revision`.
    pub fn on_revision(&self, revision: i64) -> usize {
        self.instances
            .values()
            .filter(|i| i.running.contains(&revision))
            .count()
    }
}

/// The text of the first `<tag>` element of an XML answer (empty when there is none).
pub fn xml_first(xml: &str, tag: &str) -> String {
    xml_value(xml, tag)
}

// ---------------------------------------------------------------------------------------
// A pool of moto_servers

/// moto_servers shared by a test binary's cases one after the other: a start costs ~2 s of
/// CPU, while a seed resets everything anyway. A case that panics drops its server instead
/// of returning it. Settings that survive a reset (IAM enforcement, the task transition fix)
/// must be put back by the case before it ends.
static POOL: Mutex<Vec<MotoServer>> = Mutex::new(Vec::new());

/// A moto_server from the pool (or a new one), back to the pool on drop.
pub struct Pooled(Option<MotoServer>);

impl Pooled {
    pub fn take() -> Pooled {
        let spare = POOL.lock().unwrap().pop();
        Pooled(Some(spare.unwrap_or_else(MotoServer::start)))
    }
}

impl std::ops::Deref for Pooled {
    type Target = MotoServer;
    fn deref(&self) -> &MotoServer {
        self.0.as_ref().expect("a moto_server")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(m) = self.0.take()
            && !thread::panicking()
        {
            POOL.lock().unwrap().push(m);
        }
    }
}
