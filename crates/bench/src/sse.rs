//! A light SSE client: raw TCP, one HTTP/1.1 `GET`, chunked transfer decoding and the event
//! stream format, with nothing else. A thousand of them must not cost the machine more than
//! the relay they measure. Each event carries the time of the read that completed it.

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::clock::now_ns;

/// Bytes read from the socket at a time.
const READ_BYTES: usize = 64 << 10;
/// The read buffer of an idle phone: ten thousand of them must stay small.
const IDLE_READ_BYTES: usize = 2 << 10;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name (`message` when absent).
    pub name: String,
    /// The `data:` lines, joined by newlines.
    pub data: Vec<u8>,
    /// The `id:`, if any.
    pub id: Option<String>,
    /// When the read that completed it returned.
    pub recv_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many bytes of chunk data left.
    Data(usize),
    /// The CRLF after a chunk's data.
    Trailer,
    /// The last chunk came.
    Done,
}

/// The decoding state of one stream, separate from the socket so it can be tested with bytes.
#[derive(Debug)]
pub struct Decoder {
    raw: Vec<u8>,
    chunk: Chunk,
    body: Vec<u8>,
    /// Where the next unparsed event starts in `body`.
    start: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self { raw: Vec::new(), chunk: Chunk::Size, body: Vec::new(), start: 0 }
    }
}

impl Decoder {
    /// Feeds body bytes as they came off the wire (still chunk-encoded).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        self.raw.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            match self.chunk {
                Chunk::Size => {
                    let Some(eol) = memchr::memmem::find(&self.raw[pos..], b"\r\n") else {
                        break;
                    };
                    let line = std::str::from_utf8(&self.raw[pos..pos + eol])?;
                    let size =
                        usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                            .with_context(|| format!("bad chunk size {line:?}"))?;
                    pos += eol + 2;
                    self.chunk = if size == 0 { Chunk::Done } else { Chunk::Data(size) };
                }
                Chunk::Data(left) => {
                    let take = left.min(self.raw.len() - pos);
                    if take == 0 {
                        break;
                    }
                    self.body.extend_from_slice(&self.raw[pos..pos + take]);
                    pos += take;
                    self.chunk =
                        if take == left { Chunk::Trailer } else { Chunk::Data(left - take) };
                }
                Chunk::Trailer => {
                    if self.raw.len() - pos < 2 {
                        break;
                    }
                    pos += 2;
                    self.chunk = Chunk::Size;
                }
                Chunk::Done => break,
            }
        }
        self.raw.drain(..pos);
        Ok(())
    }

    /// True after the terminating chunk.
    pub fn done(&self) -> bool {
        self.chunk == Chunk::Done
    }

    /// The next complete event, if one has arrived. Comment-only blocks (keep-alives) are
    /// skipped.
    pub fn next_event(&mut self, recv_ns: u64) -> Option<SseEvent> {
        loop {
            let rest = &self.body[self.start..];
            let end = memchr::memmem::find(rest, b"\n\n")?;
            let block = &rest[..end];
            let mut name = None;
            let mut data: Vec<u8> = Vec::new();
            let mut id = None;
            let mut any = false;
            for line in block.split(|&b| b == b'\n') {
                let (field, value) = match line.iter().position(|&b| b == b':') {
                    Some(0) => continue, // a comment
                    Some(i) => {
                        let v = &line[i + 1..];
                        (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                    }
                    None => (line, &b""[..]),
                };
                any = true;
                match field {
                    b"event" => name = Some(String::from_utf8_lossy(value).into_owned()),
                    b"data" => {
                        if !data.is_empty() {
                            data.push(b'\n');
                        }
                        data.extend_from_slice(value);
                    }
                    b"id" => id = Some(String::from_utf8_lossy(value).into_owned()),
                    _ => {}
                }
            }
            self.start += end + 2;
            if self.start > READ_BYTES {
                self.body.drain(..self.start);
                self.start = 0;
            }
            if any {
                let name = name.unwrap_or_else(|| "message".into());
                return Some(SseEvent { name, data, id, recv_ns });
            }
        }
    }
}

/// A connected SSE stream.
pub struct Sse {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    last_read_ns: u64,
}

impl Sse {
    /// `GET path` with `auth` (a `Cookie:` or `Authorization:` header line); fails unless the
    /// relay answers 200 with an event stream.
    pub async fn connect(port: u16, path: &str, auth: &str) -> Result<Self> {
        Self::open(port, path, auth, READ_BYTES).await
    }

    /// Like [`Sse::connect`], with a small read buffer, for phones that mostly sit idle.
    pub async fn connect_idle(port: u16, path: &str, auth: &str) -> Result<Self> {
        Self::open(port, path, auth, IDLE_READ_BYTES).await
    }

    async fn open(port: u16, path: &str, auth: &str, buf_bytes: usize) -> Result<Self> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.context("connecting")?;
        stream.set_nodelay(true)?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n{auth}\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = vec![0u8; buf_bytes];
        let end = loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                bail!("the relay closed the event stream before answering");
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
        };
        let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        if !text.starts_with("http/1.1 200") {
            bail!("GET {path}: {}", String::from_utf8_lossy(&head));
        }
        if !text.contains("transfer-encoding: chunked") {
            bail!("GET {path}: expected a chunked event stream: {text}");
        }
        let mut decoder = Decoder::default();
        decoder.feed(&head[end + 4..])?;
        Ok(Self { stream, decoder, buf, last_read_ns: now_ns() })
    }

    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if let Some(ev) = self.decoder.next_event(self.last_read_ns) {
                return Ok(Some(ev));
            }
            if self.decoder.done() {
                return Ok(None);
            }
            let n = self.stream.read(&mut self.buf).await?;
            self.last_read_ns = now_ns();
            if n == 0 {
                return Ok(None);
            }
            self.decoder.feed(&self.buf[..n])?;
        }
    }

    /// Reads and drops whatever comes, until the stream ends (an idle phone).
    pub async fn discard(mut self) -> Result<()> {
        loop {
            if self.stream.read(&mut self.buf).await? == 0 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunks_split_anywhere_into_events() {
        let body =
            b"event: screen\ndata: {\"a\":1}\n\n:keep-alive\n\nevent: lines\ndata: [1]\nid: 7\n\n";
        let mut wire = Vec::new();
        for part in body.chunks(13) {
            wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            wire.extend_from_slice(part);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let mut d = Decoder::default();
        let mut events = Vec::new();
        for piece in wire.chunks(5) {
            d.feed(piece).unwrap();
            while let Some(e) = d.next_event(1) {
                events.push(e);
            }
        }
        assert!(d.done());
        assert_eq!(events.len(), 2, "the keep-alive comment is no event");
        assert_eq!(events[0].name, "screen");
        assert_eq!(events[0].data, b"{\"a\":1}");
        assert_eq!((events[1].name.as_str(), events[1].id.as_deref()), ("lines", Some("7")));
    }
}
