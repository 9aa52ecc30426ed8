//! The local terminal: raw mode restored on every exit path, keystrokes pumped into the PTY,
//! the window size, and the raw stdout the PTY reader mirrors to.

use std::{
    io::{self, Read, Write},
    os::fd::AsFd,
    sync::Mutex,
    time::Duration,
};

use rustix::termios::{self, OptionalActions, Termios};

use crate::pty::PtyInput;

/// The terminal settings before raw mode, for the panic hook and signal paths.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);
/// Size of one read from stdin; keystrokes are small, pastes come in pieces.
const STDIN_CHUNK_BYTES: usize = 16 << 10;
/// Wait before retrying a write to a non-blocking stdout that is full.
const NONBLOCK_RETRY: Duration = Duration::from_millis(1);

/// Puts the terminal back as it was. Safe to call any number of times, from anywhere.
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(t) = saved {
        let _ = termios::tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &t);
    }
}

/// Raw mode on stdin for as long as it lives; the terminal is restored on drop.
#[derive(Debug)]
pub struct RawModeGuard(());

impl RawModeGuard {
    /// Enters raw mode if stdin is a terminal (`None` otherwise: nothing to restore).
    pub fn enable() -> io::Result<Option<Self>> {
        let fd = io::stdin();
        if !termios::isatty(fd.as_fd()) {
            return Ok(None);
        }
        let original = termios::tcgetattr(fd.as_fd())?;
        let mut raw = original.clone();
        raw.make_raw();
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(original);
        termios::tcsetattr(fd.as_fd(), OptionalActions::Now, &raw)?;
        Ok(Some(Self(())))
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Exit code after a panic (as Rust's own for a panicking main thread).
pub const PANIC_EXIT_CODE: i32 = 101;

/// On a panic in any thread: restore the terminal, print the message (readable now), and end
/// `cr`. A panic on another thread (the PTY reader, the stdin pump) would otherwise leave `cr`
/// running with a cooked terminal and half its machinery gone, which is worse than stopping.
/// The child loses its terminal with `cr` and gets SIGHUP, as when a terminal window closes.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
        std::process::exit(PANIC_EXIT_CODE);
    }));
}

/// The terminal's size (rows, cols), from stdout, stdin or stderr, whichever is a terminal.
pub fn window_size() -> Option<(u16, u16)> {
    let (out, inp, err) = (io::stdout(), io::stdin(), io::stderr());
    [out.as_fd(), inp.as_fd(), err.as_fd()].into_iter().find_map(|fd| {
        let ws = termios::tcgetwinsize(fd).ok()?;
        (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}

/// Copies keystrokes (and the terminal's replies to the program's queries) from stdin into
/// the PTY on a thread of its own, one write per read, with no hop through the session.
pub fn pump_stdin(input: PtyInput) -> io::Result<()> {
    std::thread::Builder::new().name("cr-stdin".into()).spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; STDIN_CHUNK_BYTES];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if input.write(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })?;
    Ok(())
}

/// Unbuffered stdout: each PTY chunk becomes one `write` to the terminal, no line buffering.
#[derive(Debug, Default)]
pub struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match rustix::io::write(io::stdout().as_fd(), buf) {
                Err(rustix::io::Errno::INTR) => continue,
                // A terminal shared with a program that set O_NONBLOCK: wait, never drop.
                Err(rustix::io::Errno::AGAIN) => std::thread::sleep(NONBLOCK_RETRY),
                r => return r.map_err(io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
