//! The link to the relay: a WebSocket with the signed handshake, MAC'd frames both ways,
//! heartbeats, and reconnects with backoff. It moves messages; the session decides.
//!
//! One task owns the connection. The session talks to it through two bounded channels: it
//! sends [`Outbound`] messages tagged with the connection epoch they were meant for (messages
//! for an older connection are dropped, since the session re-sends what matters after every
//! `welcome`), and it receives [`LinkEvent`]s. A relay that is absent, down, slow or has
//! revoked this device never affects the child: the task just keeps retrying.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::{
    sync::mpsc,
    time::{Instant, timeout},
};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue};
use tracing::{debug, info, warn};

use cr_proto::{
    Downlink, LINK_PATH, LINK_VERSION, SessionMeta, Uplink,
    sign::{self, FrameOpener, FrameSealer, LINK_CONTEXT, LinkKeys},
};

use crate::{config::Credentials, net};

/// Send a heartbeat after this much silence (docs/design.md).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Three missed heartbeats: the relay is gone.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(6);
/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Retry delay after the relay refused this device (revoked or unknown): slow, it needs a human.
pub const UNAUTHORIZED_RETRY: Duration = Duration::from_secs(60);
/// Messages from the session waiting for the socket.
pub const OUTBOX_CAP: usize = 256;
/// Link events waiting for the session.
pub const EVENTS_CAP: usize = 64;
/// How often the connection checks its timers.
const TICK: Duration = Duration::from_millis(250);

/// Reconnect delays: 0.25 s doubling to 30 s, each with up to ±25% jitter so many `cr`s do
/// not reconnect in step after a relay restart. Pure.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: BACKOFF_MIN }
    }
}

impl Backoff {
    /// The delay before the next attempt; `jitter` is uniform in `[0, 1)`.
    pub fn fail(&mut self, jitter: f64) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        base.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// A connection worked: start again from the shortest delay.
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
}

/// A message for the relay, for one connection.
#[derive(Debug)]
pub struct Outbound {
    /// The connection it was meant for (from [`LinkEvent::Up`]).
    pub epoch: u64,
    /// The [`Uplink`] message as JSON ([`Uplink::to_json`]): encoded by the session, which
    /// writes `events` straight from the lines it keeps.
    pub json: Vec<u8>,
}

/// What the link tells the session.
#[derive(Debug)]
pub enum LinkEvent {
    /// Connected and welcomed: the relay has stored events up to `acked`.
    Up {
        /// Connection number.
        epoch: u64,
        /// Highest stored event seq.
        acked: u64,
    },
    /// That connection is gone.
    Down {
        /// Connection number.
        epoch: u64,
    },
    /// A message from the relay (never `welcome` or `heartbeat`).
    Downlink(Downlink),
}

/// The session's ends of the link.
#[derive(Debug)]
pub struct LinkHandle {
    /// To the relay.
    pub tx: mpsc::Sender<Outbound>,
    /// From the link.
    pub rx: mpsc::Receiver<LinkEvent>,
}

/// Starts the link task; it runs until the session drops its handle.
pub fn spawn(creds: Credentials, meta: SessionMeta) -> LinkHandle {
    let (tx, out_rx) = mpsc::channel(OUTBOX_CAP);
    let (ev_tx, rx) = mpsc::channel(EVENTS_CAP);
    tokio::spawn(run(creds, meta, out_rx, ev_tx));
    LinkHandle { tx, rx }
}

/// The relay answered the upgrade with 401/403: the device is revoked or unknown.
#[derive(Debug, thiserror::Error)]
#[error("the relay refused this device (revoked or unknown): pair again with `cr pair URL CODE`")]
struct Unauthorized;

async fn run(
    creds: Credentials,
    meta: SessionMeta,
    mut out_rx: mpsc::Receiver<Outbound>,
    ev_tx: mpsc::Sender<LinkEvent>,
) {
    let mut backoff = Backoff::default();
    let mut epoch = 0u64;
    let mut warned_unauthorized = false;
    loop {
        epoch += 1;
        let mut welcomed = false;
        let result = connection(&creds, &meta, epoch, &mut out_rx, &ev_tx, &mut welcomed).await;
        if ev_tx.is_closed() {
            return;
        }
        if welcomed {
            let _ = ev_tx.send(LinkEvent::Down { epoch }).await;
            backoff.reset();
        }
        let delay = match &result {
            Err(e) if e.is::<Unauthorized>() => {
                if !warned_unauthorized {
                    warn!(server = %creds.server, "{Unauthorized}");
                    warned_unauthorized = true;
                }
                UNAUTHORIZED_RETRY
            }
            Err(e) => {
                debug!(server = %creds.server, "link: {e:#}");
                backoff.fail(rand::random::<f64>())
            }
            Ok(()) => backoff.fail(rand::random::<f64>()),
        };
        if welcomed {
            info!(server = %creds.server, "link down; reconnecting");
        }
        // Wait, dropping what the session sent for the dead connection meanwhile.
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(wake) => break,
                m = out_rx.recv() => if m.is_none() { return },
            }
        }
    }
}

fn now_secs() -> i64 {
    crate::now().as_secs()
}

