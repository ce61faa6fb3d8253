//! A private moto_server per test, plus the Python helpers of `scripts/` driven from Rust.
//!
//! * [`MotoServer::start`] spawns `python3 scripts/moto_child.py --exit-with-parent -H
//!   127.0.0.1 -p PORT` (moto_server with the fidelity patches of scripts/moto_patches.py,
//!   exiting if the test process dies) on a free loopback port,
//!   retrying on a port collision, waits (bounded) until *that* process serves HTTP,
//!   applies the ECS task-transition fix, and kills and reaps it on drop (also when the
//!   test panics).
//! * [`MotoServer::seed`] runs `scripts/seed_reference.py`, [`MotoServer::inspect`] runs
//!   `scripts/inspect_state.py state`, [`MotoServer::health_sampler`] runs
//!   `scripts/inspect_state.py sample` in the background.
//! * [`MotoServer::ecs_roll`] is a `Command` for the ecs-roll binary with the AWS
//!   environment pointing at this server and the repository root as working directory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// Default AWS region of the testbed.
pub const REGION: &str = "us-east-1";
/// Names of the reference setup.
pub const CLUSTER: &str = "cb-prototype";
pub const FAMILY: &str = "cb-prototype";
pub const CONTAINER: &str = "cb-prototype";
pub const LOAD_BALANCER: &str = "cb-prototype-elb";
pub const IMAGE_V1: &str = "rafabor/prototype-4-cb:v0.0.1";
pub const IMAGE_V2: &str = "rafabor/prototype-4-cb:v0.0.2";

/// How long moto_server may take to answer after spawn (two cores, tests in parallel).
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Port collisions tolerated before giving up.
const START_ATTEMPTS: usize = 8;
/// Ports are picked below the kernel's ephemeral range (32768-60999), so outgoing
/// connections of concurrent tests never take them.
const PORT_RANGE: std::ops::Range<u16> = 20000..32768;

/// Variables removed from an ecs-roll child's environment, so nothing of the developer's
/// own AWS setup (profiles, tokens, per-service endpoints) leaks into a test.
pub const AWS_VARS_TO_CLEAR: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_RETRY_MODE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
];

/// The repository root (where ecs-roll.toml lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scripts_dir() -> PathBuf {
    repo_root().join("scripts")
}

/// The Python interpreter: `$PYTHON`, else the real executable behind `python3`
/// (resolved once: going through a pyenv shim costs ~0.3 s per call).
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(p) = std::env::var_os("PYTHON").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stderr(Stdio::inherit())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("python3"))
    })
}

fn random_port() -> u16 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let h = std::collections::hash_map::RandomState::new().hash_one((n, std::process::id()));
    PORT_RANGE.start + (h % u64::from(PORT_RANGE.end - PORT_RANGE.start)) as u16
}

pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let p = random_port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok() {
            return p;
        }
    }
    panic!("no free loopback port in {PORT_RANGE:?}");
}

/// Minimal HTTP/1.1 client for moto's own API on loopback. Returns (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {text:.200}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The state-manager model whose transition turns the ECS service scheduler of
/// scripts/moto_patches.py on (`{"progression": "time", "seconds": S}`) or off.
/// How long a one-off task runs on the patched moto before its command ends.
pub const ONE_OFF_SECONDS: &str = "4";

pub const SCHEDULER_MODEL: &str = "ecs::service";

const TRANSITION_FIX: &str =
    r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#;

/// What the inspect and sampler helpers look at (set from the last seed).
#[derive(Clone, Debug)]
struct Target {
    cluster: String,
    load_balancer: String,
    family: String,
}

/// A moto_server of this test's own on 127.0.0.1.
pub struct MotoServer {
    child: Option<Child>,
    port: u16,
    endpoint: String,
    dir: tempfile::TempDir,
    startup: Duration,
    target: Mutex<Target>,
    samplers: AtomicU64,
    /// scripts/aws_call.py --serve, started on the first [`MotoServer::aws`] call.
    aws_helper: Mutex<Option<AwsHelper>>,
}

