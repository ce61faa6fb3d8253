//! A tiny HTTP/1.1 server on 127.0.0.1 that records every request and answers with canned
//! responses in order (the last one repeats), so tests can see exactly what went on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    /// An awsJson 1.1 reply, as ECS sends.
    pub fn json(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("content-type", "application/x-amz-json-1.1".into())],
            body: body.into(),
        }
    }

    /// An awsJson error whose code travels in the `__type` member.
    pub fn json_error(status: u16, code: &str, message: &str) -> Canned {
        Canned::json(
            status,
            &serde_json::json!({"__type": code, "message": message}).to_string(),
        )
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("content-type", content_type.into())],
            body: body.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// The operation an awsJson request names in X-Amz-Target (`Service.Operation`).
    pub fn operation(&self) -> &str {
        self.header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    responses: Vec<Canned>,
    served: usize,
    recorded: Vec<Recorded>,
}

pub struct StubServer {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl StubServer {
    pub fn start(responses: Vec<Canned>) -> StubServer {
        assert!(!responses.is_empty(), "a stub needs at least one response");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            responses,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                thread::spawn(move || serve(stream, &st));
            }
        });
        StubServer { port, state, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves requests on one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, state: &Mutex<State>) {
    // A client that vanishes mid-request must not leave the thread blocked forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let reply = {
            let mut s = state.lock().unwrap();
            s.recorded.push(request);
            let i = s.served.min(s.responses.len() - 1);
            s.served += 1;
            s.responses[i].clone()
        };
        let mut head = format!(
            "HTTP/1.1 {} Stub\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(reply.body.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    assert!(
        !headers.iter().any(|(n, _)| n == "transfer-encoding"),
        "the stub only understands content-length bodies: {headers:?}"
    );
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}
