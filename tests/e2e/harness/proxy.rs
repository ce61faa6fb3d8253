//! A loopback HTTP/1.1 proxy between ecs-roll and moto_server that sees every AWS call and
//! can hold it or act right after it: the way to make things happen that moto cannot do
//! by itself (a task that crashes as soon as it starts) at an exact point of a rollout,
//! with no race against ecs-roll's polling.
//!
//! Point ecs-roll at it with `AWS_ENDPOINT_URL=<proxy.endpoint()>`. It only ever connects
//! to the moto_server on 127.0.0.1 it was given.
//!
//! Also: [`ecs_call`] and [`elb_call`], single AWS calls straight to moto over HTTP.
//!
//! Interceptors: [`CrashOnStart`] (a new revision's tasks crash at once), [`Hold`] and
//! [`HoldAt`] (hold one chosen call so a test can act at that exact point), [`Chain`]
//! (several at once) and [`FaultInjector`]: throttling, HTTP 500/503, connections closed
//! without a response (before or after moto acted), slow responses, at a seeded random
//! rate, and blackouts (AWS unreachable) from a chosen call on.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Reacts to AWS calls passing through the proxy. `operation` is the API name
/// (`StartTask`, `DescribeInstanceHealth`...).
pub trait Interceptor: Send + Sync + 'static {
    /// Before the call goes to moto (blocking here holds the call).
    fn before(&self, _operation: &str, _request: &[u8]) {}
    /// After moto answered, before ecs-roll gets the answer.
    fn after(&self, _operation: &str, _request: &[u8], _response: &[u8]) {}
    /// Called after `before`: a fault to inject instead of (or on top of) forwarding the
    /// call. None (the default) forwards it as usual.
    fn fault(&self, _operation: &str, _request: &[u8]) -> Option<Fault> {
        None
    }
}

/// What the proxy can do to one AWS call besides forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// HTTP 400 with the service's throttling error: `ThrottlingException` (ECS, JSON) or
    /// `Throttling` (classic ELB, XML). The call does not reach moto.
    Throttle,
    /// HTTP 500 with the service's internal error (`ServerException` / `InternalFailure`).
    ServerError,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// The connection is closed without a response, before the call reaches moto.
    Reset,
    /// The call reaches moto and takes effect, then the connection is closed before the
    /// response: the caller cannot know whether it happened.
    LostResponse,
    /// The response is held back this long (forwarded normally otherwise).
    Delay(Duration),
}

impl Fault {
    /// A short name for counts and reports (`Delay` without its duration).
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "http-500",
            Fault::Unavailable => "http-503",
            Fault::Reset => "reset",
            Fault::LostResponse => "lost-response",
            Fault::Delay(_) => "delay",
        }
    }
}

/// Lets everything through.
pub struct PassThrough;
impl Interceptor for PassThrough {}

pub struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    operations: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// Listens on a free 127.0.0.1 port and forwards to moto on 127.0.0.1:`upstream`.
    pub fn start(upstream: u16, hook: Arc<dyn Interceptor>) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let operations = Arc::new(Mutex::new(Vec::new()));
        let (stop2, ops2) = (Arc::clone(&stop), Arc::clone(&operations));
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (hook, ops) = (Arc::clone(&hook), Arc::clone(&ops2));
                thread::spawn(move || {
                    let _ = serve(conn, upstream, hook.as_ref(), &ops);
                });
            }
        });
        Proxy {
            port,
            stop,
            accept: Some(accept),
            operations,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The operations seen so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.operations.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// One HTTP message: start line, headers, body (de-chunked).
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The AWS operation: `X-Amz-Target: Service.Operation` (JSON protocols) or the
    /// `Action=` form field (query protocol).
    fn operation(&self) -> String {
        if let Some(t) = self.header("x-amz-target") {
            return t.rsplit('.').next().unwrap_or(t).to_string();
        }
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or("?")
            .to_string()
    }

    /// Serialises with a Content-Length and the given Connection header.
    fn write_to(&self, w: &mut impl Write, connection: &str) -> io::Result<()> {
        let mut head = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            let hop = [
                "connection",
                "keep-alive",
                "content-length",
                "transfer-encoding",
            ];
            if !hop.iter().any(|h| k.eq_ignore_ascii_case(h)) {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
            self.body.len()
        ));
        w.write_all(head.as_bytes())?;
        w.write_all(&self.body)?;
        w.flush()
    }
}

