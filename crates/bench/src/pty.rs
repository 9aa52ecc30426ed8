//! A PTY the harness owns: it is the user's terminal for `cr`, `script` or a bare program.
//! Output is drained on a thread of its own (a terminal that stops reading would slow the
//! program down and spoil the measurement); the drain keeps a byte count, the time of the last
//! read and a bounded tail to search for text.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

use crate::clock::now_ns;

/// Bytes of recent output kept for searching; older output only counts.
const TAIL_BYTES: usize = 256 << 10;
/// Size of one read from the master.
const READ_BYTES: usize = 64 << 10;
/// Stack of a drain thread: it holds one read buffer on the heap and little else, and the
/// scale scenario runs hundreds of them.
const DRAIN_STACK_BYTES: usize = 128 << 10;

/// What to run in a new terminal.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Program and arguments.
    pub argv: Vec<OsString>,
    /// Variables set on top of the harness's environment.
    pub env: Vec<(String, OsString)>,
    /// Variables removed from it.
    pub remove_env: Vec<String>,
    /// Terminal size (rows, cols).
    pub size: (u16, u16),
}

impl Launch {
    /// `argv` in a terminal of `size`.
    pub fn new<S: Into<OsString>>(argv: impl IntoIterator<Item = S>, size: (u16, u16)) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            remove_env: Vec::new(),
            size,
        }
    }

    /// Sets a variable.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }
}

#[derive(Default)]
struct DrainState {
    total: u64,
    /// Offset of `tail[0]` in the whole output.
    tail_start: u64,
    tail: Vec<u8>,
    last_read_ns: u64,
    eof_ns: Option<u64>,
}

/// The output side of a terminal, filled by its drain thread.
#[derive(Clone)]
pub struct Drain(Arc<(Mutex<DrainState>, Condvar)>);

impl Drain {
    fn spawn(mut reader: Box<dyn Read + Send>) -> Result<Self> {
        let drain = Self(Arc::default());
        let shared = drain.0.clone();
        std::thread::Builder::new()
            .name("bench-drain".into())
            .stack_size(DRAIN_STACK_BYTES)
            .spawn(move || {
                let mut buf = vec![0u8; READ_BYTES];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) | Err(_) => 0,
                        Ok(n) => n,
                    };
                    let now = now_ns();
                    let (lock, cv) = &*shared;
                    let mut s = lock.lock().expect("drain lock");
                    if n == 0 {
                        s.eof_ns = Some(now);
                        cv.notify_all();
                        return;
                    }
                    s.total += n as u64;
                    s.last_read_ns = now;
                    s.tail.extend_from_slice(&buf[..n]);
                    if s.tail.len() > 2 * TAIL_BYTES {
                        let cut = s.tail.len() - TAIL_BYTES;
                        s.tail.drain(..cut);
                        s.tail_start += cut as u64;
                    }
                    cv.notify_all();
                }
            })
            .context("starting a drain thread")?;
        Ok(drain)
    }

    /// Bytes read so far: a mark to search after.
    pub fn mark(&self) -> u64 {
        self.0.0.lock().expect("drain lock").total
    }

    /// (bytes read, time of the last read, time of EOF).
    pub fn progress(&self) -> (u64, u64, Option<u64>) {
        let s = self.0.0.lock().expect("drain lock");
        (s.total, s.last_read_ns, s.eof_ns)
    }

    /// Waits until `needle` appears in output after byte `mark`; returns the offset just past
    /// it. Fails after `timeout`, or at EOF, with the tail of the output.
    pub fn wait_for(&self, mark: u64, needle: &str, timeout: Duration) -> Result<u64> {
        let until = Instant::now() + timeout;
        let (lock, cv) = &*self.0;
        let mut s = lock.lock().expect("drain lock");
        loop {
            let from = mark.saturating_sub(s.tail_start) as usize;
            if let Some(at) = find(&s.tail[from.min(s.tail.len())..], needle.as_bytes()) {
                return Ok(s.tail_start + (from + at + needle.len()) as u64);
            }
            let now = Instant::now();
            if s.eof_ns.is_some() || now >= until {
                let text = String::from_utf8_lossy(&s.tail);
                let tail: String =
                    text.chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
                bail!(
                    "no {needle:?} in the terminal (eof: {}); its last output: {tail:?}",
                    s.eof_ns.is_some()
                );
            }
            s = cv.wait_timeout(s, until - now).expect("drain lock").0;
        }
    }

    /// Waits for EOF (every process holding the terminal is gone); its time.
    pub fn wait_eof(&self, timeout: Duration) -> Result<u64> {
        let until = Instant::now() + timeout;
        let (lock, cv) = &*self.0;
        let mut s = lock.lock().expect("drain lock");
        loop {
            if let Some(t) = s.eof_ns {
                return Ok(t);
            }
            let now = Instant::now();
            if now >= until {
                bail!("the terminal's programs did not exit within {timeout:?}");
            }
            s = cv.wait_timeout(s, until - now).expect("drain lock").0;
        }
    }

    /// The last `n` bytes of output, as text.
    pub fn tail(&self, n: usize) -> String {
        let s = self.0.0.lock().expect("drain lock");
        String::from_utf8_lossy(&s.tail[s.tail.len().saturating_sub(n)..]).into_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A program in a terminal the harness owns.
pub struct Term {
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    reader: Option<Box<dyn Read + Send>>,
    drain: Option<Drain>,
}

impl Term {
    /// Starts `launch` in a new terminal. Output is not read until [`Term::drain`] or
    /// [`Term::take_reader`].
    pub fn spawn(launch: &Launch) -> Result<Self> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: launch.size.0,
                cols: launch.size.1,
                pixel_width: 0,
                pixel_height: 0,
            })
            .context("opening a PTY")?;
        let program = launch.argv.first().context("nothing to run")?;
        let mut cmd = CommandBuilder::new(program);
        cmd.args(&launch.argv[1..]);
        cmd.cwd(std::env::current_dir()?);
        cmd.env("TERM", "xterm-256color");
        for k in &launch.remove_env {
            cmd.env_remove(k);
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .with_context(|| format!("starting {}", Path::new(program).display()))?;
        drop(pair.slave);
        let reader = pair.master.try_clone_reader()?;
        let writer = pair.master.take_writer()?;
        Ok(Self { master: pair.master, child, writer, reader: Some(reader), drain: None })
    }

    /// Starts draining output on a thread; the drain is how the harness reads it from then on.
    pub fn drain(&mut self) -> Result<Drain> {
        if let Some(d) = &self.drain {
            return Ok(d.clone());
        }
        let reader = self.reader.take().context("the reader was taken")?;
        let drain = Drain::spawn(reader)?;
        self.drain = Some(drain.clone());
        Ok(drain)
    }

    /// The raw reader, for a caller that reads on its own thread (keystroke timing).
    pub fn take_reader(&mut self) -> Result<Box<dyn Read + Send>> {
        self.reader.take().context("the reader was taken")
    }

    /// Types bytes into the terminal.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()?;
        Ok(())
    }

    /// The process id of the program started in the terminal.
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Waits for the program to exit; its exit code.
    pub fn wait(&mut self, timeout: Duration) -> Result<u32> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.exit_code());
            }
            if Instant::now() >= until {
                bail!("the program did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Resizes the terminal.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 })
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
