//! The child in a PTY: spawn, the reader thread that mirrors output to the local terminal
//! itself, the shared writer, resize, and the exit status as an exit code.
//!
//! Hot path: the reader thread writes each chunk to the mirror (the local terminal) before
//! anything else, then hands a copy to the session without ever blocking. The hand-off is
//! bounded by bytes ([`MIRROR_BUDGET_BYTES`]): if the session's emulator falls that far behind
//! (a `cat` of a huge file), chunks are skipped for the phone's view only and the session is
//! told, so it can reset the emulator and say so in the transcript. The local terminal never
//! waits for the emulator or the network.

use std::{
    io::{Read, Write},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::{Context, Result};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use rustix::process::{Pid, Signal, WaitOptions};
use tokio::sync::{mpsc, oneshot};

/// Bytes of output the session may lag behind the terminal before chunks are skipped for it:
/// about a second of a `cat` at a terminal's pace here. The session runs at
/// [`BACKGROUND_NICE`], and while a flood keeps both cores busy (the terminal, the relay, a
/// phone) it can fall a few MiB behind before it catches up in large pieces; with 8 MiB, two
/// rounds in five of the 256 MB benchmark skipped output for the phone. Held only during a
/// flood: an idle `cr` keeps none of it.
pub const MIRROR_BUDGET_BYTES: usize = 32 << 20;
/// Size of one read from the PTY.
const READ_CHUNK_BYTES: usize = 64 << 10;
/// Most bytes of waiting chunks joined into one for the session (see [`OutputRx::recv`]).
pub const JOIN_BYTES: usize = 256 << 10;
/// The TERM given to the child when the environment has none (CI, cron, some IDEs).
pub const DEFAULT_TERM: &str = "xterm-256color";
/// Nice value of `cr`'s own work (the emulator, the link, hooks) relative to the threads that
/// move the terminal's bytes (the PTY reader and the stdin pump, which keep the default): on a
/// busy machine the local terminal gets the CPU first, and the phone's view catches up (or
/// skips, see [`MIRROR_BUDGET_BYTES`]) when the burst is over.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread to [`BACKGROUND_NICE`]. On Linux a nice value belongs to one
/// thread, so the passthrough threads started before (or by other code) keep theirs. Failing
/// to lower it changes nothing that matters, so the error is ignored.
pub fn lower_thread_priority() {
    let _ = rustix::process::setpriority_process(None, BACKGROUND_NICE);
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Working directory (the caller's, not the PTY library's default of `$HOME`).
    pub cwd: PathBuf,
    /// Variables to set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Initial size (rows, cols).
    pub size: (u16, u16),
}

/// Output as the session receives it.
#[derive(Debug)]
pub enum Output {
    /// A chunk, already shown on the local terminal.
    Data(Vec<u8>),
    /// Output was skipped here because the session lagged; the local terminal got all of it.
    Skipped,
    /// The PTY closed: no process holds it any more.
    Eof,
}

/// The receiving end of the output hand-off; receiving returns the chunk's bytes to the budget.
#[derive(Debug)]
pub struct OutputRx {
    rx: mpsc::UnboundedReceiver<Output>,
    in_flight: Arc<AtomicUsize>,
    /// An event received while joining chunks, handed out next.
    pending: Option<Output>,
}

impl OutputRx {
    /// The next output event; `None` once the reader thread is gone.
    ///
    /// Chunks already waiting are joined into one (up to [`JOIN_BYTES`]): a session that fell
    /// behind a fast stream catches up in a few large feeds, where the screen can skip the
    /// lines that would only scroll through it. A session that keeps up gets each read as it
    /// comes.
    pub async fn recv(&mut self) -> Option<Output> {
        let first = match self.pending.take() {
            Some(out) => out,
            None => self.rx.recv().await?,
        };
        let Output::Data(mut data) = first else { return Some(first) };
        while data.len() < JOIN_BYTES {
            match self.rx.try_recv() {
                Ok(Output::Data(more)) => {
                    // One allocation for the whole join (its last chunk may pass the
                    // limit by one read), not one per doubling.
                    if data.capacity() < JOIN_BYTES {
                        data.reserve_exact(JOIN_BYTES + READ_CHUNK_BYTES - data.len());
                    }
                    data.extend_from_slice(&more);
                }
                Ok(other) => {
                    self.pending = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        self.in_flight.fetch_sub(data.len(), Ordering::Relaxed);
        Some(Output::Data(data))
    }
}

/// Writes into the PTY (keystrokes from the terminal and from the phone), shared.
///
/// A `std` mutex: each write is short and never held across an `.await`.
#[derive(Clone)]
pub struct PtyInput(Arc<Mutex<Box<dyn Write + Send>>>);

impl PtyInput {
    /// Writes all of `bytes` as one write.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(bytes)?;
        w.flush()
    }
}

impl std::fmt::Debug for PtyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PtyInput")
    }
}

/// The running child and its PTY.
pub struct Pty {
    master: Box<dyn MasterPty + Send>,
    input: PtyInput,
    pid: Option<Pid>,
}

impl std::fmt::Debug for Pty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pty").field("pid", &self.pid).finish_non_exhaustive()
    }
}