/// Reads one message; `Ok(None)` on a clean EOF before it.
fn read_message(r: &mut impl BufRead, response: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let start = start.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::other("EOF in headers"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut m = Message {
        start,
        headers,
        body: Vec::new(),
    };
    let chunked = m
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| io::Error::other(format!("bad chunk size {size:?}: {e}")))?;
            if n == 0 {
                // Trailers up to the empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk)?;
            m.body.extend_from_slice(&chunk);
            let mut crlf = [0; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = m.header("content-length") {
        let n: usize = n
            .parse()
            .map_err(|e| io::Error::other(format!("bad Content-Length {n:?}: {e}")))?;
        m.body = vec![0; n];
        r.read_exact(&mut m.body)?;
    } else if response {
        r.read_to_end(&mut m.body)?;
    }
    Ok(Some(m))
}

fn serve(
    conn: TcpStream,
    upstream: u16,
    hook: &dyn Interceptor,
    ops: &Mutex<Vec<String>>,
) -> io::Result<()> {
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_message(&mut reader, false)? {
        let op = req.operation();
        ops.lock().unwrap().push(op.clone());
        hook.before(&op, &req.body);
        match hook.fault(&op, &req.body) {
            None => {}
            Some(Fault::Throttle) => {
                error_response(&req, 400, "Throttling", "Rate exceeded")
                    .write_to(&mut writer, "keep-alive")?;
                continue;
            }
            Some(Fault::ServerError) => {
                error_response(
                    &req,
                    500,
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                )
                .write_to(&mut writer, "keep-alive")?;
                continue;
            }
            Some(Fault::Unavailable) => {
                error_response(
                    &req,
                    503,
                    "ServiceUnavailable",
                    "Service is unavailable. Please try again.",
                )
                .write_to(&mut writer, "keep-alive")?;
                continue;
            }
            // Dropping the connection closes it: no response at all.
            Some(Fault::Reset) => return Ok(()),
            Some(Fault::LostResponse) => {
                let resp = forward(upstream, &req)?;
                hook.after(&op, &req.body, &resp.body);
                return Ok(());
            }
            Some(Fault::Delay(d)) => thread::sleep(d),
        }
        let resp = forward(upstream, &req)?;
        hook.after(&op, &req.body, &resp.body);
        resp.write_to(&mut writer, "keep-alive")?;
    }
    Ok(())
}

/// An AWS error response in the request's protocol: JSON 1.1 for ECS (`X-Amz-Target`), the
/// query protocol's XML for the classic ELB. `code` is the query protocol's name; ECS's
/// JSON codes are `ThrottlingException`, `ServerException` and `ServiceUnavailableException`.
fn error_response(req: &Message, status: u16, code: &str, message: &str) -> Message {
    let reason = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let request_id = "00000000-0000-4000-8000-fa017fa017fa";
    let (content_type, body) = if req.header("x-amz-target").is_some() {
        let code = match code {
            "Throttling" => "ThrottlingException",
            "InternalFailure" => "ServerException",
            "ServiceUnavailable" => "ServiceUnavailableException",
            other => other,
        };
        (
            "application/x-amz-json-1.1",
            json!({"__type": code, "message": message}).to_string(),
        )
    } else {
        let kind = if status < 500 { "Sender" } else { "Receiver" };
        (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\">\
                 <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        )
    };
    Message {
        start: format!("HTTP/1.1 {status} {reason}"),
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("x-amzn-RequestId".into(), request_id.into()),
        ],
        body: body.into_bytes(),
    }
}

fn forward(upstream: u16, req: &Message) -> io::Result<Message> {
    let mut s = connect(upstream)?;
    req.write_to(&mut s, "close")?;
    read_message(&mut BufReader::new(s), true)?
        .ok_or_else(|| io::Error::other("moto closed the connection without answering"))
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(5),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(s)
}

fn call(port: u16, headers: &[(&str, String)], body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
    let mut h: Vec<(String, String)> = vec![("Host".into(), format!("127.0.0.1:{port}"))];
    h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let req = Message {
        start: "POST / HTTP/1.1".into(),
        headers: h,
        body: body.to_vec(),
    };
    let resp = forward(port, &req)?;
    let status = resp
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {:?}", resp.start)))?;
    Ok((status, resp.body))
}

fn authorization(service: &str) -> String {
    // moto reads the region (and, on a shared endpoint, the service) from the credential
    // scope; it does not check signatures.
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0000",
        crate::support::REGION
    )
}

/// One ECS call (JSON 1.1 protocol) straight to moto on 127.0.0.1:`port`.
pub fn ecs_call(port: u16, operation: &str, params: &Value) -> io::Result<(u16, Value)> {
    let body = serde_json::to_vec(params)?;
    let (status, body) = call(
        port,
        &[
            ("Content-Type", "application/x-amz-json-1.1".into()),
            (
                "X-Amz-Target",
                format!("AmazonEC2ContainerServiceV20141113.{operation}"),
            ),
            ("Authorization", authorization("ecs")),
        ],
        &body,
    )?;
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&body)}));
    Ok((status, v))
}

