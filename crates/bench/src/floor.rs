//! The bare chain: what carrying a line from a PTY to a phone costs on this machine when
//! nothing but the carrying is done. It has the shape claude-remote has (a program in a PTY,
//! a process that owns the PTY and mirrors it to a relay process, phones reading the relay),
//! and it does no work at all: no emulator, no framing, no MAC, no HTTP, one thread per hop
//! with blocking reads and writes. The output scenario runs it side by side with `cr`, so the
//! table can say how much of a latency is the machine's and how much is claude-remote's.
//!
//! - [`forward`] (`cr-bench child forward --hub PORT -- PROGRAM…`): runs the program in a PTY
//!   and copies each read of it to its own terminal and then to the hub, as `cr` does.
//! - [`hub`] (`cr-bench child hub`): prints `PORT n`, then copies whatever a source sends to
//!   every phone connected. A connection's first byte says what it is: `S` a source, `P` a
//!   phone, which the hub answers with `K` once it will get the next bytes.

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, bail};

use crate::fixture::Bins;
use crate::pty::{Drain, Launch, Term};

/// Longest a program under the forwarder may take to print `READY`.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// First byte of a source's connection.
pub const SOURCE: u8 = b'S';
/// First byte of a phone's connection.
pub const PHONE: u8 = b'P';
/// The hub's answer to a phone: registered.
pub const REGISTERED: u8 = b'K';

/// `hub`: listens on loopback, prints `PORT n`, and copies every source's bytes to every phone.
pub fn hub() -> Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the hub")?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "PORT {port}")?;
        out.flush()?;
    }
    let phones: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    for conn in listener.incoming() {
        let mut conn = conn.context("accepting")?;
        conn.set_nodelay(true)?;
        let mut role = [0u8; 1];
        conn.read_exact(&mut role)?;
        match role[0] {
            PHONE => {
                conn.write_all(&[REGISTERED])?;
                phones.lock().expect("phones lock").push(conn);
            }
            SOURCE => {
                let phones = phones.clone();
                std::thread::spawn(move || copy_to_phones(conn, &phones));
            }
            other => bail!("unknown role byte {other}"),
        }
    }
    Ok(())
}

/// Copies each read of `source` to every phone; a phone that fails is dropped.
fn copy_to_phones(mut source: TcpStream, phones: &Mutex<Vec<TcpStream>>) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n @ 1..) = source.read(&mut buf) {
        phones.lock().expect("phones lock").retain_mut(|p| p.write_all(&buf[..n]).is_ok());
    }
}

/// `forward`: runs `argv` in a PTY of `size`, passes its own input to it, and copies each read
/// of its output to its own terminal and then to the hub on `port`.
pub fn forward(port: u16, size: (u16, u16), argv: &[OsString]) -> Result<()> {
    crate::child::raw_mode()?;
    let mut hub =
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).context("connecting to the hub")?;
    hub.set_nodelay(true)?;
    hub.write_all(&[SOURCE])?;
    let mut term = Term::spawn(&Launch::new(argv.iter().cloned(), size))?;
    let mut reader = term.take_reader()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n @ 1..) = stdin.read(&mut buf) {
            if term.write(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 << 10];
    let mut out = std::io::stdout().lock();
    // A PTY whose program has exited reads as an error (EIO) or as the end.
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        out.write_all(&buf[..n])?;
        out.flush()?;
        hub.write_all(&buf[..n])?;
    }
    Ok(())
}

/// A running hub, killed on drop.
pub struct Hub {
    child: Child,
    /// Its loopback port.
    pub port: u16,
}

impl Hub {
    /// Starts `cr-bench child hub` and reads its port.
    pub fn start(bins: &Bins) -> Result<Self> {
        let argv = bins.child(&["hub"]);
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the hub")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("the hub's stdout")?).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the hub said {line:?}, not its port"))?;
        Ok(Self { child, port })
    }

    /// Starts `program` in a terminal of `size` under a forwarder to this hub, and waits for
    /// the program's `READY`.
    pub fn forward(
        &self,
        bins: &Bins,
        size: (u16, u16),
        program: Vec<OsString>,
    ) -> Result<(Term, Drain)> {
        let mut argv = bins.child(&[
            "forward",
            "--hub",
            &self.port.to_string(),
            "--rows",
            &size.0.to_string(),
            "--cols",
            &size.1.to_string(),
            "--",
        ]);
        argv.extend(program);
        let mut term = Term::spawn(&Launch::new(argv, size))?;
        let drain = term.drain()?;
        drain.wait_for(0, crate::child::READY, READY_TIMEOUT)?;
        Ok((term, drain))
    }
}

/// Connects a phone to the hub on `port`; resolves once the hub has registered it.
pub async fn connect_phone(port: u16) -> Result<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .context("connecting a phone to the hub")?;
    conn.set_nodelay(true)?;
    conn.write_all(&[PHONE]).await?;
    if conn.read_u8().await? != REGISTERED {
        bail!("the hub did not register a phone");
    }
    Ok(conn)
}

/// A phone's reads from the hub, until the connection ends (`Ok`) or `on_read` returns true.
/// `on_read` gets the read appended to the last `keep` bytes of the reads before it (so a
/// marker split between two reads is still whole), the read's own length, and when it came.
pub async fn read_phone(
    mut conn: tokio::net::TcpStream,
    keep: usize,
    mut on_read: impl FnMut(&[u8], usize, u64) -> bool,
) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 64 << 10];
    let mut carry = Vec::new();
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let recv_ns = crate::clock::now_ns();
        carry.extend_from_slice(&buf[..n]);
        if on_read(&carry, n, recv_ns) {
            return Ok(());
        }
        carry.drain(..carry.len().saturating_sub(keep));
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hub copies a source's bytes to every phone registered, in order, and only to those.
    #[test]
    fn hub_copies_a_source_to_every_registered_phone() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let phones: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let connect = |role: u8| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(&[role]).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            let mut r = [0u8; 1];
            s.read_exact(&mut r).unwrap();
            assert_eq!(r[0], role);
            (c, s)
        };
        let mut readers = Vec::new();
        for _ in 0..3 {
            let (c, s) = connect(PHONE);
            phones.lock().unwrap().push(s);
            readers.push(c);
        }
        let (mut source, server_side) = connect(SOURCE);
        let p = phones.clone();
        let copier = std::thread::spawn(move || copy_to_phones(server_side, &p));
        source.write_all(b"tick 000001\r\n").unwrap();
        source.write_all(b"tick 000002\r\n").unwrap();
        drop(source);
        copier.join().unwrap();
        drop(phones);
        for mut r in readers {
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"tick 000001\r\ntick 000002\r\n");
        }
    }
}
