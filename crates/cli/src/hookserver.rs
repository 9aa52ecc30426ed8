//! Claude Code hooks, the IO part: the loopback HTTP server `cr hook` talks to, and `cr hook`
//! itself. The mapping of payloads and answers lives in `hooks`; the session decides.
//!
//! The server listens on 127.0.0.1 on a random port and refuses any request without this
//! run's random token (compared in constant time), so another local user cannot answer
//! prompts. A `PermissionRequest` call is held open until the session replies: with the
//! phone's decision, or with `{}` (no decision: Claude Code's own dialog decides) as soon as
//! the dialog was answered at the keyboard.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::{
    io::AsyncReadExt,
    net::TcpListener,
    sync::{mpsc, oneshot},
};
use tracing::{debug, info, warn};

use crate::{
    hooks::{self, ENV_HOOK_ADDR, ENV_HOOK_TOKEN, HookPayload},
    net::{self, ServerUrl},
};

/// Header carrying the per-run token.
pub const TOKEN_HEADER: &str = "x-cr-hook-token";
/// The path `cr hook` posts to.
pub const HOOK_PATH: &str = "/hook";
/// Largest hook payload accepted (a big Write carries the whole file).
pub const MAX_HOOK_BODY: usize = 8 << 20;
/// Hook calls waiting for the session.
pub const HOOK_CALLS_CAP: usize = 32;
/// Logged when a `PermissionRequest` call starts waiting for an answer.
pub const PERMISSION_WAITING: &str = "permission hook call waiting";
/// Logged when a `PermissionRequest` call got its reply.
pub const PERMISSION_RETURNED: &str = "permission hook call returned";

/// A hook call for the session.
#[derive(Debug)]
pub enum HookCall {
    /// Claude Code asks for a decision; reply with the decision JSON (or `{}`).
    Permission {
        /// The payload.
        payload: HookPayload,
        /// Where the reply goes.
        reply: oneshot::Sender<Value>,
    },
    /// A state event (`PostToolUse`, `Stop`, …).
    State(HookPayload),
}

/// The running hook server.
#[derive(Debug)]
pub struct HookServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The token `cr hook` must present.
    pub token: String,
}

impl HookServer {
    /// The URL an `http` hook posts to.
    pub fn url(&self) -> String {
        format!("http://{}{HOOK_PATH}", self.addr)
    }

    /// The environment that lets `cr hook` (run by Claude Code) reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (ENV_HOOK_ADDR.into(), self.addr.to_string()),
            (ENV_HOOK_TOKEN.into(), self.token.clone()),
        ]
    }
}

/// Pause after a failed accept before the next.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Starts the server on a random loopback port; calls arrive on the returned receiver.
pub async fn start() -> Result<(HookServer, mpsc::Receiver<HookCall>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("cannot listen for hooks")?;
    let addr = listener.local_addr()?;
    let token = cr_proto::sign::hex(&rand::random::<[u8; 32]>());
    let (tx, rx) = mpsc::channel(HOOK_CALLS_CAP);
    let expected = token.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                // The session is gone (or never took the calls): stop listening.
                () = tx.closed() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: try again shortly rather than
                    // spinning on the error.
                    debug!("hook server accept: {e}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            // The decision is one small response that must leave at once, not wait for the
            // ACK of whatever hyper wrote before it (Nagle's algorithm: up to 40 ms).
            let _ = stream.set_nodelay(true);
            let (tx, expected) = (tx.clone(), expected.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, tx.clone(), expected.clone()));
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    debug!("hook connection: {e}");
                }
            });
        }
    });
    Ok((HookServer { addr, token }, rx))
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    r
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    tx: mpsc::Sender<HookCall>,
    token: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let given = req.headers().get(TOKEN_HEADER).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    if !bool::from(given.ct_eq(token.as_bytes())) {
        return Ok(reply(StatusCode::UNAUTHORIZED, r#"{"error":"bad hook token"}"#.into()));
    }
    if req.method() != hyper::Method::POST || req.uri().path() != HOOK_PATH {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"error":"POST /hook only"}"#.into()));
    }
    let body = match Limited::new(req.into_body(), MAX_HOOK_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":"hook payload too large"}"#.into(),
            ));
        }
    };
    let payload: HookPayload = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": e.to_string() }).to_string(),
            ));
        }
    };
    let none = hooks::no_decision().to_string();
    if payload.hook_event_name == "PermissionRequest" {
        let (reply_tx, reply_rx) = oneshot::channel();
        if tx.send(HookCall::Permission { payload, reply: reply_tx }).await.is_err() {
            return Ok(reply(StatusCode::OK, none));
        }
        info!("{PERMISSION_WAITING}");
        let decision = reply_rx.await.unwrap_or_else(|_| hooks::no_decision());
        info!("{PERMISSION_RETURNED}");
        return Ok(reply(StatusCode::OK, decision.to_string()));
    }
    // State events never wait: a full queue drops the event rather than slow Claude down.
    if tx.try_send(HookCall::State(payload)).is_err() {
        warn!("hook event dropped: the session is busy");
    }
    Ok(reply(StatusCode::OK, none))
}

/// `cr hook`: forwards the payload on stdin to the `cr` that started Claude Code and prints
/// its reply. Fails open and silently (no decision), so a missing `cr` never blocks Claude.
pub async fn forward() -> i32 {
    let (Ok(addr), Ok(token)) = (std::env::var(ENV_HOOK_ADDR), std::env::var(ENV_HOOK_TOKEN))
    else {
        return 0;
    };
    let mut body = Vec::new();
    if tokio::io::stdin().take(MAX_HOOK_BODY as u64).read_to_end(&mut body).await.is_err() {
        return 0;
    }
    let Ok(url) = ServerUrl::parse(&format!("http://{addr}")) else { return 0 };
    // Claude Code's own hook timeout bounds the wait; this one only stops a stuck process.
    let wait = Duration::from_secs(hooks::PERMISSION_TIMEOUT_SECS + 60);
    if let Ok(r) = net::post_json(&url, HOOK_PATH, &[(TOKEN_HEADER, token)], body, wait).await
        && r.status == 200
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&r.body);
        let _ = out.flush();
    }
    0
}