/// One CloudWatch Logs call (JSON 1.1 protocol) straight to moto on 127.0.0.1:`port`.
pub fn logs_call(port: u16, operation: &str, params: &Value) -> io::Result<(u16, Value)> {
    let body = serde_json::to_vec(params)?;
    let (status, body) = call(
        port,
        &[
            ("Content-Type", "application/x-amz-json-1.1".into()),
            ("X-Amz-Target", format!("Logs_20140328.{operation}")),
            ("Authorization", authorization("logs")),
        ],
        &body,
    )?;
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&body)}));
    Ok((status, v))
}

/// One classic ELB call (query protocol) straight to moto; returns the XML answer.
pub fn elb_call(port: u16, action: &str, params: &[(&str, &str)]) -> io::Result<(u16, String)> {
    let mut body = format!("Action={action}&Version=2012-06-01");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", form_encode(v)));
    }
    let (status, body) = call(
        port,
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
            ("Authorization", authorization("elasticloadbalancing")),
        ],
        body.as_bytes(),
    )?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One query-protocol call (IAM, STS, classic ELB...) straight to moto: `service` is the
/// signing name moto routes by (`iam`), `version` the API version (`2010-05-08`). Returns the
/// XML answer.
pub fn query_call(
    port: u16,
    service: &str,
    version: &str,
    action: &str,
    params: &[(&str, &str)],
) -> io::Result<(u16, String)> {
    let mut body = format!("Action={action}&Version={version}");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", form_encode(v)));
    }
    let (status, body) = call(
        port,
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
            ("Authorization", authorization(service)),
        ],
        body.as_bytes(),
    )?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Interceptors

/// Every task of a chosen revision "crashes" the moment it is started: right after moto
/// answered StartTask, and before ecs-roll sees that answer, the proxy stops the new
/// tasks with the reason ECS gives when an essential container exits. Deterministic:
/// ecs-roll never sees such a task RUNNING.
pub struct CrashOnStart {
    upstream: u16,
    cluster: String,
    /// `family:revision` whose tasks crash.
    revision: String,
    crashed: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
    /// StartTask calls of the revision let through before the crashes begin.
    spare: usize,
    starts: Mutex<usize>,
    /// What each crashed task's container wrote to its awslogs stream before it crashed.
    log: Option<CrashLog>,
    /// The stopped reason ECS gives.
    reason: String,
}

