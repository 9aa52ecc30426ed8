//! The link: `GET /ws`, the authenticated WebSocket from `cr`. This module moves frames; what
//! they mean is [`crate::ingest`]'s business.
//!
//! The handshake is verified before the upgrade (401 otherwise). Then every frame is opened
//! with the connection's keys, in order; a bad frame, a text frame, an unknown message, or a
//! first message that is not `hello` closes the link with a reason. Silence for
//! [`LINK_TIMEOUT`] closes it too, and the session turns `disconnected`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::Response;
use cr_proto::sign::{self, FrameOpener, FrameSealer, MAX_FRAME_BYTES};
use cr_proto::{Downlink, LINK_VERSION, MIN_LINK_VERSION, SessionId, Uplink};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};
use tracing::Instrument;

use crate::auth::{self, VerifiedDevice};
use crate::error::AppError;
use crate::ingest::{self, Acks, HelloError};
use crate::state::SharedState;
use crate::stopped;

/// Send a heartbeat after this much silence from the relay.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Three missed heartbeats: `cr` is gone.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(6);
/// How often the link checks its timers.
const TICK: Duration = Duration::from_millis(250);
/// Save the in-memory screen at most this often, so a restart shows a recent one without a
/// write per keystroke.
pub const SCREEN_SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// `GET /ws`: verify the handshake headers, then upgrade.
pub async fn upgrade(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let device = auth::verify_device(&state, &headers, sign::LINK_CONTEXT).await?;
    let ws = ws.map_err(|e| {
        AppError::BadRequest(format!(
            "{} is the cr link and needs a WebSocket upgrade: {e}",
            cr_proto::LINK_PATH
        ))
    })?;
    let span = tracing::info_span!("link", device = %device.id);
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(state, device, socket).instrument(span)))
}

type Tx = SplitSink<WebSocket, Message>;
type Rx = SplitStream<WebSocket>;

/// One direction's sealer plus the socket's write half.
struct Down {
    tx: Tx,
    sealer: FrameSealer,
    last_sent: Instant,
}