impl MotoServer {
    /// Starts a fresh moto_server; panics (with its log) if it cannot.
    pub fn start() -> MotoServer {
        match MotoServer::try_start() {
            Ok(m) => m,
            Err(e) => panic!("cannot start moto_server: {e}"),
        }
    }

    pub fn try_start() -> Result<MotoServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("ecs-roll-moto-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let t0 = Instant::now();
        let mut last_err = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let log_path = dir.path().join("moto.log");
            let log =
                File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
            let log2 = log.try_clone().map_err(|e| e.to_string())?;
            let mut child = Command::new(python())
                .arg(scripts_dir().join("moto_child.py"))
                .arg("--exit-with-parent")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // One-off tasks (RunTask with a command override) end this long after they
                // start (scripts/moto_patches.py, ecs-one-off-exits); no other task is touched.
                .env("ECS_ROLL_TESTBED_ONE_OFF_SECONDS", ONE_OFF_SECONDS)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .spawn()
                .map_err(|e| {
                    format!(
                        "spawning {} {}: {e} (is python3 installed? pip install -r requirements-test.txt)",
                        python().display(),
                        scripts_dir().join("moto_child.py").display()
                    )
                })?;
            match wait_ready(&mut child, port, &log_path, t0 + START_TIMEOUT) {
                Ok(()) => {
                    let endpoint = format!("http://127.0.0.1:{port}");
                    let moto = MotoServer {
                        child: Some(child),
                        port,
                        endpoint,
                        dir,
                        startup: t0.elapsed(),
                        target: Mutex::new(Target {
                            cluster: CLUSTER.into(),
                            load_balancer: LOAD_BALANCER.into(),
                            family: FAMILY.into(),
                        }),
                        samplers: AtomicU64::new(0),
                        aws_helper: Mutex::new(None),
                    };
                    moto.apply_transition_fix()?;
                    return Ok(moto);
                }
                Err(Ready::Collision(log)) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = format!("attempt {attempt}: port {port} taken:\n{log}");
                }
                Err(Ready::Failed(msg)) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(msg);
                }
            }
        }
        Err(format!(
            "gave up after {START_ATTEMPTS} port collisions; last: {last_err}"
        ))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Time from spawn until the server answered (and the transition fix was applied).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// moto_server's own log (stdout and stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// The AWS environment for a child process talking to this server: dummy
    /// credentials, region, endpoint, no IMDS, no shared config files, few SDK retries
    /// with a tiny backoff, and ecs-roll's fast poll interval.
    pub fn env(&self) -> Vec<(String, String)> {
        let nofile = self.dir.path().join("no-such-aws-file");
        let nofile = nofile.to_string_lossy().into_owned();
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_MAX_ATTEMPTS", "2"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", nofile.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", nofile.as_str()),
            ("ECS_ROLL_RETRY_INITIAL_BACKOFF_MS", "10"),
            ("ECS_ROLL_POLL_INTERVAL", "100ms"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Puts [`MotoServer::env`] on `cmd` after clearing [`AWS_VARS_TO_CLEAR`].
    pub fn apply_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for k in AWS_VARS_TO_CLEAR {
            cmd.env_remove(k);
        }
        cmd.envs(self.env())
    }

    /// The ecs-roll binary, run from the repository root (so ecs-roll.toml applies),
    /// with this server's environment and stdin closed.
    pub fn ecs_roll(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-roll"));
        cmd.current_dir(repo_root()).stdin(Stdio::null());
        self.apply_env(&mut cmd);
        cmd
    }

    /// POST to moto's own API (e.g. `/moto-api/reset`). Returns (status, body).
    pub fn moto_api(&self, path: &str, body: &str) -> (u16, String) {
        http(self.port, "POST", path, Some(body)).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    fn apply_transition_fix(&self) -> Result<(), String> {
        match http(
            self.port,
            "POST",
            "/moto-api/state-manager/set-transition",
            Some(TRANSITION_FIX),
        ) {
            Ok((200..=299, _)) => Ok(()),
            Ok((s, b)) => Err(format!("set-transition: HTTP {s}: {b:.300}")),
            Err(e) => Err(format!("set-transition: {e}")),
        }
    }

    /// Empties moto (all services), re-applies the transition fix and turns the ECS service
    /// scheduler off (both settings survive moto's own reset).
    pub fn reset(&self) {
        let (s, b) = self.moto_api("/moto-api/reset", "");
        assert!((200..300).contains(&s), "reset: HTTP {s}: {b}");
        self.apply_transition_fix().unwrap();
        let (s, b) = self.moto_api(
            "/moto-api/state-manager/unset-transition",
            &serde_json::json!({"model_name": SCHEDULER_MODEL}).to_string(),
        );
        assert!((200..300).contains(&s), "unset-transition: HTTP {s}: {b}");
    }

    /// Runs `python3 scripts/<script> args...` with this server's environment.
    pub fn run_script<I, S>(&self, script: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(python());
        cmd.arg(scripts_dir().join(script))
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::null());
        self.apply_env(&mut cmd);
        cmd.output()
            .unwrap_or_else(|e| panic!("running {script}: {e}"))
    }

    fn run_script_json(&self, script: &str, args: &[String]) -> Value {
        let out = self.run_script(script, args);
        assert!(
            out.status.success(),
            "{script} {args:?} failed ({}):\n{}\n--- moto log (tail) ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 30)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{script}: bad JSON ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Calls one AWS operation (boto3 client name and snake_case method, e.g.
    /// `("ecs", "stop_task", json!({...}))`) through a `scripts/aws_call.py --serve`
    /// process kept for this server (no interpreter start per call). `Err` holds
    /// `{"code", "message", "http_status"}` of an AWS error; a malformed call panics.
    pub fn try_aws(&self, service: &str, operation: &str, params: &Value) -> Result<Value, Value> {
        let request =
            serde_json::json!({"service": service, "operation": operation, "params": params})
                .to_string();
        let mut guard = self.aws_helper.lock().unwrap_or_else(|p| p.into_inner());
        let mut answer = None;
        for _attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(AwsHelper::spawn(self));
            }
            match guard.as_mut().unwrap().call(&request) {
                Ok(line) => {
                    answer = Some(line);
                    break;
                }
                // The helper died (or answered nothing): start a new one, once.
                Err(_) => {
                    if let Some(mut h) = guard.take() {
                        h.kill();
                    }
                }
            }
        }
        let log = || {
            tail(
                &fs::read_to_string(self.dir.path().join("aws-helper.log")).unwrap_or_default(),
                30,
            )
        };
        let line = answer.unwrap_or_else(|| {
            panic!(
                "aws_call.py --serve died on {service} {operation}:\n{}",
                log()
            )
        });
        let mut v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("aws_call.py: bad answer to {service} {operation} ({e}): {line}")
        });
        if v.get("ok").is_some() {
            return Ok(v["ok"].take());
        }
        let err = v["error"].take();
        if err["code"] == "HelperError" || err["code"] == "NoSuchOperation" {
            panic!(
                "{service} {operation} {params}: {}\n{}",
                err["message"],
                log()
            );
        }
        Err(err)
    }

    /// Like [`MotoServer::try_aws`], panicking on an AWS error.
    pub fn aws(&self, service: &str, operation: &str, params: &Value) -> Value {
        self.try_aws(service, operation, params)
            .unwrap_or_else(|e| panic!("{service} {operation} {params}: {e}"))
    }

    /// The process id of moto_server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Resets moto and seeds the reference setup (scripts/seed_reference.py).
    pub fn seed(&self, opts: &SeedOptions) -> Seeded {
        let value = self.run_script_json("seed_reference.py", &opts.to_args(&self.endpoint));
        let mut seeded: Seeded = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("seed summary: {e}: {value}"));
        seeded.raw = value;
        *self.target.lock().unwrap() = Target {
            cluster: seeded.cluster.clone(),
            load_balancer: seeded.load_balancer.clone(),
            family: seeded.family.clone(),
        };
        seeded
    }

    fn target_args(&self) -> Vec<String> {
        let t = self.target.lock().unwrap().clone();
        vec![
            "--endpoint".into(),
            self.endpoint.clone(),
            "--cluster".into(),
            t.cluster,
            "--load-balancer".into(),
            t.load_balancer,
            "--family".into(),
            t.family,
        ]
    }

    /// The AWS state now (scripts/inspect_state.py state): task definitions of the
    /// family, every task of the cluster, container instances, the ELB, EC2 instances.
    pub fn inspect(&self) -> AwsState {
        let mut args = vec!["state".to_string()];
        args.extend(self.target_args());
        let value = self.run_script_json("inspect_state.py", &args);
        let mut state: AwsState = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("inspect_state.py: {e}: {value}"));
        state.raw = value;
        state
    }

    /// Starts the load-balancer health sampler (every ~50 ms); returns once the first
    /// sample is in. Stop it with [`HealthSampler::stop`] to get the report.
    pub fn health_sampler(&self) -> HealthSampler {
        self.health_sampler_with(Duration::from_millis(50), true)
    }

    /// `with_tasks = false` samples DescribeInstanceHealth only (no `serving` count).
    pub fn health_sampler_with(&self, interval: Duration, with_tasks: bool) -> HealthSampler {
        let mut args = vec![
            scripts_dir()
                .join("inspect_state.py")
                .to_string_lossy()
                .into_owned(),
            "sample".into(),
            "--interval".into(),
            format!("{:.3}", interval.as_secs_f64()),
        ];
        args.extend(self.target_args());
        if !with_tasks {
            args.push("--no-tasks".into());
        }
        let n = self.samplers.fetch_add(1, Ordering::Relaxed);
        let log = self.dir.path().join(format!("sampler-{n}.log"));
        let mut cmd = Command::new(python());
        cmd.args(&args).current_dir(repo_root());
        self.apply_env(&mut cmd);
        HealthSampler::spawn(cmd, log)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let helper = self
            .aws_helper
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut helper) = helper {
            helper.kill();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `scripts/aws_call.py --serve` child: one JSON request per line in, one answer out.
struct AwsHelper {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl AwsHelper {
    fn spawn(moto: &MotoServer) -> AwsHelper {
        let log = moto.dir.path().join("aws-helper.log");
        let err = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut cmd = Command::new(python());
        cmd.arg(scripts_dir().join("aws_call.py"))
            .args(["--endpoint", moto.endpoint(), "--serve"])
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err);
        moto.apply_env(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning aws_call.py --serve: {e}"));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        AwsHelper {
            child,
            stdin,
            stdout,
        }
    }

    fn call(&mut self, request: &str) -> std::io::Result<String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("closed"))?;
        writeln!(stdin, "{request}")?;
        stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("aws_call.py --serve exited"));
        }
        Ok(line)
    }

    fn kill(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum Ready {
    Collision(String),
    Failed(String),
}

fn wait_ready(
    child: &mut Child,
    port: u16,
    log_path: &Path,
    deadline: Instant,
) -> Result<(), Ready> {
    // werkzeug prints this once *this* process has bound the port; checking it rules out
    // answering for another test's server that won the port.
    let needle = format!("Running on http://127.0.0.1:{port}");
    loop {
        let log = fs::read_to_string(log_path).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            if log.contains("Address already in use")
                || log.contains("is in use by another program")
            {
                return Err(Ready::Collision(tail(&log, 10)));
            }
            return Err(Ready::Failed(format!(
                "moto_server exited ({status}) on port {port}:\n{}",
                tail(&log, 30)
            )));
        }
        if log.contains(&needle) && matches!(http(port, "GET", "/moto-api/", None), Ok((200, _))) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Ready::Failed(format!(
                "moto_server on port {port} not ready within {START_TIMEOUT:?}:\n{}",
                tail(&log, 30)
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// Seeding

/// Options of scripts/seed_reference.py. `Default` is the reference setup: 3 instances
/// (us-east-1a/b/c), a task on each, health check HTTP:5555/testme 30 s / 5 s / 2 / 2,
/// connection draining 60 s, cross-zone on.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub instances: usize,
    /// Tasks on the first N instances (default: one per instance).
    pub tasks: Option<usize>,
    pub draining: bool,
    pub draining_timeout_secs: u32,
    pub cross_zone: bool,
    pub health_target: Option<String>,
    pub health_interval_secs: u32,
    pub health_timeout_secs: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// Task definition input file (default taskdefs/cb-prototype.json).
    pub task_definition: Option<PathBuf>,
    pub cluster: String,
    pub load_balancer: String,
    pub started_by: Option<String>,
    /// The app as an ECS service (scheduled by the patched moto) instead of standalone tasks.
    pub service: Option<ServiceSeed>,
    /// Passed to the script verbatim.
    pub extra_args: Vec<String>,
}

/// The app as an ECS service: `tasks` of it (one per instance by default) behind the classic
/// ELB, or behind an ALB target group of instance targets.
#[derive(Clone, Debug)]
pub struct ServiceSeed {
    pub name: String,
    pub target_group: bool,
    pub maximum_percent: u32,
    pub minimum_healthy_percent: u32,
}

impl ServiceSeed {
    /// Service `cb-prototype` behind the classic ELB, deploymentConfiguration 200 / 100.
    pub fn classic() -> ServiceSeed {
        ServiceSeed {
            name: FAMILY.into(),
            target_group: false,
            maximum_percent: 200,
            minimum_healthy_percent: 100,
        }
    }

    /// The same behind an ALB target group `cb-prototype-tg`.
    pub fn target_group() -> ServiceSeed {
        ServiceSeed {
            target_group: true,
            ..ServiceSeed::classic()
        }
    }
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            instances: 3,
            tasks: None,
            draining: true,
            draining_timeout_secs: 60,
            cross_zone: true,
            health_target: None,
            health_interval_secs: 30,
            health_timeout_secs: 5,
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            task_definition: None,
            cluster: CLUSTER.into(),
            load_balancer: LOAD_BALANCER.into(),
            started_by: None,
            service: None,
            extra_args: Vec::new(),
        }
    }
}

impl SeedOptions {
    /// The reference setup with the smallest waits classic ELB allows: health check
    /// every 5 s, timeout 2 s, thresholds 2, connection draining 1 s.
    pub fn fast() -> Self {
        SeedOptions {
            draining_timeout_secs: 1,
            health_interval_secs: 5,
            health_timeout_secs: 2,
            ..SeedOptions::default()
        }
    }

    fn to_args(&self, endpoint: &str) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--endpoint".into(),
            endpoint.into(),
            "--instances".into(),
            self.instances.to_string(),
            "--cluster".into(),
            self.cluster.clone(),
            "--load-balancer".into(),
            self.load_balancer.clone(),
            "--draining-timeout".into(),
            self.draining_timeout_secs.to_string(),
            "--health-interval".into(),
            self.health_interval_secs.to_string(),
            "--health-timeout".into(),
            self.health_timeout_secs.to_string(),
            "--healthy-threshold".into(),
            self.healthy_threshold.to_string(),
            "--unhealthy-threshold".into(),
            self.unhealthy_threshold.to_string(),
        ];
        if let Some(t) = self.tasks {
            a.extend(["--tasks".into(), t.to_string()]);
        }
        if !self.draining {
            a.push("--no-draining".into());
        }
        if !self.cross_zone {
            a.push("--no-cross-zone".into());
        }
        if let Some(t) = &self.health_target {
            a.extend(["--health-target".into(), t.clone()]);
        }
        if let Some(p) = &self.task_definition {
            a.extend(["--task-definition".into(), p.to_string_lossy().into_owned()]);
        }
        if let Some(s) = &self.started_by {
            a.extend(["--started-by".into(), s.clone()]);
        }
        if let Some(s) = &self.service {
            a.extend([
                "--service".into(),
                s.name.clone(),
                "--max-percent".into(),
                s.maximum_percent.to_string(),
                "--min-healthy-percent".into(),
                s.minimum_healthy_percent.to_string(),
            ]);
            if s.target_group {
                a.push("--service-target-group".into());
            }
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// The summary scripts/seed_reference.py prints.
#[derive(Clone, Debug, Deserialize)]
pub struct Seeded {
    pub endpoint: String,
    pub region: String,
    pub cluster: String,
    pub cluster_arn: String,
    pub load_balancer: String,
    pub family: String,
    pub task_definition_arn: String,
    pub task_definition_revision: i64,
    pub image: String,
    pub instances: Vec<SeededInstance>,
    pub instance_ids: Vec<String>,
    pub container_instance_arns: Vec<String>,
    pub task_arns: Vec<String>,
    pub registered_instance_ids: Vec<String>,
    /// With [`SeedOptions::service`].
    #[serde(default)]
    pub service: Option<SeededService>,
    pub elapsed_ms: u64,
    #[serde(skip)]
    pub raw: Value,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SeededService {
    pub name: String,
    pub arn: String,
    /// Its first deployment, COMPLETED when the seed returns.
    pub deployment_id: String,
    /// With [`ServiceSeed::target_group`].
    pub target_group_arn: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SeededInstance {
    pub instance_id: String,
    pub availability_zone: String,
    pub container_instance_arn: String,
    pub task_arn: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Inspection

/// The AWS state as scripts/inspect_state.py reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct AwsState {
    pub cluster: String,
    /// The family's revisions, ACTIVE and INACTIVE, by revision.
    pub task_definitions: Vec<TaskDefinitionInfo>,
    /// Every task of the cluster, RUNNING and STOPPED.
    pub tasks: Vec<TaskInfo>,
    /// EC2 instance id -> its RUNNING tasks (every container instance has an entry).
    pub running_tasks_by_instance: BTreeMap<String, Vec<RunningTask>>,
    pub container_instances: Vec<ContainerInstanceInfo>,
    pub load_balancer: Option<LoadBalancerInfo>,
    pub ec2_instances: BTreeMap<String, Ec2Instance>,
    #[serde(skip)]
    pub raw: Value,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TaskDefinitionInfo {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    /// ACTIVE or INACTIVE.
    pub status: String,
    /// container name -> image.
    pub images: BTreeMap<String, String>,
    /// The first container's image.
    pub image: Option<String>,
    pub host_ports: Vec<Option<i64>>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TaskInfo {
    pub arn: String,
    pub task_definition_arn: String,
    pub family: String,
    pub revision: i64,
    pub last_status: Option<String>,
    pub desired_status: Option<String>,
    pub container_instance_arn: Option<String>,
    pub instance_id: Option<String>,
    pub availability_zone: Option<String>,
    pub images: BTreeMap<String, Option<String>>,
    pub image: Option<String>,
    pub started_by: Option<String>,
    pub stopped_reason: Option<String>,
    pub group: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl TaskInfo {
    pub fn is_running(&self) -> bool {
        self.last_status.as_deref() == Some("RUNNING")
            && self.desired_status.as_deref() == Some("RUNNING")
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RunningTask {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    pub image: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ContainerInstanceInfo {
    pub arn: String,
    pub instance_id: Option<String>,
    pub availability_zone: Option<String>,
    pub status: Option<String>,
    pub running_tasks_count: Option<i64>,
    pub pending_tasks_count: Option<i64>,
    /// ECS's `remainingResources` PORTS: the host ports *taken* on the instance (agent
    /// ports plus those of running tasks). moto lists a port twice when two tasks hold it.
    pub remaining_ports: Vec<String>,
    pub remaining_cpu: Option<i64>,
    pub remaining_memory: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LoadBalancerInfo {
    pub name: String,
    pub registered_instances: Vec<String>,
    /// instance id -> InService / OutOfService (as DescribeInstanceHealth says: an
    /// instance whose connections are draining is listed as InService, and in
    /// `draining_instances`).
    pub instance_health: BTreeMap<String, String>,
    /// InService and not draining.
    pub in_service: usize,
    /// Instances whose deregistration (connection draining) is in progress.
    #[serde(default)]
    pub draining_instances: Vec<String>,
    pub health_check: Option<HealthCheck>,
    pub connection_draining: ConnectionDraining,
    pub cross_zone: Option<bool>,
    pub listeners: Vec<Listener>,
    pub availability_zones: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheck {
    pub target: String,
    pub interval: i64,
    pub timeout: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ConnectionDraining {
    pub enabled: Option<bool>,
    pub timeout: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Listener {
    pub protocol: String,
    pub load_balancer_port: i64,
    pub instance_protocol: Option<String>,
    pub instance_port: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Ec2Instance {
    pub state: String,
    pub availability_zone: Option<String>,
}

impl AwsState {
    /// RUNNING tasks of the cluster.
    pub fn running_tasks(&self) -> Vec<&TaskInfo> {
        self.tasks.iter().filter(|t| t.is_running()).collect()
    }

    /// Images of the RUNNING tasks, one entry per task, sorted.
    pub fn running_images(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .running_tasks()
            .iter()
            .filter_map(|t| t.image.clone())
            .collect();
        v.sort();
        v
    }

    /// The task definition of the family with this revision.
    pub fn task_definition(&self, revision: i64) -> Option<&TaskDefinitionInfo> {
        self.task_definitions
            .iter()
            .find(|t| t.revision == revision)
    }

    /// The highest revision (ACTIVE or not).
    pub fn latest_task_definition(&self) -> Option<&TaskDefinitionInfo> {
        self.task_definitions.iter().max_by_key(|t| t.revision)
    }

    /// Instance ids the ELB reports InService, draining ones excepted.
    pub fn in_service_instances(&self) -> Vec<String> {
        self.load_balancer
            .iter()
            .flat_map(|lb| {
                lb.instance_health.iter().filter(|(i, s)| {
                    s.as_str() == "InService" && !lb.draining_instances.contains(i)
                })
            })
            .map(|(i, _)| i.clone())
            .collect()
    }

    /// Number of RUNNING tasks per EC2 instance (instances without one included as 0).
    pub fn running_count_by_instance(&self) -> BTreeMap<String, usize> {
        self.running_tasks_by_instance
            .iter()
            .map(|(i, t)| (i.clone(), t.len()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Health sampler

/// One line of `inspect_state.py sample`.
#[derive(Clone, Debug, Deserialize)]
pub struct Sample {
    pub seq: u64,
    pub t_ms: u64,
    /// Registered instances (draining ones not counted).
    #[serde(default)]
    pub registered: usize,
    /// Registered and InService: the instances that get new requests.
    #[serde(default)]
    pub in_service: usize,
    /// Instances whose deregistration (connection draining) is in progress.
    #[serde(default)]
    pub draining: usize,
    /// InService instances running a RUNNING task of the family (None with `--no-tasks`).
    #[serde(default)]
    pub serving: Option<usize>,
    /// Draining instances whose task was already stopped: in-flight requests cut
    /// (None with `--no-tasks`).
    #[serde(default)]
    pub cut: Option<usize>,
    #[serde(default)]
    pub in_service_ids: Vec<String>,
    #[serde(default)]
    pub draining_ids: Vec<String>,
    #[serde(default)]
    pub serving_ids: Vec<String>,
    #[serde(default)]
    pub cut_ids: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// What the sampler saw. Minima are over successful samples; with no successful
/// sample they are 0.
#[derive(Clone, Debug)]
pub struct HealthReport {
    /// Successful samples.
    pub samples: usize,
    /// Failed samples (moto errors); `first_error` has the first message.
    pub errors: usize,
    pub first_error: Option<String>,
    pub min_in_service: usize,
    pub max_in_service: usize,
    pub min_serving: Option<usize>,
    pub min_registered: usize,
    /// Most instances draining at once.
    pub max_draining: usize,
    /// Instances seen draining with their task already stopped (connections cut);
    /// empty for a deploy that waits for connection draining before stopping a task.
    pub cut_instances: Vec<String>,
    /// How long the sampler ran (first to last sample).
    pub span: Duration,
    pub timeline: Vec<Sample>,
}

impl HealthReport {
    fn from_samples(all: &[Sample]) -> HealthReport {
        let ok: Vec<&Sample> = all.iter().filter(|s| s.error.is_none()).collect();
        let errors: Vec<&Sample> = all.iter().filter(|s| s.error.is_some()).collect();
        HealthReport {
            samples: ok.len(),
            errors: errors.len(),
            first_error: errors.first().and_then(|s| s.error.clone()),
            min_in_service: ok.iter().map(|s| s.in_service).min().unwrap_or(0),
            max_in_service: ok.iter().map(|s| s.in_service).max().unwrap_or(0),
            min_serving: if ok.is_empty() {
                Some(0)
            } else {
                ok.iter().map(|s| s.serving).min().flatten()
            },
            min_registered: ok.iter().map(|s| s.registered).min().unwrap_or(0),
            max_draining: ok.iter().map(|s| s.draining).max().unwrap_or(0),
            cut_instances: ok
                .iter()
                .flat_map(|s| s.cut_ids.iter().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            span: Duration::from_millis(match (all.first(), all.last()) {
                (Some(a), Some(b)) => b.t_ms.saturating_sub(a.t_ms),
                _ => 0,
            }),
            timeline: all.to_vec(),
        }
    }

    /// The samples whose InService count is below `n` (for assertion messages).
    pub fn dips_below(&self, n: usize) -> Vec<&Sample> {
        self.timeline
            .iter()
            .filter(|s| s.error.is_none() && s.in_service < n)
            .collect()
    }

    /// A one-line summary for assertion messages.
    pub fn summary(&self) -> String {
        format!(
            "{} samples over {:?} ({} errors{}), InService min {} max {}, serving min {:?}, \
             registered min {}, draining max {}, cut while draining {:?}",
            self.samples,
            self.span,
            self.errors,
            self.first_error
                .as_deref()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default(),
            self.min_in_service,
            self.max_in_service,
            self.min_serving,
            self.min_registered,
            self.max_draining,
            self.cut_instances
        )
    }
}

#[derive(Default)]
struct SamplerShared {
    samples: Vec<Sample>,
    closed: bool,
}

/// Background poller of the ELB's instance health (and of the tasks behind it).
pub struct HealthSampler {
    child: Option<Child>,
    reader: Option<JoinHandle<()>>,
    shared: Arc<(Mutex<SamplerShared>, Condvar)>,
    log: PathBuf,
}

impl HealthSampler {
    fn spawn(mut cmd: Command, log: PathBuf) -> HealthSampler {
        let err = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning the health sampler: {e}"));
        let stdout = child.stdout.take().unwrap();
        let shared = Arc::new((Mutex::new(SamplerShared::default()), Condvar::new()));
        let sh = Arc::clone(&shared);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(sample) = serde_json::from_str::<Sample>(&line) {
                    let (m, cv) = &*sh;
                    m.lock().unwrap().samples.push(sample);
                    cv.notify_all();
                }
            }
            let (m, cv) = &*sh;
            m.lock().unwrap().closed = true;
            cv.notify_all();
        });
        let mut sampler = HealthSampler {
            child: Some(child),
            reader: Some(reader),
            shared,
            log,
        };
        if !sampler.wait_for_samples(1, Duration::from_secs(60)) {
            let log = fs::read_to_string(&sampler.log).unwrap_or_default();
            sampler.kill();
            panic!(
                "health sampler produced no sample within 60 s:\n{}",
                tail(&log, 30)
            );
        }
        sampler
    }

    /// Waits until at least `n` samples (ok or failed) are in; false on timeout or exit.
    pub fn wait_for_samples(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut g = m.lock().unwrap();
        while g.samples.len() < n {
            if g.closed {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
        true
    }

    /// The report so far, without stopping.
    pub fn snapshot(&self) -> HealthReport {
        HealthReport::from_samples(&self.shared.0.lock().unwrap().samples)
    }

    /// Takes one more sample (so the report covers the state after whatever the test
    /// just did), stops the sampler and returns its report.
    pub fn stop(mut self) -> HealthReport {
        let have = self.shared.0.lock().unwrap().samples.len();
        let _ = self.wait_for_samples(have + 1, Duration::from_secs(30));
        self.kill();
        let report = self.snapshot();
        if report.samples == 0 {
            eprintln!(
                "health sampler: no successful sample; log:\n{}",
                tail(&fs::read_to_string(&self.log).unwrap_or_default(), 30)
            );
        }
        report
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for HealthSampler {
    fn drop(&mut self) {
        self.kill();
    }
}