/// The lines a crashed container leaves in CloudWatch Logs: its stream is
/// `PREFIX/CONTAINER/TASK_ID` in `group`, as the awslogs driver names it.
#[derive(Clone, Debug)]
pub struct CrashLog {
    pub group: String,
    pub prefix: String,
    pub container: String,
    pub lines: Vec<String>,
}

pub const CRASH_REASON: &str = "Essential container in task exited";

impl CrashOnStart {
    pub fn new(upstream: u16, cluster: &str, revision: &str) -> Arc<CrashOnStart> {
        CrashOnStart::sparing(upstream, cluster, revision, 0)
    }

    /// Like [`CrashOnStart::new`], but the first `spare` StartTask calls of the revision
    /// start healthy tasks: the deploy fails at a later step.
    pub fn sparing(
        upstream: u16,
        cluster: &str,
        revision: &str,
        spare: usize,
    ) -> Arc<CrashOnStart> {
        Arc::new(CrashOnStart {
            upstream,
            cluster: cluster.into(),
            revision: revision.into(),
            crashed: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            spare,
            starts: Mutex::new(0),
            log: None,
            reason: CRASH_REASON.into(),
        })
    }

    /// Like [`CrashOnStart::new`], each task stopped with `reason` (a pull failure, an OOM
    /// kill) instead of [`CRASH_REASON`].
    pub fn stopping_with(
        upstream: u16,
        cluster: &str,
        revision: &str,
        reason: &str,
    ) -> Arc<CrashOnStart> {
        let mut c = Arc::into_inner(CrashOnStart::new(upstream, cluster, revision)).unwrap();
        c.reason = reason.into();
        Arc::new(c)
    }

    /// Like [`CrashOnStart::new`], each crashed container having written `log` first.
    pub fn logging(
        upstream: u16,
        cluster: &str,
        revision: &str,
        log: CrashLog,
    ) -> Arc<CrashOnStart> {
        let (group, upstream_port) = (log.group.clone(), upstream);
        let (status, v) = logs_call(
            upstream_port,
            "CreateLogGroup",
            &json!({"logGroupName": group}),
        )
        .expect("CreateLogGroup on moto");
        assert!(
            status == 200 || v.to_string().contains("AlreadyExists"),
            "{v}"
        );
        let mut c = Arc::into_inner(CrashOnStart::new(upstream, cluster, revision)).unwrap();
        c.log = Some(log);
        Arc::new(c)
    }

    /// Writes the crash log into the stream of `task_arn`.
    fn write_log(&self, task_arn: &str) -> io::Result<()> {
        let Some(log) = &self.log else { return Ok(()) };
        let id = task_arn.rsplit('/').next().unwrap_or(task_arn);
        let stream = format!("{}/{}/{id}", log.prefix, log.container);
        let names = json!({"logGroupName": log.group, "logStreamName": stream});
        logs_call(self.upstream, "CreateLogStream", &names)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let events: Vec<Value> = log
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| json!({"timestamp": now + i as i64, "message": l}))
            .collect();
        let mut put = names;
        put["logEvents"] = events.into();
        match logs_call(self.upstream, "PutLogEvents", &put)? {
            (200, _) => Ok(()),
            (s, v) => Err(io::Error::other(format!("PutLogEvents: HTTP {s}: {v}"))),
        }
    }

    /// Task ARNs stopped so far.
    pub fn crashed(&self) -> Vec<String> {
        self.crashed.lock().unwrap().clone()
    }

    /// StopTask calls that failed (should be none).
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

