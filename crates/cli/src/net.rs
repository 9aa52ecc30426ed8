//! Reaching the relay: its URL, a TCP or TLS stream to it, and one-shot JSON POSTs.
//!
//! TLS is rustls with the ring provider and the webpki roots (no aws-lc, no openssl). Both the
//! link (`ws://` / `wss://`) and the device requests (`cr pair`, `cr qr`) go through here.

use std::{io, pin::Pin, sync::Arc, task, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

/// Longest wait for a TCP (and TLS) connection to the relay.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the answer to a device request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read from the relay.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A relay address: `http[s]://host[:port][/prefix]` (`ws[s]://` is accepted too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// TLS on.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (default 80 / 443).
    pub port: u16,
    /// Path prefix without trailing slash (empty for the root).
    pub prefix: String,
}

impl ServerUrl {
    /// Parses a relay URL, saying what is wrong with a bad one.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| anyhow!("{s:?} is not a URL: write it like http://127.0.0.1:7700"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => bail!("unsupported scheme {other:?} in {s:?}: use http:// or https://"),
        };
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        if path.contains(['?', '#']) || authority.contains('@') {
            bail!("{s:?}: give the relay's base URL only (no user, query or fragment)");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| anyhow!("{s:?}: unclosed '['"))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            bail!("{s:?} has no host");
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| anyhow!("{s:?}: bad port {p:?}"))?,
            None if tls => 443,
            None => 80,
        };
        Ok(Self { tls, host, port, prefix: path.trim_end_matches('/').to_owned() })
    }

    /// `host:port` as it goes in a Host header.
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// The WebSocket URL of `path` on this relay.
    pub fn ws(&self, path: &str) -> String {
        format!(
            "{}://{}{}{}",
            if self.tls { "wss" } else { "ws" },
            self.authority(),
            self.prefix,
            path
        )
    }

    /// The HTTP URL of `path` on this relay.
    pub fn http(&self, path: &str) -> String {
        format!(
            "{}://{}{}{}",
            if self.tls { "https" } else { "http" },
            self.authority(),
            self.prefix,
            path
        )
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.http(""))
    }
}

/// A plain or TLS connection.
pub enum Stream {
    /// `http://`, `ws://`.
    Plain(TcpStream),
    /// `https://`, `wss://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut task::Context<'_>,
        buf: &[u8],
    ) -> task::Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut task::Context<'_>,
    ) -> task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens a connection to the relay (TLS when the URL says so), within [`CONNECT_TIMEOUT`].
pub async fn connect(url: &ServerUrl) -> Result<Stream> {
    let go = async {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        tcp.set_nodelay(true).ok();
        if !url.tls {
            return Ok(Stream::Plain(tcp));
        }
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|_| anyhow!("{:?} is not a valid TLS server name", url.host))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {url} failed"))?;
        Ok(Stream::Tls(Box::new(tls)))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, go)
        .await
        .map_err(|_| anyhow!("timed out connecting to {url}"))?
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body bytes (at most 1 MiB).
    pub body: Bytes,
}

impl Reply {
    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `POST {url}{path}` with a JSON body and extra headers, over a fresh connection, giving up
/// after `wait` ([`REQUEST_TIMEOUT`] for relay requests).
pub async fn post_json(
    url: &ServerUrl,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    wait: Duration,
) -> Result<Reply> {
    let go = async {
        let stream = connect(url).await?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(conn);
        let mut req = hyper::Request::post(format!("{}{path}", url.prefix))
            .header("host", url.authority())
            .header("content-type", "application/json")
            .header("user-agent", concat!("cr/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req.body(Full::new(Bytes::from(body))).context("building the request")?;
        let resp = send
            .send_request(req)
            .await
            .with_context(|| format!("POST {} failed", url.http(path)))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the answer of {}: {e}", url.http(path)))?
            .to_bytes();
        Ok(Reply { status, body })
    };
    tokio::time::timeout(wait, go)
        .await
        .map_err(|_| anyhow!("{} did not answer in time", url.http(path)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relay_urls() {
        let u = ServerUrl::parse("http://127.0.0.1:7700").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.prefix.as_str()),
            (false, "127.0.0.1", 7700, "")
        );
        assert_eq!(u.ws("/ws"), "ws://127.0.0.1:7700/ws");
        let u = ServerUrl::parse("https://relay.example.org/cr/").unwrap();
        assert_eq!((u.tls, u.port, u.prefix.as_str()), (true, 443, "/cr"));
        assert_eq!(u.ws("/ws"), "wss://relay.example.org/cr/ws");
        assert_eq!(u.http("/api/pair"), "https://relay.example.org/cr/api/pair");
        let u = ServerUrl::parse("ws://[::1]:9000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.authority(), "[::1]:9000");
        for bad in [
            "127.0.0.1:7700",
            "ftp://x",
            "http://",
            "http://h:port",
            "http://h/?token=x",
            "http://u@h",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
