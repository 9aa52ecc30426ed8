//! The real relay (`cr_server::serve`) in this process on a loopback port, with a temp
//! database, plus what the tests ask of it: pairing codes, API tokens, plain HTTP requests and
//! a look into its store.
//!
//! It runs on a runtime of its own, so `kill` can drop everything at once without a goodbye
//! to anyone (no WebSocket close, no final flush of links): to `cr` that is a relay that died.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{DEADLINE, wait_until};

/// Worker threads of the relay's runtime: enough for a few links and API calls.
const RELAY_THREADS: usize = 2;

pub struct Relay {
    pub port: u16,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Relay {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = Self { port, dir: tempfile::tempdir().unwrap(), runtime: None };
        r.up();
        r
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("relay.db")
    }

    /// Starts (again) on the same port and database.
    pub fn up(&mut self) {
        assert!(self.runtime.is_none(), "the relay is already up");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RELAY_THREADS)
            .enable_all()
            .build()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        // The port of a relay killed a moment ago may take a moment to be free again.
        let listener = runtime.block_on(async {
            let until = Instant::now() + DEADLINE;
            loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(_) if Instant::now() < until => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("cannot listen on {addr} again: {e}"),
                }
            }
        });
        let config = cr_server::Config::new(addr, self.db());
        runtime.spawn(async move {
            if let Err(e) = cr_server::serve(listener, config, std::future::pending()).await {
                panic!("the relay failed: {e:#}");
            }
        });
        self.runtime = Some(runtime);
        wait_until("the relay to answer", || self.get_status("/healthz") == Some(200));
    }

    /// Drops the relay on the floor, like `kill -9`: every task and socket goes at once.
    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        wait_until("the relay to be gone", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_err()
        });
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn admin(&self) -> cr_server::store::Admin {
        cr_server::store::Admin::open(&self.db()).unwrap()
    }

    pub fn pairing_code(&self) -> String {
        let public = cr_server::config::PublicUrl::parse(&self.url()).unwrap();
        cr_server::mint::pairing_code(&self.admin().conn, &public, "", cr_server::now())
            .unwrap()
            .code
    }

    pub fn api_token(&self) -> String {
        cr_server::mint::api_token(&self.admin().conn, "tests", cr_server::now()).unwrap().token
    }

    /// Pairs a `cr` config file under `home` (through `cr pair`, as a user would).
    pub fn pair(&self, home: &Path) -> PathBuf {
        let config = home.join("cr/config.toml");
        let out = Command::new(env!("CARGO_BIN_EXE_cr"))
            .args(["pair", &self.url(), &self.pairing_code(), "--name", "testbox"])
            .env("CR_CONFIG", &config)
            .env("XDG_STATE_HOME", home)
            .output()
            .unwrap();
        assert!(out.status.success(), "cr pair: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Paired with"));
        config
    }

    fn get_status(&self, path: &str) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        String::from_utf8_lossy(&raw).split_whitespace().nth(1)?.parse().ok()
    }

    /// One HTTP request with a bearer token; (status, JSON body or null).
    pub fn http(&self, token: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, text) = self.http_text(token, method, path, body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One HTTP request with a bearer token; (status, body).
    pub fn http_text(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        // Longer than the relay's own wait for an answer to be confirmed (10 s).
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
            port = self.port,
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        (status, if chunked { dechunk(body) } else { body.to_owned() })
    }

    /// The newest session whose name is `name` (`None`: any), once the relay has it.
    pub fn session(&self, token: &str, name: Option<&str>) -> String {
        let mut id = String::new();
        wait_until(&format!("a session {name:?} to appear"), || {
            let (status, v) = self.http(token, "GET", "/api/sessions", None);
            let found =
                v.as_array().into_iter().flatten().find(|s| name.is_none_or(|n| s["name"] == n));
            if let Some(s) = found.filter(|_| status == 200) {
                id = s["id"].as_str().unwrap().to_owned();
                return true;
            }
            false
        });
        id
    }

    /// The session's pending prompts (`GET /api/sessions/{id}`).
    pub fn pending(&self, token: &str, session: &str) -> Vec<Value> {
        let (_, v) = self.http(token, "GET", &format!("/api/sessions/{session}"), None);
        v["prompts"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for the session's first pending prompt.
    pub fn pending_prompt(&self, token: &str, session: &str) -> Value {
        let mut prompt = Value::Null;
        wait_until("a pending prompt", || match self.pending(token, session).first() {
            Some(p) => {
                prompt = p.clone();
                true
            }
            None => false,
        });
        prompt
    }

    /// Every prompt the relay ever stored for a session, oldest first, with its final state:
    /// (prompt JSON with `status` and `by` filled in).
    pub fn all_prompts(&self, session: &str) -> Vec<Value> {
        let admin = self.admin();
        let mut stmt = admin
            .conn
            .prepare(
                "SELECT data, status, settled_by FROM prompts WHERE session_id = ?1
                 ORDER BY created_at, rowid",
            )
            .unwrap();
        let rows = stmt
            .query_map([session], |r| {
                let data: String = r.get(0)?;
                let status: String = r.get(1)?;
                let by: Option<String> = r.get(2)?;
                Ok((data, status, by))
            })
            .unwrap();
        rows.map(|r| {
            let (data, status, by) = r.unwrap();
            let mut v: Value = serde_json::from_str(&data).unwrap();
            v["status"] = Value::String(status);
            v["by"] = by.map_or(Value::Null, Value::String);
            v
        })
        .collect()
    }

    /// Every transcript line the relay stored for a session, in order.
    pub fn transcript(&self, session: &str) -> Vec<String> {
        let admin = self.admin();
        let mut stmt = admin
            .conn
            .prepare("SELECT line FROM output_log WHERE session_id = ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([session], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    }
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