impl Interceptor for CrashOnStart {
    fn after(&self, operation: &str, request: &[u8], response: &[u8]) {
        if operation != "StartTask" {
            return;
        }
        let req: Value = serde_json::from_slice(request).unwrap_or_default();
        let td = req["taskDefinition"].as_str().unwrap_or_default();
        let name = td.rsplit('/').next().unwrap_or(td);
        if name != self.revision {
            return;
        }
        {
            let mut starts = self.starts.lock().unwrap();
            *starts += 1;
            if *starts <= self.spare {
                return;
            }
        }
        let resp: Value = serde_json::from_slice(response).unwrap_or_default();
        for task in resp["tasks"].as_array().into_iter().flatten() {
            let Some(arn) = task["taskArn"].as_str() else {
                continue;
            };
            if let Err(e) = self.write_log(arn) {
                self.errors.lock().unwrap().push(e.to_string());
            }
            let params = json!({"cluster": self.cluster, "task": arn, "reason": self.reason});
            match ecs_call(self.upstream, "StopTask", &params) {
                Ok((200, _)) => self.crashed.lock().unwrap().push(arn.to_string()),
                Ok((s, v)) => self.errors.lock().unwrap().push(format!("HTTP {s}: {v}")),
                Err(e) => self.errors.lock().unwrap().push(e.to_string()),
            }
        }
    }
}

/// Holds the first call of `operation` until [`Hold::release`] (or 60 s), so a test can act
/// while ecs-roll waits on it.
pub struct Hold {
    operation: String,
    state: Mutex<(bool, bool)>, // (held, released)
    cv: Condvar,
}

impl Hold {
    pub fn new(operation: &str) -> Arc<Hold> {
        Arc::new(Hold {
            operation: operation.into(),
            state: Mutex::new((false, false)),
            cv: Condvar::new(),
        })
    }

    /// Waits until the call is being held.
    pub fn wait_held(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.state.lock().unwrap();
        while !g.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self.cv.wait_timeout(g, left).unwrap().0;
        }
        true
    }

    pub fn release(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
}

impl Interceptor for Hold {
    fn before(&self, operation: &str, _request: &[u8]) {
        if operation != self.operation {
            return;
        }
        let mut g = self.state.lock().unwrap();
        if g.0 {
            return; // only the first one
        }
        g.0 = true;
        self.cv.notify_all();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !g.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self.cv.wait_timeout(g, left).unwrap().0;
        }
    }
}

/// Several interceptors in turn: `before` and `after` of each in order; the first fault any
/// of them asks for.
pub struct Chain(pub Vec<Arc<dyn Interceptor>>);

impl Interceptor for Chain {
    fn before(&self, operation: &str, request: &[u8]) {
        for h in &self.0 {
            h.before(operation, request);
        }
    }
    fn after(&self, operation: &str, request: &[u8], response: &[u8]) {
        for h in &self.0 {
            h.after(operation, request, response);
        }
    }
    fn fault(&self, operation: &str, request: &[u8]) -> Option<Fault> {
        self.0.iter().find_map(|h| h.fault(operation, request))
    }
}

/// Holds one chosen call until [`HoldAt::release`] (or 60 s): the `nth` call of `operation`
/// (1-based), counting only calls made after moto answered the `after_nth`th call of `after`
/// (when set), whose request body contains `body_contains` (when set) and made while `when`
/// holds (when set). With it a test stops ecs-roll at an exact point of a rollout (inside the
/// drain wait of step 1, at the StartTask of the rollback...) and acts while it waits there.
pub struct HoldAt {
    operation: String,
    after: Option<String>,
    after_nth: usize,
    nth: usize,
    body_contains: Option<String>,
    when: Option<Condition>,
    drop_after_release: bool,
    state: Mutex<HoldAtState>,
    cv: Condvar,
}

#[derive(Default)]
struct HoldAtState {
    armed: bool,
    after_seen: usize,
    seen: usize,
    held: bool,
    released: bool,
    /// The proxy thread serving the held call, while its drop is pending.
    dropping: Option<thread::ThreadId>,
}