impl Down {
    async fn send(&mut self, msg: &Downlink) -> Result<(), String> {
        let json = serde_json::to_vec(msg).expect("downlink messages serialize");
        let frame = self.sealer.seal(&json);
        self.last_sent = Instant::now();
        match timeout(LINK_TIMEOUT, self.tx.send(Message::Binary(frame.into()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("send failed: {e}")),
            Err(_) => Err("send timed out".into()),
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        // Close reasons are limited to 123 bytes by the WebSocket protocol.
        let mut reason = reason.to_owned();
        while reason.len() > 123 {
            reason.pop();
        }
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = timeout(HEARTBEAT_INTERVAL, self.tx.send(Message::Close(Some(frame)))).await;
    }
}

/// Why a frame was refused.
enum Bad {
    Gone,
    Frame(String),
}

async fn next_uplink(rx: &mut Rx, opener: &mut FrameOpener) -> Result<Uplink, Bad> {
    loop {
        let msg = match rx.next().await {
            None | Some(Err(_)) => return Err(Bad::Gone),
            Some(Ok(m)) => m,
        };
        let bytes = match msg {
            Message::Binary(b) => b,
            Message::Text(_) => {
                return Err(Bad::Frame("text frames are not part of the link".into()));
            }
            // Pings carry nothing authenticated; liveness comes from heartbeats.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err(Bad::Gone),
        };
        let payload = opener.open(&bytes).map_err(|e| Bad::Frame(format!("bad frame: {e}")))?;
        return serde_json::from_slice(payload)
            .map_err(|e| Bad::Frame(format!("bad message: {e}")));
    }
}

async fn run(state: SharedState, device: VerifiedDevice, socket: WebSocket) {
    let (sealer, mut opener) = device.keys.server();
    let (tx, mut rx) = socket.split();
    let mut down = Down { tx, sealer, last_sent: Instant::now() };

    let meta = match timeout(LINK_TIMEOUT, next_uplink(&mut rx, &mut opener)).await {
        Ok(Ok(Uplink::Hello { version, session }))
            if (MIN_LINK_VERSION..=LINK_VERSION).contains(&version) =>
        {
            session
        }
        Ok(Ok(Uplink::Hello { version, .. })) => {
            let why = format!(
                "link version {version} is not one of {MIN_LINK_VERSION}..={LINK_VERSION}; \
                 update cr and cr-server together"
            );
            tracing::warn!("{why}");
            return down.close(close_code::PROTOCOL, &why).await;
        }
        Ok(Ok(_)) => {
            tracing::warn!("first message was not hello");
            return down.close(close_code::PROTOCOL, "the first message must be hello").await;
        }
        Ok(Err(Bad::Frame(why))) => {
            tracing::warn!("{why}");
            return down.close(close_code::POLICY, &why).await;
        }
        Ok(Err(Bad::Gone)) => return,
        Err(_) => return down.close(close_code::POLICY, "no hello within the link timeout").await,
    };
    let session = meta.id.clone();
    let (handle, acked) = match ingest::hello(&state, &device.id, meta).await {
        Ok(ok) => ok,
        Err(HelloError::Foreign) => {
            tracing::warn!(%session, "hello for another device's session refused");
            return down.close(close_code::POLICY, &HelloError::Foreign.to_string()).await;
        }
        Err(HelloError::Store(e)) => {
            tracing::error!(error = %e, "could not open the session");
            return down.close(close_code::ERROR, "the relay could not open the session").await;
        }
    };
    tracing::info!(%session, acked, "link up");
    let link_id = handle.id;
    let reason = serve_link(&state, &session, handle, acked, &mut down, &mut rx, &mut opener).await;
    match &reason {
        End::Gone => tracing::info!(%session, "link closed by cr"),
        End::Close(code, why) => {
            tracing::info!(%session, reason = %why, "closing link");
            down.close(*code, why).await;
        }
    }
    ingest::link_lost(&state, &session, link_id).await;
}

enum End {
    Gone,
    Close(u16, String),
}

async fn serve_link(
    state: &SharedState,
    session: &SessionId,
    mut handle: crate::hub::LinkHandle,
    acked: u64,
    down: &mut Down,
    rx: &mut Rx,
    opener: &mut FrameOpener,
) -> End {
    if let Err(e) = down.send(&Downlink::Welcome { acked }).await {
        return End::Close(close_code::ERROR, e);
    }
    let acks = Arc::new(watch::Sender::new(Acks { seq: acked, failed: false }));
    let mut acks_rx = acks.subscribe();
    let mut sent_ack = acked;
    let mut shutdown = state.shutdown.clone();
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut saved_version = 0;
    let mut last_save = Instant::now();

    loop {
        tokio::select! {
            // cr → relay
            up = next_uplink(rx, opener) => {
                let up = match up {
                    Ok(up) => up,
                    Err(Bad::Gone) => return End::Gone,
                    Err(Bad::Frame(why)) => return End::Close(close_code::POLICY, why),
                };
                last_heard = Instant::now();
                match up {
                    Uplink::Hello { .. } => {
                        return End::Close(close_code::PROTOCOL, "hello may only come first".into());
                    }
                    Uplink::Events { events } => {
                        if let Err(e) = ingest::events(state, session, events, acks.clone()).await {
                            return End::Close(close_code::ERROR, format!("the relay could not store events: {e}"));
                        }
                    }
                    Uplink::Screen { screen } => {
                        if let Err(e) = ingest::screen(state, session, screen) {
                            return End::Close(close_code::POLICY, format!("bad screen: {e}"));
                        }
                    }
                    Uplink::Output { output } => {
                        if let Err(e) = ingest::output(state, session, &output) {
                            return End::Close(close_code::POLICY, format!("bad output: {e}"));
                        }
                    }
                    Uplink::Heartbeat => {}
                }
            }
            // Acknowledge what the store committed.
            Ok(()) = acks_rx.changed() => {
                let a = *acks_rx.borrow_and_update();
                if a.failed {
                    return End::Close(close_code::ERROR, "the relay could not store events".into());
                }
                if a.seq > sent_ack {
                    sent_ack = a.seq;
                    if let Err(e) = down.send(&Downlink::Ack { seq: a.seq }).await {
                        return End::Close(close_code::ERROR, e);
                    }
                }
            }
            // relay → cr: answers and input from the API.
            Some(msg) = handle.downlink.recv() => {
                if let Err(e) = down.send(&msg).await {
                    return End::Close(close_code::ERROR, e);
                }
            }
            // Replaced by a newer link, or the device was revoked.
            _ = handle.close.changed() => {
                let why = handle.close.borrow().clone().unwrap_or_else(|| "link closed by the relay".into());
                return End::Close(close_code::POLICY, why);
            }
            () = stopped(&mut shutdown) => {
                return End::Close(close_code::AWAY, "the relay is shutting down".into());
            }
            _ = tick.tick() => {
                if last_heard.elapsed() > LINK_TIMEOUT {
                    return End::Close(close_code::POLICY, format!("nothing heard from cr for {} s", LINK_TIMEOUT.as_secs()));
                }
                if down.last_sent.elapsed() >= HEARTBEAT_INTERVAL
                    && let Err(e) = down.send(&Downlink::Heartbeat).await
                {
                    return End::Close(close_code::ERROR, e);
                }
                if last_save.elapsed() >= SCREEN_SAVE_INTERVAL
                    && let Some(screen) = state.hub.screen(session)
                    && screen.version != saved_version
                {
                    saved_version = screen.version;
                    last_save = Instant::now();
                    ingest::save_screen(state, session, screen).await;
                }
            }
        }
    }
}