async fn connection(
    creds: &Credentials,
    meta: &SessionMeta,
    epoch: u64,
    out_rx: &mut mpsc::Receiver<Outbound>,
    ev_tx: &mpsc::Sender<LinkEvent>,
    welcomed: &mut bool,
) -> anyhow::Result<()> {
    let device = creds.device_id.as_str();
    let ts = now_secs();
    let nonce = sign::nonce_hex(rand::random());
    let mut req = creds.server.ws(LINK_PATH).into_client_request()?;
    for (name, value) in sign::signed_headers(&creds.secret, LINK_CONTEXT, device, ts, &nonce) {
        req.headers_mut().insert(name, HeaderValue::from_str(&value)?);
    }

    let stream = net::connect(&creds.server).await?;
    let handshake = timeout(LINK_TIMEOUT, tokio_tungstenite::client_async(req, stream)).await;
    let mut ws = match handshake {
        Err(_) => return Err(anyhow::anyhow!("the relay did not upgrade the link in time")),
        Ok(Err(tungstenite::Error::Http(resp))) if resp.status() == 401 || resp.status() == 403 => {
            return Err(Unauthorized.into());
        }
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok((ws, _))) => ws,
    };
    let (mut sealer, mut opener): (FrameSealer, FrameOpener) =
        LinkKeys::derive(&creds.secret, device, ts, &nonce).client();
    let seal = |sealer: &mut FrameSealer, json: &[u8]| -> Message {
        Message::Binary(sealer.seal(json).into())
    };
    let hello = Uplink::Hello { version: LINK_VERSION, session: meta.clone() };
    ws.send(seal(&mut sealer, &hello.to_json())).await?;

    // The first message back must be `welcome`.
    let acked = loop {
        let msg = timeout(LINK_TIMEOUT, ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("no welcome from the relay"))?
            .ok_or_else(|| anyhow::anyhow!("the relay closed the link before welcome"))??;
        match open(&mut opener, msg)? {
            Some(Downlink::Welcome { acked }) => break acked,
            Some(other) => return Err(anyhow::anyhow!("expected welcome, got {other:?}")),
            None => continue,
        }
    };
    *welcomed = true;
    info!(server = %creds.server, acked, "link up");
    if ev_tx.send(LinkEvent::Up { epoch, acked }).await.is_err() {
        return Ok(());
    }

    let mut last_sent = Instant::now();
    let mut last_heard = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            // The session's messages for this connection.
            out = out_rx.recv() => {
                let Some(out) = out else { return Ok(()) };
                if out.epoch != epoch {
                    continue;
                }
                ws.send(seal(&mut sealer, &out.json)).await?;
                last_sent = Instant::now();
            }
            // The relay's frames.
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                last_heard = Instant::now();
                match open(&mut opener, msg?)? {
                    None | Some(Downlink::Heartbeat) => {}
                    Some(Downlink::Welcome { .. }) => return Err(anyhow::anyhow!("a second welcome")),
                    Some(d) => {
                        if ev_tx.send(LinkEvent::Downlink(d)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            // Heartbeats out, liveness in.
            _ = tick.tick() => {
                if last_heard.elapsed() >= LINK_TIMEOUT {
                    return Err(anyhow::anyhow!("no heartbeat from the relay for {LINK_TIMEOUT:?}"));
                }
                if last_sent.elapsed() >= HEARTBEAT_INTERVAL {
                    ws.send(seal(&mut sealer, &Uplink::Heartbeat.to_json())).await?;
                    last_sent = Instant::now();
                }
            }
        }
    }
}

/// The downlink message in a frame; `None` for frames without one (pings, pongs). A frame that
/// fails its MAC or sequence, a text frame or a close ends the connection.
fn open(opener: &mut FrameOpener, msg: Message) -> anyhow::Result<Option<Downlink>> {
    match msg {
        Message::Binary(bytes) => {
            let payload = opener.open(&bytes)?;
            match serde_json::from_slice::<Downlink>(payload) {
                Ok(d) => Ok(Some(d)),
                Err(e) => {
                    // A newer relay may speak messages this cr does not know: skip them.
                    warn!("skipping a downlink message this cr does not understand: {e}");
                    Ok(None)
                }
            }
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
        Message::Text(_) => Err(anyhow::anyhow!("the relay sent a text frame")),
        Message::Close(_) => Err(anyhow::anyhow!("the relay closed the link")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let mid: Vec<_> = (0..10).map(|_| b.fail(0.5)).collect();
        assert_eq!(mid[0], BACKOFF_MIN);
        assert_eq!(mid[1], BACKOFF_MIN * 2);
        assert_eq!(*mid.last().unwrap(), BACKOFF_MAX);
        assert!(mid.windows(2).all(|w| w[0] <= w[1]));
        let lo = Backoff::default().fail(0.0);
        let hi = Backoff::default().fail(0.999);
        assert!(lo < BACKOFF_MIN && hi > BACKOFF_MIN && hi <= BACKOFF_MIN.mul_f64(1.25));
        b.reset();
        assert_eq!(b.fail(0.5), BACKOFF_MIN);
    }
}