/// How long a held call waits at most for its release.
pub const HOLD_LIMIT: Duration = Duration::from_secs(60);

/// A condition on the state of moto, checked as a call passes (see [`HoldAt::when`]).
pub type Condition = Arc<dyn Fn() -> bool + Send + Sync>;

impl HoldAt {
    /// The first call of `operation`.
    pub fn new(operation: &str) -> HoldAt {
        HoldAt {
            operation: operation.into(),
            after: None,
            after_nth: 1,
            nth: 1,
            body_contains: None,
            when: None,
            drop_after_release: false,
            state: Mutex::new(HoldAtState::default()),
            cv: Condvar::new(),
        }
    }

    /// Count only calls made after moto answered the first `operation` call.
    pub fn after(self, operation: &str) -> HoldAt {
        self.after_nth(operation, 1)
    }

    /// Count only calls made after moto answered the `n`th `operation` call (1-based).
    pub fn after_nth(mut self, operation: &str, n: usize) -> HoldAt {
        self.after = Some(operation.into());
        self.after_nth = n.max(1);
        self
    }

    /// The `n`th matching call (1-based) instead of the first.
    pub fn nth(mut self, n: usize) -> HoldAt {
        self.nth = n.max(1);
        self
    }

    /// Count only calls whose request body contains `text`.
    pub fn body_contains(mut self, text: &str) -> HoldAt {
        self.body_contains = Some(text.into());
        self
    }

    /// Count only calls made while `condition` holds (moto's own state, e.g. an instance
    /// draining, read as the call passes): a point of a rollout that ecs-roll's requests alone
    /// do not mark.
    pub fn when(mut self, condition: impl Fn() -> bool + Send + Sync + 'static) -> HoldAt {
        self.when = Some(Arc::new(condition));
        self
    }

    /// After its release the held call never reaches moto: its connection is closed
    /// unanswered (as for a process killed while the call was on its way, which AWS never
    /// got).
    pub fn drop_after_release(mut self) -> HoldAt {
        self.drop_after_release = true;
        self
    }

    pub fn build(self) -> Arc<HoldAt> {
        let armed = self.after.is_none();
        self.state.lock().unwrap().armed = armed;
        Arc::new(self)
    }

    /// What is held, for messages: `StartTask #1 after DeregisterInstancesFromLoadBalancer`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} #{}", self.operation, self.nth);
        if let Some(a) = &self.after {
            s.push_str(&format!(" after {a} #{}", self.after_nth));
        }
        if let Some(b) = &self.body_contains {
            s.push_str(&format!(" with {b:?}"));
        }
        if self.when.is_some() {
            s.push_str(" when its condition holds");
        }
        s
    }

    /// Waits until the call is being held.
    pub fn wait_held(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.state.lock().unwrap();
        while !g.held {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self.cv.wait_timeout(g, left).unwrap().0;
        }
        true
    }

    pub fn release(&self) {
        self.state.lock().unwrap().released = true;
        self.cv.notify_all();
    }
}

impl Interceptor for HoldAt {
    fn before(&self, operation: &str, request: &[u8]) {
        if operation != self.operation {
            return;
        }
        if let Some(text) = &self.body_contains
            && !String::from_utf8_lossy(request).contains(text.as_str())
        {
            return;
        }
        if !self.state.lock().unwrap().armed {
            return;
        }
        if let Some(condition) = &self.when
            && !condition()
        {
            return;
        }
        let mut g = self.state.lock().unwrap();
        if !g.armed || g.held {
            return;
        }
        g.seen += 1;
        if g.seen != self.nth {
            return;
        }
        g.held = true;
        self.cv.notify_all();
        let deadline = Instant::now() + HOLD_LIMIT;
        while !g.released {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self.cv.wait_timeout(g, left).unwrap().0;
        }
        if self.drop_after_release {
            g.dropping = Some(thread::current().id());
        }
    }

