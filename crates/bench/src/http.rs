//! Just enough HTTP/1.1 for the harness: one request per connection (`Connection: close`)
//! for setup, a kept-alive connection for phones answering prompts (as a browser keeps its
//! connection to the page's origin), with the send time stamped on the shared clock, and one
//! for the stand-in `claude`'s `http` hook, which Claude Code keeps alive between calls.
//! Responses are parsed by one pure function.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::clock::now_ns;

/// Longest a setup request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// The body, chunked encoding removed.
    pub body: String,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("HTTP {} body is not JSON: {}", self.status, self.body))
    }
}

/// The request bytes, for a connection that closes after it. `auth` is whole header lines
/// without the last CRLF (`Cookie: …`).
pub fn request_bytes(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Vec<u8> {
    request_with(port, method, path, auth, body, "close")
}

fn request_with(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
    connection: &str,
) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nConnection: {connection}\r\n"
    );
    if let Some(a) = auth {
        req.push_str(a);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    req.into_bytes()
}

/// Parses a whole response (read until the server closed).
pub fn parse_response(raw: &[u8]) -> Result<Response> {
    let head = Head::parse(raw)?.context("the response has no end of headers")?;
    let raw_body = &raw[head.body_at..];
    let body = if head.chunked() { dechunk(raw_body)? } else { raw_body.to_vec() };
    let Head { status, headers, .. } = head;
    Ok(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A response's status line and headers.
struct Head {
    status: u16,
    /// (lowercase name, value).
    headers: Vec<(String, String)>,
    /// Where the body starts.
    body_at: usize,
}

impl Head {
    /// `None` until the end of the headers has arrived.
    fn parse(raw: &[u8]) -> Result<Option<Self>> {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
        let head = std::str::from_utf8(&raw[..split]).context("response headers are not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Some(Self { status, headers, body_at: split + 4 }))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").context("truncated chunk size")?;
        let size_text = std::str::from_utf8(&raw[..eol])?.split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text.trim(), 16).context("bad chunk size")?;
        raw = &raw[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// One blocking request.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).context("connecting to the relay")?;
    s.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    s.write_all(&request_bytes(port, method, path, auth, body))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw).with_context(|| format!("{method} {path}"))
}

/// The length of the whole response at the start of `raw`, once all of it is there.
fn complete_len(raw: &[u8]) -> Result<Option<usize>> {
    let Some(head) = Head::parse(raw)? else { return Ok(None) };
    let start = head.body_at;
    if let Some(len) = head.header("content-length") {
        let end = start + len.parse::<usize>().context("bad Content-Length")?;
        return Ok((raw.len() >= end).then_some(end));
    }
    if head.chunked() {
        let body = &raw[start..];
        return Ok(body.windows(5).position(|w| w == b"0\r\n\r\n").map(|i| start + i + 5));
    }
    bail!("a kept-alive response needs a Content-Length or chunked encoding")
}

/// Takes the first response off `buf` once all of it is there.
fn take_response(buf: &mut Vec<u8>) -> Result<Option<Response>> {
    let Some(end) = complete_len(buf)? else { return Ok(None) };
    let resp = parse_response(&buf[..end]);
    buf.drain(..end);
    resp.map(Some)
}

/// A blocking connection reused while it has been idle for less than `idle`, as an HTTP
/// agent with keep-alive does, and opened anew after that.
#[derive(Debug)]
pub struct Reused {
    port: u16,
    idle: Duration,
    conn: Option<(TcpStream, Instant)>,
    buf: Vec<u8>,
}

impl Reused {
    /// No connection yet: the first request opens one.
    pub fn new(port: u16, idle: Duration) -> Self {
        Self { port, idle, conn: None, buf: Vec::new() }
    }

    /// One request, on the open connection if it was idle for less than `idle`.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> Result<Response> {
        if self.conn.as_ref().is_none_or(|(_, last)| last.elapsed() >= self.idle) {
            let s = TcpStream::connect(("127.0.0.1", self.port)).context("connecting")?;
            s.set_read_timeout(Some(REQUEST_TIMEOUT))?;
            s.set_nodelay(true)?;
            self.conn = Some((s, Instant::now()));
            self.buf.clear();
        }
        let (stream, last) = self.conn.as_mut().expect("connected above");
        stream.write_all(&request_with(self.port, method, path, auth, body, "keep-alive"))?;
        loop {
            if let Some(resp) = take_response(&mut self.buf)? {
                *last = Instant::now();
                return Ok(resp);
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                self.conn = None;
                bail!("the server closed a kept-alive connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A connection that stays open across requests, as a browser's does.
pub struct KeepAlive {
    stream: tokio::net::TcpStream,
    port: u16,
    buf: Vec<u8>,
}

impl KeepAlive {
    /// Connects to the relay.
    pub async fn connect(port: u16) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, port, buf: Vec::new() })
    }

    /// One request; returns the response and the time just before the request was written.
    pub async fn request_timed(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> Result<(Response, u64)> {
        let bytes = request_with(self.port, method, path, auth, body, "keep-alive");
        let sent = now_ns();
        self.stream.write_all(&bytes).await?;
        let read = async {
            loop {
                if let Some(resp) = take_response(&mut self.buf)? {
                    return Ok(resp);
                }
                let mut chunk = [0u8; 4096];
                let n = self.stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("the relay closed a kept-alive connection");
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, read).await??;
        Ok((resp, sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: x\r\nSet-Cookie: a=b; Path=/\r\n\r\n{\"ok\":true}",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("set-cookie"), Some("a=b; Path=/"));
        assert_eq!(r.json().unwrap()["ok"], true);
        let r = parse_response(b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_str()), (409, "abcde"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn kept_alive_responses_end_where_their_length_says() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
        assert_eq!(complete_len(plain).unwrap(), Some(plain.len() - 8));
        assert_eq!(complete_len(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok").unwrap(), None);
        assert_eq!(complete_len(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap(), None);
        let chunked = b"HTTP/1.1 409 X\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
        assert_eq!(complete_len(chunked).unwrap(), Some(chunked.len()));
        assert_eq!(complete_len(&chunked[..chunked.len() - 2]).unwrap(), None);
        assert!(complete_len(b"HTTP/1.1 200 OK\r\n\r\nbody").is_err());
    }

    #[test]
    fn reused_connections_are_opened_anew_after_the_idle_time() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        // Answers each request (all of them end in the body `{}`) with its connection's port.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let mut conn = conn.unwrap();
                std::thread::spawn(move || {
                    let peer = conn.peer_addr().unwrap().port().to_string();
                    let mut pending = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while let Ok(n @ 1..) = conn.read(&mut chunk) {
                        pending.extend_from_slice(&chunk[..n]);
                        while let Some(i) = pending.windows(6).position(|w| w == b"\r\n\r\n{}") {
                            pending.drain(..i + 6);
                            let reply = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{peer}",
                                peer.len()
                            );
                            conn.write_all(reply.as_bytes()).unwrap();
                        }
                    }
                });
            }
        });
        let ports = |idle: Duration| {
            let mut c = Reused::new(port, idle);
            let mut call = || c.request("POST", "/hook", None, Some("{}")).unwrap().body;
            (call(), call(), call())
        };
        let (a, b, c) = ports(Duration::from_secs(60));
        assert!(a == b && b == c, "one kept-alive connection: {a} {b} {c}");
        let (a, b, c) = ports(Duration::ZERO);
        assert!(a != b && b != c, "a new connection each time: {a} {b} {c}");
    }

    #[test]
    fn requests_carry_auth_origin_and_length() {
        let req =
            String::from_utf8(request_bytes(7, "POST", "/x", Some("Cookie: c=1"), Some("{}")))
                .unwrap();
        assert!(req.starts_with(
            "POST /x HTTP/1.1\r\nHost: 127.0.0.1:7\r\nOrigin: http://127.0.0.1:7\r\n"
        ));
        assert!(req.contains("Cookie: c=1\r\n") && req.ends_with("Content-Length: 2\r\n\r\n{}"));
    }
}
