//! Test harness: runs the real `cr` binary in a PTY that the test drives like a terminal.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub mod claude;
pub mod relay;

/// Generous: the machines are shared and slow.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `f` until it holds; panics after [`DEADLINE`].
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// A fake program under `tests/fake/`.
pub fn fake(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fake")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `cr` running in a PTY, as a user's terminal would run it.
pub struct Terminal {
    pub master: Box<dyn MasterPty + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
    /// The thread copying the terminal's output into `output`; it ends once nothing holds the
    /// terminal open any more.
    drain: std::thread::JoinHandle<()>,
    pub home: tempfile::TempDir,
}

/// How to start `cr`.
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub remove_env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub size: (u16, u16),
}

impl Launch {
    pub fn new<S: AsRef<str>>(args: &[S]) -> Self {
        Self {
            args: args.iter().map(|s| s.as_ref().to_owned()).collect(),
            env: vec![],
            remove_env: vec![],
            cwd: None,
            size: (24, 80),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
}

impl Terminal {
    pub fn start(launch: Launch) -> Self {
        let home = tempfile::tempdir().unwrap();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: launch.size.0,
                cols: launch.size.1,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_cr"));
        cmd.args(&launch.args);
        cmd.cwd(launch.cwd.clone().unwrap_or_else(|| std::env::current_dir().unwrap()));
        // A private home: no real config, logs in the temp dir.
        cmd.env("HOME", home.path());
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env("XDG_STATE_HOME", home.path().join("state"));
        for k in ["CR_SERVER", "CR_DEVICE_ID", "CR_DEVICE_SECRET", "CR_CONFIG"] {
            cmd.env_remove(k);
        }
        cmd.env("TERM", "xterm-256color");
        for k in &launch.remove_env {
            cmd.env_remove(k);
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        let drain = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self { master: pair.master, child, writer, output, drain, home }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn output(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// Waits until the output satisfies `f`; panics with the output after [`DEADLINE`].
    pub fn wait_for(&self, what: &str, f: impl Fn(&[u8]) -> bool) {
        let until = Instant::now() + DEADLINE;
        while Instant::now() < until {
            if f(&self.output()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}; output so far: {:?}", self.text());
    }

    pub fn wait_text(&self, needle: &str) {
        self.wait_for(needle, |o| String::from_utf8_lossy(o).contains(needle));
    }

    /// Waits for `cr` to exit; returns its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let until = Instant::now() + DEADLINE;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its last output may still be on its way into `output`: wait for the drain to
                // read to the end (bounded, since a leftover grandchild could hold the terminal).
                let drained = Instant::now() + Duration::from_secs(5);
                while !self.drain.is_finished() && Instant::now() < drained {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return status.exit_code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!("cr did not exit; output: {:?}", self.text());
    }

    /// The terminal's settings as `cr` left them, for comparing before and after.
    pub fn termios(&self) -> String {
        termios_text(self.master.as_ref())
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        self.master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
    }

    /// `cr`'s log file (it logs there, never to the terminal).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("state/claude-remote/cr.log"))
            .unwrap_or_default()
    }

    /// Waits until `cr`'s log has a line containing `needle`.
    pub fn wait_log(&self, needle: &str) {
        wait_until(&format!("{needle:?} in cr's log"), || self.log().contains(needle));
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }
}

fn termios_text(master: &dyn MasterPty) -> String {
    let t = master.get_termios().expect("termios");
    format!("{:?} {:?} {:?}", t.input_flags, t.output_flags, t.local_flags)
}

/// The settings of a terminal nobody has touched: what `cr` must leave behind.
pub fn fresh_termios() -> String {
    let pair = native_pty_system()
        .openpty(PtySize { rows: 24, cols: 80, pixel_width: 0, pixel_height: 0 })
        .unwrap();
    termios_text(pair.master.as_ref())
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