    fn after(&self, operation: &str, _request: &[u8], _response: &[u8]) {
        if self.after.as_deref() == Some(operation) {
            let mut g = self.state.lock().unwrap();
            g.after_seen += 1;
            if g.after_seen >= self.after_nth {
                g.armed = true;
            }
        }
    }

    fn fault(&self, _operation: &str, _request: &[u8]) -> Option<Fault> {
        let mut g = self.state.lock().unwrap();
        if g.dropping == Some(thread::current().id()) {
            g.dropping = None;
            return Some(Fault::Reset);
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Fault injection

/// SplitMix64: a tiny, seedable, deterministic generator (no dependency, same sequence on
/// every machine).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// What a [`FaultInjector`] does.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    pub seed: u64,
    /// Share of calls that get a fault, 0.0 to 1.0.
    pub rate: f64,
    /// The faults drawn from, with weights. A `Delay(d)` waits between d/4 and d.
    pub kinds: Vec<(Fault, u32)>,
    /// Operations that are not idempotent (a repeat does something again): they never get
    /// `LostResponse` (a `Reset` instead, which stops them before moto).
    pub not_idempotent: Vec<String>,
    /// Operations that never get a fault.
    pub spared: Vec<String>,
}

impl FaultConfig {
    /// Every kind of fault at `rate`, with the given seed; StartTask and
    /// RegisterTaskDefinition never lose their response.
    pub fn mixed(seed: u64, rate: f64) -> FaultConfig {
        FaultConfig {
            seed,
            rate,
            kinds: vec![
                (Fault::Throttle, 30),
                (Fault::ServerError, 15),
                (Fault::Unavailable, 15),
                (Fault::Reset, 20),
                (Fault::LostResponse, 10),
                (Fault::Delay(Duration::from_millis(1500)), 10),
            ],
            not_idempotent: vec!["StartTask".into(), "RegisterTaskDefinition".into()],
            spared: Vec::new(),
        }
    }
}

/// Counts of what a [`FaultInjector`] did.
#[derive(Debug, Clone, Default)]
pub struct FaultReport {
    /// Calls that reached the injector.
    pub calls: u64,
    /// Random faults by kind name ([`Fault::name`]).
    pub injected: BTreeMap<&'static str, u64>,
    /// Random faults by operation.
    pub by_operation: BTreeMap<String, u64>,
    /// Calls dropped (closed unanswered) by a blackout.
    pub blacked_out: u64,
}

impl FaultReport {
    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} calls, {} faults injected ({:?}), {} dropped by blackout; by operation {:?}",
            self.calls,
            self.total_injected(),
            self.injected,
            self.blacked_out,
            self.by_operation
        )
    }
}

/// Injects faults into the calls through the proxy: at random (seeded, so a run is
/// reproducible given the same order of calls) at a configured rate, and as a blackout
/// (every call closed unanswered: AWS unreachable) for a while, from a chosen call on.
pub struct FaultInjector {
    config: FaultConfig,
    rng: Mutex<SplitMix64>,
    random: AtomicBool,
    report: Mutex<FaultReport>,
    blackout: Mutex<BlackoutState>,
    scripted: Mutex<Scripted>,
}

/// Faults for chosen calls (operation, nth call of it, fault), and the calls seen per operation.
type Scripted = (Vec<(String, usize, Fault)>, BTreeMap<String, usize>);

#[derive(Default)]
struct BlackoutState {
    /// Calls are dropped until then.
    until: Option<Instant>,
    /// Start a blackout this long once moto answered this operation (once).
    trigger: Option<(String, Duration)>,
    started: Option<Instant>,
}

