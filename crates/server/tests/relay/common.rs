//! Test harness: the real relay on a loopback port with a temp database, a real link client
//! built on `cr_proto`, a real HTTP client and a real SSE client.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cr_proto::sign::{self, FrameOpener, FrameSealer, LinkKeys};
use cr_proto::{
    BodyFormat, DeviceId, Downlink, Event, LINK_VERSION, Numbered, Prompt, PromptId, PromptKind,
    PromptOption, PromptSource, PromptStatus, Screen, SessionId, SessionMeta, Timestamp, Uplink,
};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous: the machines are shared and slow; tests wait on conditions, never on sleeps.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Polls `check` until it returns `Some`, or panics after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

// ---------------------------------------------------------------------------------------------
// The relay

/// The relay in this process on 127.0.0.1:0 with a temp database; shuts down on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_with(dir, |_| {}).await
    }

    /// Starts with the config adjusted by `tweak`.
    pub async fn start_with(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut cr_server::Config),
    ) -> Self {
        let db = dir.path().join("relay.db");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = cr_server::Config::new(addr, db.clone());
        tweak(&mut config);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(cr_server::serve(listener, config, async {
            let _ = rx.await;
        }));
        let server = Self { addr, db, dir, shutdown: Some(tx), task: Some(task) };
        within("healthz", async {
            loop {
                if server.get("/healthz", None).await.status == 200 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the relay and waits until it has committed everything; returns the temp dir.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.shutdown.take().unwrap().send(());
        within("relay shutdown", self.task.take().unwrap()).await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn admin(&self) -> cr_server::store::Admin {
        cr_server::store::Admin::open(&self.db).unwrap()
    }

    pub fn public_url(&self) -> cr_server::config::PublicUrl {
        cr_server::config::PublicUrl::parse(&self.url()).unwrap()
    }

    pub fn pairing_code(&self, name: &str) -> String {
        let admin = self.admin();
        cr_server::mint::pairing_code(&admin.conn, &self.public_url(), name, cr_server::now())
            .unwrap()
            .code
    }

    /// Pairs a new device through `POST /api/pair`.
    pub async fn pair(&self, name: &str) -> Device {
        let code = self.pairing_code("");
        let body = serde_json::json!({"code": code, "name": name}).to_string();
        let res = self.post("/api/pair", None, &body).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let v: serde_json::Value = res.json();
        Device {
            id: v["device_id"].as_str().unwrap().to_owned(),
            secret: v["secret"].as_str().unwrap().to_owned(),
        }
    }

    pub fn login_token(&self) -> String {
        let admin = self.admin();
        cr_server::mint::login_link(&admin.conn, &self.public_url(), "admin", cr_server::now())
            .unwrap()
            .token
    }

    /// Logs a phone in through `POST /api/login`; returns the `cr_session` cookie.
    pub async fn login(&self) -> String {
        let body = serde_json::json!({"token": self.login_token()}).to_string();
        let res = self.request("POST", "/api/login", &[("origin", &self.url())], Some(&body)).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let set = res.header("set-cookie").expect("a cookie");
        let value = set.split(';').next().unwrap().strip_prefix("cr_session=").unwrap();
        format!("cr_session={value}")
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        http(self.addr, method, path, headers, body).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", *c)).collect();
        self.request("GET", path, &headers, None).await
    }

    /// A same-origin POST, as the page makes it.
    pub async fn post(&self, path: &str, cookie: Option<&str>, body: &str) -> Resp {
        let url = self.url();
        let mut headers = vec![("origin", url.as_str()), ("content-type", "application/json")];
        if let Some(c) = cookie {
            headers.push(("cookie", c));
        }
        self.request("POST", path, &headers, Some(body)).await
    }

    /// Opens a link for `device` and says hello for `session`.
    pub async fn link(&self, device: &Device, session: &str) -> (Link, u64) {
        let mut link = Link::connect(self.addr, device).await.expect("link accepted");
        let acked = link.hello(session).await;
        (link, acked)
    }

    pub async fn sse(&self, path: &str, cookie: &str, last_id: Option<&str>) -> Sse {
        Sse::open(self.addr, path, cookie, last_id).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The real `cr-server` binary as a child process.
pub struct RelayProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: String,
    /// Everything the relay logged so far (debug level).
    pub stderr: Arc<Mutex<String>>,
}

impl RelayProcess {
    pub fn start(db: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cr-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("RUST_LOG", "cr_server=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        // Keep draining stderr for the whole life of the relay, so logging never blocks it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
                drop(all);
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx.recv_timeout(DEADLINE).expect("the relay reports its address");
        let mut stdout = String::new();
        let out = child.stdout.take().unwrap();
        let (otx, orx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = otx.send(line);
            }
        });
        while let Ok(line) = orx.recv_timeout(Duration::from_millis(300)) {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Self { child, addr: addr.parse().unwrap(), stdout, stderr: log }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for RelayProcess {
    // A failed assertion must not leave a relay running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs an admin subcommand of the binary against `db`.
pub fn admin_command(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cr-server")).args(args).arg("--db").arg(db).output().unwrap()
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
    pub fn error(&self) -> String {
        let v: serde_json::Value = self.json();
        v["error"].as_str().unwrap_or_else(|| panic!("no error in {v}")).to_owned()
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> hyper::Response<Incoming> {
    send_on(TcpStream::connect(addr).await.unwrap(), addr, method, path, headers, body).await
}

async fn send_on(
    stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> hyper::Response<Incoming> {
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req =
        hyper::Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = Full::new(Bytes::from(body.unwrap_or("").to_owned()));
    sender.send_request(req.body(body).unwrap()).await.unwrap()
}

pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let res = send(addr, method, path, headers, body).await;
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Resp { status: parts.status.as_u16(), headers: parts.headers, body }
}

// ---------------------------------------------------------------------------------------------
// SSE

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// A real SSE client on its own connection; reads only when asked.
pub struct Sse {
    pub status: u16,
    body: Incoming,
    buf: String,
}

impl Sse {
    pub async fn open(addr: SocketAddr, path: &str, cookie: &str, last_id: Option<&str>) -> Self {
        let mut headers = vec![("cookie", cookie), ("accept", "text/event-stream")];
        if let Some(id) = last_id {
            headers.push(("last-event-id", id));
        }
        let res = send(addr, "GET", path, &headers, None).await;
        let status = res.status().as_u16();
        Self { status, body: res.into_body(), buf: String::new() }
    }

    /// A client on a socket with a tiny receive buffer, so that not reading soon pushes back
    /// on the relay (loopback buffers otherwise grow to tens of MiB).
    pub async fn open_small_window(addr: SocketAddr, path: &str, cookie: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let headers = [("cookie", cookie), ("accept", "text/event-stream")];
        let res = send_on(stream, addr, "GET", path, &headers, None).await;
        let status = res.status().as_u16();
        Self { status, body: res.into_body(), buf: String::new() }
    }

    /// The next event (keep-alive comments skipped), or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent { event: "message".into(), id: None, data: String::new() };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim_start().to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            let frame = self.body.frame().await?.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn next_named(&mut self, name: &str) -> SseEvent {
        within(&format!("SSE event {name}"), async {
            loop {
                let ev = self.next().await.expect("the stream ended");
                if ev.event == name {
                    return ev;
                }
            }
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// The link

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub secret: String,
}

static NONCES: AtomicU64 = AtomicU64::new(1);

pub fn fresh_nonce() -> String {
    let n = NONCES.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    format!("{:016x}{:016x}", t ^ u64::from(std::process::id()) << 32, n)
}

/// The four signed headers of a device request.
pub fn signed_headers(
    device: &Device,
    context: &str,
    timestamp: i64,
    nonce: &str,
) -> Vec<(String, String)> {
    sign::signed_headers(&device.secret, context, &device.id, timestamp, nonce)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `cr`'s end of a link, frame by frame.
pub struct Link {
    pub ws: Ws,
    pub sealer: FrameSealer,
    pub opener: FrameOpener,
}

/// A refused upgrade: status and body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

impl Link {
    pub async fn connect(addr: SocketAddr, device: &Device) -> Result<Link, Refused> {
        let ts = now_ms() / 1000;
        let nonce = fresh_nonce();
        Self::connect_with(
            addr,
            device,
            signed_headers(device, sign::LINK_CONTEXT, ts, &nonce),
            ts,
            &nonce,
        )
        .await
    }

    pub async fn connect_with(
        addr: SocketAddr,
        device: &Device,
        headers: Vec<(String, String)>,
        ts: i64,
        nonce: &str,
    ) -> Result<Link, Refused> {
        let mut req = format!("ws://{addr}{}", cr_proto::LINK_PATH).into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => {
                let (sealer, opener) =
                    LinkKeys::derive(&device.secret, &device.id, ts, nonce).client();
                Ok(Link { ws, sealer, opener })
            }
            Err(tungstenite::Error::Http(res)) => Err(Refused {
                status: res.status().as_u16(),
                body: String::from_utf8_lossy(res.body().as_deref().unwrap_or_default())
                    .into_owned(),
            }),
            Err(e) => panic!("link connect failed: {e}"),
        }
    }

    pub async fn send(&mut self, up: &Uplink) {
        let frame = self.sealer.seal(&serde_json::to_vec(up).unwrap());
        self.ws.send(Message::Binary(frame.into())).await.unwrap();
    }

    /// Next downlink message, heartbeats included; `None` once closed.
    pub async fn recv_any(&mut self) -> Option<Downlink> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Binary(b)) => {
                    let payload = self.opener.open(&b).expect("downlink frames verify");
                    return Some(serde_json::from_slice(payload).unwrap());
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Next non-heartbeat downlink message.
    pub async fn recv(&mut self) -> Downlink {
        within("a downlink message", async {
            loop {
                match self.recv_any().await.expect("link closed") {
                    Downlink::Heartbeat => continue,
                    other => return other,
                }
            }
        })
        .await
    }

    /// Says hello for `session`; returns `welcome.acked`.
    pub async fn hello(&mut self, session: &str) -> u64 {
        self.send(&Uplink::Hello { version: LINK_VERSION, session: meta(session) }).await;
        match self.recv().await {
            Downlink::Welcome { acked } => acked,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Waits for acknowledgement of `seq`.
    pub async fn acked(&mut self, seq: u64) {
        within(&format!("ack {seq}"), async {
            loop {
                if let Downlink::Ack { seq: got } = self.recv().await
                    && got >= seq
                {
                    return;
                }
            }
        })
        .await
    }

    /// Reads until the relay closes the link; returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        within("the link to close", async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return None,
                }
            }
        })
        .await
    }

    /// Sends heartbeats in the background is not needed in tests that finish within 6 s; this
    /// one keeps the link alive for long tests.
    pub async fn heartbeat(&mut self) {
        self.send(&Uplink::Heartbeat).await;
    }
}

pub fn meta(session: &str) -> SessionMeta {
    SessionMeta {
        id: SessionId::new(session).unwrap(),
        name: "proj".into(),
        command: "claude".into(),
        cwd: "/home/u/proj".into(),
        started_at: Timestamp(now_ms()),
    }
}

pub fn line(seq: u64, text: &str) -> Numbered {
    Numbered { seq, event: Event::Line { at: Timestamp(now_ms()), line: text.into() } }
}

pub fn lines(range: std::ops::RangeInclusive<u64>) -> Uplink {
    Uplink::Events { events: range.map(|s| line(s, &format!("line {s}"))).collect() }
}

pub fn tool_prompt(id: &str, session: &str) -> Prompt {
    Prompt {
        id: PromptId::new(id).unwrap(),
        session_id: SessionId::new(session).unwrap(),
        source: PromptSource::Hook,
        kind: PromptKind::Tool,
        title: "Bash command".into(),
        body: "rm -rf build".into(),
        options: vec![
            PromptOption::new("approve", "Yes"),
            PromptOption::new("always", "Yes, and don't ask again"),
            PromptOption::new("reject", "No"),
        ],
        created_at: Timestamp(now_ms()),
        status: PromptStatus::Pending,
        by: None,
        tool: Some("Bash".into()),
        format: BodyFormat::Command,
        questions: vec![],
    }
}

pub fn opened(seq: u64, prompt: Prompt) -> Uplink {
    Uplink::Events {
        events: vec![Numbered { seq, event: Event::PromptOpened { prompt: Box::new(prompt) } }],
    }
}

pub fn closed(seq: u64, id: &str, status: PromptStatus, by: cr_proto::AnsweredBy) -> Uplink {
    Uplink::Events {
        events: vec![Numbered {
            seq,
            event: Event::PromptClosed {
                prompt_id: PromptId::new(id).unwrap(),
                status,
                by,
                at: Timestamp(now_ms()),
            },
        }],
    }
}

pub fn screen_of(text: &[&str]) -> Screen {
    let mut s = Screen::blank(text.len() as u16, 40);
    s.lines = text.iter().map(|t| cr_proto::Row(vec![cr_proto::Span::plain(*t)])).collect();
    s
}

pub fn device_id(d: &Device) -> DeviceId {
    DeviceId::new(d.id.clone()).unwrap()
}
