//! Receivers for the notification tests, on 127.0.0.1: a tiny HTTP/1.1 server that records every
//! request and answers as told (200, an error status, a robot's JSON, never, or not at all because
//! it is down), and a real SMTP server (aiosmtpd) that stores each message as parsed JSON.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use linli_tests::{free_port, port_open, wait_until};
use serde_json::Value;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 with `{"ok":true}`.
    Ok,
    /// 200 with `{"errcode":0,"errmsg":"ok"}` (WeCom, DingTalk).
    Robot,
    /// This status.
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it was read completely.
    pub at: Instant,
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Status answered (0: none).
    pub answered: u16,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A query parameter of the target.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

#[derive(Debug)]
struct State {
    mode: Mode,
    up: bool,
    requests: Vec<Request>,
}

/// An HTTP receiver on its own port. `Drop` stops it.
#[derive(Debug)]
pub struct Receiver {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Longest a hanging answer is held (each test ends well before).
const HANG: Duration = Duration::from_secs(120);

impl Receiver {
    /// Starts a receiver answering with `mode`.
    pub fn start(mode: Mode) -> Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind a receiver")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State {
            mode,
            up: true,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(Some(listener), port, &state, &stop))
        };
        Ok(Receiver {
            port,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Changes how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Stops listening (connections are refused) or listens again on the same port.
    pub fn set_up(&self, up: bool) {
        self.state.lock().unwrap().up = up;
        let _ = wait_until(
            Duration::from_secs(5),
            "the receiver to change state",
            || port_open(self.port) == up,
        );
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Waits until `n` requests were answered 2xx; returns them all.
    pub fn wait_answered(&self, n: usize, deadline: Duration) -> Result<Vec<Request>> {
        wait_until(deadline, &format!("{n} answered request(s)"), || {
            self.requests()
                .iter()
                .filter(|r| (200..300).contains(&r.answered))
                .count()
                >= n
        })
        .with_context(|| format!("received so far: {:?}", self.summary()))?;
        Ok(self.requests())
    }

    /// Status and target of each request, for failure messages.
    pub fn summary(&self) -> Vec<(u16, String)> {
        self.requests()
            .iter()
            .map(|r| (r.answered, r.target.clone()))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    mut listener: Option<TcpListener>,
    port: u16,
    state: &Arc<Mutex<State>>,
    stop: &Arc<AtomicBool>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let up = state.lock().unwrap().up;
        match (&listener, up) {
            (Some(_), false) => listener = None,
            (None, true) => {
                // std sets SO_REUSEADDR, so the same port can be bound again at once.
                listener = TcpListener::bind(("127.0.0.1", port)).ok();
            }
            _ => {}
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let _ = l.set_nonblocking(true);
        match l.accept() {
            Ok((stream, _)) => {
                let (state, stop) = (state.clone(), stop.clone());
                workers.push(std::thread::spawn(move || serve(stream, &state, &stop)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
        workers.retain(|w| !w.is_finished());
    }
    for w in workers {
        let _ = w.join();
    }
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<State>>, stop: &Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Some(mut request) = read_request(&mut stream) else {
        return;
    };
    let mode = state.lock().unwrap().mode.clone();
    let (status, body) = match &mode {
        Mode::Ok => (200, r#"{"ok":true}"#.to_string()),
        Mode::Robot => (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_string()),
        Mode::Status(s) => (*s, r#"{"error":"told to fail"}"#.to_string()),
        Mode::Hang => (0, String::new()),
    };
    request.answered = status;
    state.lock().unwrap().requests.push(request);
    if status == 0 {
        let until = Instant::now() + HANG;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    let reason = if status < 300 { "OK" } else { "Error" };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        at: Instant::now(),
        method,
        target,
        headers,
        body,
        answered: 0,
    })
}

/// HMAC-SHA256 of `body` under `secret`, as `sha256=<hex>`.
pub fn expected_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// DingTalk's documented `sign` for `timestamp`: URL-encoded base64 of HMAC-SHA256 over
/// `"{timestamp}\n{secret}"`.
pub fn dingtalk_sign(secret: &str, timestamp: &str) -> String {
    use base64::Engine as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp}\n{secret}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A real SMTP server: aiosmtpd with a handler that writes each message, parsed by Python's
/// `email` package, as JSON into a directory. `Drop` kills it.
#[derive(Debug)]
pub struct Smtp {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

const HANDLER: &str = r#"
import asyncio, json, os, sys, email, email.policy
from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])

class Keep:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain = msg.get_body(('plain',))
        html = msg.get_body(('html',))
        record = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'subject': str(msg['subject']),
            'message_id': str(msg['message-id']),
            'key': str(msg['x-linli-key']),
            'text': plain.get_content() if plain else None,
            'html': html.get_content() if html else None,
        }
        Keep.n += 1
        tmp = os.path.join(out, '%d.tmp' % Keep.n)
        with open(tmp, 'w') as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(out, '%d.json' % Keep.n))
        return '250 Message accepted for delivery'

controller = Controller(Keep(), hostname='127.0.0.1', port=port)
controller.start()
print('ready', flush=True)
try:
    asyncio.new_event_loop().run_until_complete(asyncio.sleep(3600))
finally:
    controller.stop()
"#;

impl Smtp {
    /// Starts aiosmtpd on a free port and waits until it accepts connections.
    pub fn start() -> Result<Smtp> {
        let dir = linli_tests::temp_dir("linli-smtp-")?;
        let script = dir.path().join("keep.py");
        std::fs::write(&script, HANDLER)?;
        let mails = dir.path().join("mail");
        std::fs::create_dir(&mails)?;
        let port = free_port()?;
        // Debian's interpreter sees python3-aiosmtpd; a pyenv `python3` on PATH may not.
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| !p.starts_with('/') || Path::new(p).exists())
            .unwrap_or("python3");
        let child = Command::new(python)
            .arg(&script)
            .arg(&mails)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("smtp.log"))?)
            .spawn()
            .context("start python3 (is python3-aiosmtpd installed? tests/run.sh installs it)")?;
        let smtp = Smtp { port, dir, child };
        wait_until(Duration::from_secs(15), "aiosmtpd to listen", || {
            port_open(port)
        })
        .with_context(|| smtp.log())?;
        Ok(smtp)
    }

    /// Port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smtp.log")).unwrap_or_default()
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        read_mails(&self.mail_dir())
    }

    /// Waits for `n` messages.
    pub fn wait_messages(&self, n: usize, deadline: Duration) -> Result<Vec<Value>> {
        wait_until(deadline, &format!("{n} e-mail(s)"), || {
            self.messages().len() >= n
        })
        .with_context(|| self.log())?;
        Ok(self.messages())
    }
}

fn read_mails(dir: &Path) -> Vec<Value> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    let n = p.file_stem()?.to_str()?.parse().ok()?;
                    (p.extension()? == "json").then_some((n, p))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, p)| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for the gateway with a staff token (the harness's client sends none).
#[derive(Debug, Clone)]
pub struct Api {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Api {
    /// For the gateway on `port`, as the holder of `token`.
    pub fn new(port: u16, token: &str) -> Api {
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        Api {
            agent: ureq::Agent::new_with_config(config),
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_string(),
        }
    }

    /// GET with the token: status and body.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()?;
        Ok((r.status().as_u16(), r.body_mut().read_to_string()?))
    }

    /// GET JSON with the token; non-2xx is an error.
    pub fn json(&self, path: &str) -> Result<Value> {
        let (status, body) = self.get(path)?;
        if !(200..300).contains(&status) {
            bail!("GET {path}: HTTP {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// GET a full URL without the token (what a phone does with a link).
    pub fn get_url(&self, url: &str) -> Result<(u16, String)> {
        let mut r = self.agent.get(url).call()?;
        Ok((r.status().as_u16(), r.body_mut().read_to_string()?))
    }

    /// POST an empty form to a full URL without the token (the page's button).
    pub fn post_url(&self, url: &str) -> Result<(u16, String)> {
        let mut r = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("")?;
        Ok((r.status().as_u16(), r.body_mut().read_to_string()?))
    }
}

/// `[[device]]` entries for `n` SOS buttons `sos-000`... in building 3.
pub fn sos_devices(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[device]]\nid = \"sos-{i:03}\"\nkind = \"care.sos_button\"\n\
                 location = {{ building = \"3\", unit = \"2\", room = \"{}\" }}\n\n",
                100 + i
            )
        })
        .collect()
}

/// The `p`-th percentile (0..=100) of `sorted` values.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}