/// Exit code of a wait status: the code, or 128+N for signal N (as shells report it).
pub fn exit_code(status: rustix::process::WaitStatus) -> Option<i32> {
    status.exit_status().or_else(|| status.terminating_signal().map(|s| 128 + s))
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize { rows: rows.max(1), cols: cols.max(1), pixel_width: 0, pixel_height: 0 }
}

impl Pty {
    /// Starts the child. Output goes to `mirror` first, then to the returned receiver; the
    /// exit code (128+N for a signal) arrives on the oneshot.
    pub fn spawn(
        spec: &Spawn,
        mirror: Box<dyn Write + Send>,
    ) -> Result<(Self, OutputRx, oneshot::Receiver<Option<i32>>)> {
        let program = spec.argv.first().context("no command to run")?;
        let pair = native_pty_system()
            .openpty(size(spec.size.0, spec.size.1))
            .context("cannot open a PTY")?;
        let mut cmd = CommandBuilder::new(program);
        cmd.args(&spec.argv[1..]);
        cmd.cwd(&spec.cwd);
        if std::env::var_os("TERM").is_none_or(|t| t.is_empty()) {
            cmd.env("TERM", DEFAULT_TERM);
        }
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let child =
            pair.slave.spawn_command(cmd).with_context(|| format!("cannot run {program:?}"))?;
        // The slave stays open in this process otherwise, and the reader would never see EOF.
        drop(pair.slave);
        let pid = child.process_id().and_then(|p| Pid::from_raw(p as i32));
        // The library's Child is not needed: waitpid below reaps the process and gives the
        // signal number, which its ExitStatus only has as a name.
        drop(child);
        let reader = pair.master.try_clone_reader().context("cannot read the PTY")?;
        // Dropping this writer would send EOF to the child: it lives as long as the Pty.
        let writer = pair.master.take_writer().context("cannot write the PTY")?;

        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let budget = Arc::clone(&in_flight);
        std::thread::Builder::new()
            .name("cr-pty-read".into())
            .spawn(move || read_loop(reader, mirror, tx, budget))
            .context("cannot start the PTY reader")?;

        let (exit_tx, exit_rx) = oneshot::channel();
        if let Some(pid) = pid {
            std::thread::Builder::new()
                .name("cr-wait".into())
                .spawn(move || {
                    let code = loop {
                        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
                            Ok(Some((_, status))) if !status.stopped() => break exit_code(status),
                            Ok(_) => continue,
                            Err(rustix::io::Errno::INTR) => continue,
                            Err(_) => break None,
                        }
                    };
                    let _ = exit_tx.send(code);
                })
                .context("cannot start the exit watcher")?;
        }
        let pty = Self { master: pair.master, input: PtyInput(Arc::new(Mutex::new(writer))), pid };
        Ok((pty, OutputRx { rx, in_flight, pending: None }, exit_rx))
    }

    /// A handle for writing into the PTY.
    pub fn input(&self) -> PtyInput {
        self.input.clone()
    }

    /// Tells the child its terminal has a new size (it gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.master.resize(size(rows, cols)).context("PTY resize")
    }

    /// Sends a signal to the child (SIGTERM/SIGHUP/SIGINT received by `cr`).
    pub fn signal(&self, sig: Signal) {
        if let Some(pid) = self.pid {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<i32> {
        self.pid.map(|p| p.as_raw_nonzero().get())
    }
}

fn read_loop(
    mut reader: Box<dyn Read + Send>,
    mut mirror: Box<dyn Write + Send>,
    tx: mpsc::UnboundedSender<Output>,
    in_flight: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    let mut mirror_ok = true;
    let mut skipped = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        // The local terminal first. If it goes away (closed stdout), keep draining the PTY so
        // the child never blocks on a full buffer.
        if mirror_ok && mirror.write_all(chunk).and_then(|()| mirror.flush()).is_err() {
            mirror_ok = false;
        }
        if in_flight.load(Ordering::Relaxed) + n > MIRROR_BUDGET_BYTES {
            skipped = true;
            continue;
        }
        if std::mem::take(&mut skipped) && tx.send(Output::Skipped).is_err() {
            continue;
        }
        in_flight.fetch_add(n, Ordering::Relaxed);
        if tx.send(Output::Data(chunk.to_vec())).is_err() {
            in_flight.fetch_sub(n, Ordering::Relaxed);
        }
    }
    let _ = tx.send(Output::Eof);
}
