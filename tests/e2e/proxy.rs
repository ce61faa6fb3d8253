//! A loopback HTTP/1.1 proxy between ecs-roll and moto_server that sees every AWS call and
//! can hold it or act right after it: the way to make things happen that moto cannot do
//! by itself (a task that crashes as soon as it starts) at an exact point of a rollout,
//! with no race against ecs-roll's polling.
//!
//! Point ecs-roll at it with `AWS_ENDPOINT_URL=<proxy.endpoint()>`. It only ever connects
//! to the moto_server on 127.0.0.1 it was given.
//!
//! Also: [`ecs_call`] and [`elb_call`], single AWS calls straight to moto over HTTP.

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
        let resp = forward(upstream, &req)?;
        hook.after(&op, &req.body, &resp.body);
        resp.write_to(&mut writer, "keep-alive")?;
    }
    Ok(())
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
}

pub const CRASH_REASON: &str = "Essential container in task exited";

impl CrashOnStart {
    pub fn new(upstream: u16, cluster: &str, revision: &str) -> Arc<CrashOnStart> {
        Arc::new(CrashOnStart {
            upstream,
            cluster: cluster.into(),
            revision: revision.into(),
            crashed: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
        })
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
        let resp: Value = serde_json::from_slice(response).unwrap_or_default();
        for task in resp["tasks"].as_array().into_iter().flatten() {
            let Some(arn) = task["taskArn"].as_str() else {
                continue;
            };
            let params = json!({"cluster": self.cluster, "task": arn, "reason": CRASH_REASON});
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
