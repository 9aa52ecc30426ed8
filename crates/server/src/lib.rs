//! `cr-server`, the claude-remote relay: it pairs devices, stores sessions, prompts and
//! transcripts in SQLite, and fans live updates out to phones over SSE.
//!
//! # Module map
//!
//! Data flows `link → ingest → store + hub → feed (SSE)`, and back `api → hub → link`.
//!
//! - [`link`]: `GET /ws`, the authenticated WebSocket from `cr`; moves frames.
//! - [`ingest`]: what each uplink message does; store jobs and hub publishes, no sockets.
//! - [`store`]: SQLite (WAL), the writer thread that batches commits, and all SQL.
//! - [`hub`]: in-memory fan-out: feed broadcast, screens, live links, answer claims.
//! - [`feed`]: `GET /events`, server-sent events with coalescing and resume.
//! - [`api`]: the REST routes; [`answer`] is the exactly-once answer flow behind them.
//! - [`auth`]: phone cookies, API tokens, device signatures, the Origin check;
//!   [`ratelimit`] counts failed attempts, [`secret`] and [`mint`] make codes and tokens.
//! - [`router`]: every route in one list, security headers; [`assets`]: the embedded page.
//! - [`config`], [`state`], [`error`]: settings, shared state, the one `AppError`.
//! - [`cli`]: the `cr-server` subcommands (admin commands work on the database directly).

pub mod answer;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod feed;
pub mod hub;
pub mod ingest;
pub mod link;
pub mod mint;
pub mod ratelimit;
pub mod router;
pub mod secret;
pub mod state;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use cr_proto::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
use state::{AppState, SharedState};

/// How often the relay looks for devices revoked by the admin command (another process), so
/// their live links close within about this long.
pub const REVOCATION_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long seen nonces are kept: a signed timestamp is accepted for 120 s either way, so a
/// nonce older than this can no longer be replayed anyway.
pub const NONCE_RETENTION: Duration = Duration::from_secs(10 * 60);

/// The wall clock, as the wire writes it.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// Resolves once the shutdown flag is (or becomes) true, or its sender is gone.
pub async fn stopped(flag: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it inside this future.
    let _ = flag.wait_for(|stop| *stop).await.is_ok();
}

/// Runs the relay on `listener` until `shutdown` resolves, then closes links and feeds and
/// commits what is queued before returning.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().context("reading the listening address")?;
    let public_url = config.public_url_for(addr);
    let db = config.db_path()?;
    let store = store::Store::open(&db)
        .with_context(|| format!("opening the database {}", db.display()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state: SharedState = Arc::new(
        AppState::new(store, public_url, stop_rx).with_trusted_proxies(config.trusted_proxies),
    );
    let background = tokio::spawn(housekeeping(state.clone()));

    tracing::info!(%addr, public_url = %state.public_url, db = %db.display(), "listening on {addr}");
    let app = router::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    // Every write to a phone or a link is a whole event or frame that should leave at once;
    // with Nagle's algorithm on, one written while the peer's delayed ACK of the previous is
    // pending waits up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    background.abort();
    state.hub.close_all("the relay is shutting down");
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.close()).await.context("closing the database")?;
    tracing::info!("relay stopped");
    served.context("serving HTTP")
}

/// Background duties: closing revoked devices' links, forgetting old nonces.
async fn housekeeping(state: SharedState) {
    let mut revocations = tokio::time::interval(REVOCATION_POLL_INTERVAL);
    revocations.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut nonces = tokio::time::interval(NONCE_RETENTION / 2);
    loop {
        tokio::select! {
            _ = revocations.tick() => {
                let linked = state.hub.linked_devices();
                if linked.is_empty() {
                    continue;
                }
                match state.store.read(store::revoked_devices).await {
                    Ok(revoked) => {
                        for device in linked.iter().filter(|d| revoked.iter().any(|r| r == d.as_str())) {
                            let closed = state.hub.close_device(device, "this device was revoked");
                            tracing::info!(%device, closed, "device revoked; closed its links");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "checking revocations failed"),
                }
            }
            _ = nonces.tick() => {
                let before = Timestamp(now().0 - NONCE_RETENTION.as_millis() as i64);
                if let Err(e) = state.store.write(move |tx| store::prune_nonces(tx.conn(), before)).await {
                    tracing::warn!(error = %e, "pruning nonces failed");
                }
            }
        }
    }
}
