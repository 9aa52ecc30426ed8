//! The device side of the link protocol (crates/proto docs), for feeding the relay's store
//! directly at a rate no terminal program could produce: the signed upgrade, then sealed and
//! opened frames. It is the real protocol against the real relay, minus `cr`'s screen.

use anyhow::{Context as _, Result, bail};
use cr_proto::sign::{self, FrameOpener, FrameSealer, LINK_CONTEXT, LinkKeys};
use cr_proto::{Downlink, LINK_PATH, LINK_VERSION, SessionMeta, Uplink};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The sending half of a link.
pub struct LinkTx {
    sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    sealer: FrameSealer,
}

/// The receiving half.
pub struct LinkRx {
    stream: SplitStream<WebSocketStream<TcpStream>>,
    opener: FrameOpener,
}

/// Connects as device `device` (secret `secret`), says hello for `meta`, and waits for the
/// welcome; the halves and the relay's acknowledged seq.
pub async fn connect(
    port: u16,
    device: &str,
    secret: &str,
    meta: SessionMeta,
) -> Result<(LinkTx, LinkRx, u64)> {
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let nonce = sign::nonce_hex(rand::random());
    let mut req = format!("ws://127.0.0.1:{port}{LINK_PATH}").into_client_request()?;
    for (name, value) in sign::signed_headers(secret, LINK_CONTEXT, device, ts, &nonce) {
        req.headers_mut().insert(name, HeaderValue::from_str(&value)?);
    }
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.context("link upgrade")?;
    let (sealer, opener) = LinkKeys::derive(secret, device, ts, &nonce).client();
    let (sink, stream) = ws.split();
    let (mut tx, mut rx) = (LinkTx { sink, sealer }, LinkRx { stream, opener });
    tx.send(&Uplink::Hello { version: LINK_VERSION, session: meta }).await?;
    match rx.recv().await? {
        Downlink::Welcome { acked } => Ok((tx, rx, acked)),
        other => bail!("expected welcome, got {other:?}"),
    }
}

impl LinkTx {
    /// Seals and sends one message.
    pub async fn send(&mut self, msg: &Uplink) -> Result<()> {
        let json = serde_json::to_vec(msg)?;
        self.send_json(&json).await
    }

    /// Seals and sends one message already serialized.
    pub async fn send_json(&mut self, json: &[u8]) -> Result<()> {
        let frame = self.sealer.seal(json);
        self.sink.send(Message::Binary(frame.into())).await.context("sending a frame")
    }
}

impl LinkRx {
    /// The next downlink message (pings skipped).
    pub async fn recv(&mut self) -> Result<Downlink> {
        loop {
            match self.stream.next().await.context("the relay closed the link")?? {
                Message::Binary(b) => {
                    let payload = self.opener.open(&b).context("a bad frame from the relay")?;
                    return Ok(serde_json::from_slice(payload)?);
                }
                Message::Close(c) => bail!("the relay closed the link: {c:?}"),
                _ => {}
            }
        }
    }
}