impl FaultInjector {
    pub fn new(config: FaultConfig) -> Arc<FaultInjector> {
        Arc::new(FaultInjector {
            rng: Mutex::new(SplitMix64::new(config.seed)),
            random: AtomicBool::new(config.rate > 0.0),
            config,
            report: Mutex::new(FaultReport::default()),
            blackout: Mutex::new(BlackoutState::default()),
            scripted: Mutex::new((Vec::new(), BTreeMap::new())),
        })
    }

    /// Gives the `nth` call (1-based) of `operation` this fault, whatever the random draw.
    pub fn on_call(&self, operation: &str, nth: usize, fault: Fault) {
        self.scripted
            .lock()
            .unwrap()
            .0
            .push((operation.into(), nth, fault));
    }

    /// Turns the random faults on or off (blackouts are not affected).
    pub fn set_random(&self, on: bool) {
        self.random.store(on, Ordering::SeqCst);
    }

    /// Drops every call from now on for `d`.
    pub fn blackout_for(&self, d: Duration) {
        let mut b = self.blackout.lock().unwrap();
        b.until = Some(Instant::now() + d);
        b.started = Some(Instant::now());
    }

    /// Drops every call for `d` from the moment moto answered the first call of
    /// `operation` (that call itself gets its answer).
    pub fn blackout_after(&self, operation: &str, d: Duration) {
        self.blackout.lock().unwrap().trigger = Some((operation.into(), d));
    }

    /// When the blackout started, if one did.
    pub fn blackout_started(&self) -> Option<Instant> {
        self.blackout.lock().unwrap().started
    }

    pub fn report(&self) -> FaultReport {
        self.report.lock().unwrap().clone()
    }

    fn draw(&self, operation: &str) -> Option<Fault> {
        if !self.random.load(Ordering::SeqCst) || self.config.spared.iter().any(|s| s == operation)
        {
            return None;
        }
        let mut rng = self.rng.lock().unwrap();
        if rng.next_f64() >= self.config.rate {
            return None;
        }
        let total: u64 = self.config.kinds.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = rng.below(total);
        let mut fault = Fault::Reset;
        for (f, w) in &self.config.kinds {
            if pick < u64::from(*w) {
                fault = *f;
                break;
            }
            pick -= u64::from(*w);
        }
        Some(match fault {
            Fault::Delay(max) => {
                let max_ms = max.as_millis().max(4) as u64;
                Fault::Delay(Duration::from_millis(
                    max_ms / 4 + rng.below(max_ms - max_ms / 4),
                ))
            }
            Fault::LostResponse if self.config.not_idempotent.iter().any(|o| o == operation) => {
                Fault::Reset
            }
            f => f,
        })
    }
}

impl Interceptor for FaultInjector {
    fn fault(&self, operation: &str, _request: &[u8]) -> Option<Fault> {
        let blacked_out = self
            .blackout
            .lock()
            .unwrap()
            .until
            .is_some_and(|u| Instant::now() < u);
        let mut report = self.report.lock().unwrap();
        report.calls += 1;
        if blacked_out {
            report.blacked_out += 1;
            return Some(Fault::Reset);
        }
        let scripted = {
            let mut g = self.scripted.lock().unwrap();
            let n = {
                let seen = g.1.entry(operation.to_string()).or_default();
                *seen += 1;
                *seen
            };
            g.0.iter()
                .find(|(op, nth, _)| op == operation && *nth == n)
                .map(|(_, _, f)| *f)
        };
        let fault = match scripted {
            Some(f) => f,
            None => self.draw(operation)?,
        };
        *report.injected.entry(fault.name()).or_default() += 1;
        *report
            .by_operation
            .entry(operation.to_string())
            .or_default() += 1;
        Some(fault)
    }

    fn after(&self, operation: &str, _request: &[u8], _response: &[u8]) {
        let mut b = self.blackout.lock().unwrap();
        if b.trigger.as_ref().is_some_and(|(op, _)| op == operation) {
            let (_, d) = b.trigger.take().unwrap();
            b.until = Some(Instant::now() + d);
            b.started = Some(Instant::now());
        }
    }
}
