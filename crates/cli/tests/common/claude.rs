//! The real Claude Code under the real `cr`: the versions `tests/claude/install.sh` installs,
//! the lab's mock Messages API (`tests/claude/mock-anthropic.mjs`) started by the test, and a
//! throw-away HOME as `tests/claude/README.md` describes.
//!
//! A missing Claude Code or node fails the test with what to run; only `CR_SKIP_CLAUDE=1`
//! (never set by CI) turns that into a skip.

#![allow(clippy::print_stderr)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{Launch, Terminal};

/// Claude Code starts slowly on a busy 2-core machine (node parses a 10 MB cli.js).
pub const CLAUDE_DEADLINE: Duration = Duration::from_secs(120);
/// Any key works; its last 20 characters are what `.claude.json` approves.
const API_KEY: &str = "sk-ant-api03-cr-tests-not-a-real-key-0123456789abcdefghij";

/// Polls `f` until it holds; panics after [`CLAUDE_DEADLINE`] with `show()` for context.
pub fn wait_long(what: &str, mut f: impl FnMut() -> bool, show: impl Fn() -> String) {
    let until = Instant::now() + CLAUDE_DEADLINE;
    while Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}\n{}", show());
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `tests/claude/install.sh` puts version `v`.
pub fn claude_bin(version: &str) -> PathBuf {
    let root = std::env::var_os("CR_CLAUDE_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/claude-remote/claude"),
        PathBuf::from,
    );
    root.join(version).join("bin/claude")
}

/// `true` when the test can run; panics with what is missing otherwise, unless the caller
/// set `CR_SKIP_CLAUDE=1`.
pub fn available(version: &str) -> bool {
    let mut missing = Vec::new();
    if !claude_bin(version).exists() {
        missing.push(format!(
            "Claude Code {version} (expected at {}; run tests/claude/install.sh)",
            claude_bin(version).display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Node 20; apt-get install nodejs)".into());
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CR_SKIP_CLAUDE").is_some_and(|v| v == "1") {
        eprintln!("CR_SKIP_CLAUDE=1: skipped, missing {}", missing.join(", "));
        return false;
    }
    panic!("missing {}; set CR_SKIP_CLAUDE=1 to skip on purpose", missing.join(" and "));
}

/// The lab's mock Messages API on a free loopback port, logging every request.
pub struct Mock {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mock {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let mut child = Command::new("node")
            .arg(repo().join("tests/claude/mock-anthropic.mjs"))
            .args(["--port", "0", "--log"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs the mock");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let port = first
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the mock said {first:?}"));
        Self { child, port, log, _dir: dir }
    }

    /// Every string in every request Claude Code sent (messages, tool results), decoded.
    pub fn texts(&self) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for line in std::fs::read_to_string(&self.log).unwrap_or_default().lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                walk(&v["body"]["messages"], &mut out);
            }
        }
        out
    }

    /// True once Claude Code sent the model something containing `needle`.
    pub fn received(&self, needle: &str) -> bool {
        self.texts().iter().any(|t| t.contains(needle))
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How Claude Code draws: 2.1.329's classic renderer or its default alternate screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    Main,
    Alternate,
}

/// What to start.
pub struct Claude<'a> {
    pub version: &'static str,
    pub renderer: Renderer,
    /// `--permission-mode`: `None` for manual (2.1.329) / default (older).
    pub mode: Option<&'static str>,
    pub hooks: bool,
    /// The folder is trusted already (else Claude Code asks first).
    pub trusted: bool,
    pub cr_config: &'a Path,
    pub mock: &'a Mock,
}

/// `cr -- claude …` in a PTY, in a fresh project with a throw-away HOME.
pub struct ClaudeRun {
    pub t: Terminal,
    /// Whether `PermissionRequest` should reach `cr` as an `http` hook (2.1.112 and later).
    pub http_hooks: bool,
    pub home: tempfile::TempDir,
    pub project: PathBuf,
    _project_dir: tempfile::TempDir,
}

impl Claude<'_> {
    pub fn start(&self, name: &str) -> ClaudeRun {
        let home = tempfile::tempdir().unwrap();
        let project_dir = tempfile::tempdir().unwrap();
        let project = project_dir.path().canonicalize().unwrap();
        let trust = if self.trusted { json!({"hasTrustDialogAccepted": true}) } else { json!({}) };
        let state = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": [&API_KEY[API_KEY.len() - 20..]], "rejected": []},
            "projects": {project.to_string_lossy(): trust},
        });
        std::fs::write(home.path().join(".claude.json"), state.to_string()).unwrap();

        let mode = self.mode.unwrap_or(if self.version.starts_with("2.1.3") {
            "manual"
        } else {
            "default"
        });
        let mut args = vec!["--name".to_owned(), name.to_owned()];
        if !self.hooks {
            args.push("--no-hooks".into());
        }
        args.push("--".into());
        args.push(claude_bin(self.version).to_string_lossy().into_owned());
        args.extend(["--permission-mode".into(), mode.into()]);
        let mut launch = Launch::new(&args)
            .env("CR_CONFIG", &self.cr_config.to_string_lossy())
            .env("HOME", &home.path().to_string_lossy())
            .env("LANG", "C.UTF-8")
            .env("ANTHROPIC_BASE_URL", &format!("http://127.0.0.1:{}", self.mock.port))
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1")
            .env("DISABLE_INSTALLATION_CHECKS", "1");
        if self.renderer == Renderer::Main {
            launch = launch.env("CLAUDE_CODE_NO_FLICKER", "0");
        }
        // Nothing of an outer Claude Code session may leak in.
        for (k, _) in std::env::vars() {
            if (k.starts_with("CLAUDE") || k.starts_with("ANTHROPIC"))
                && !launch.env.iter().any(|(set, _)| set == &k)
            {
                launch.remove_env.push(k);
            }
        }
        launch.cwd = Some(project.clone());
        launch.size = (32, 100);
        let http_hooks = self.hooks
            && cr::claude::Version::parse(self.version)
                .is_some_and(|v| v >= cr::claude::HTTP_HOOKS_SINCE);
        let t = Terminal::start(launch);
        ClaudeRun { t, http_hooks, home, project, _project_dir: project_dir }
    }
}

impl ClaudeRun {
    /// The folder's trust as Claude Code stored it.
    pub fn trusted(&self) -> bool {
        let state: Value = std::fs::read_to_string(self.home.path().join(".claude.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        state["projects"][self.project.to_string_lossy().as_ref()]["hasTrustDialogAccepted"] == true
    }

    /// Claude Code's `PermissionRequest` calls in flight: received by `cr`'s hook server and
    /// not yet answered, from `cr`'s log (whichever way they came in).
    pub fn hook_calls(&self) -> usize {
        let log = self.t.log();
        let count = |needle: &str| log.matches(needle).count();
        count(cr::hookserver::PERMISSION_WAITING) - count(cr::hookserver::PERMISSION_RETURNED)
    }

    /// `cr hook` processes running under this `cr` (command hooks in flight).
    pub fn hook_processes(&self) -> usize {
        let root = self.t.pid();
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_cr")).unwrap();
        let mut n = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
            let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_hook = argv.len() >= 2
                && argv[1] == b"hook"
                && std::fs::canonicalize(String::from_utf8_lossy(argv[0]).as_ref())
                    .is_ok_and(|p| p == exe);
            if is_hook && descends_from(pid, root) {
                n += 1;
            }
        }
        n
    }
}

fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

fn descends_from(mut pid: i32, root: i32) -> bool {
    for _ in 0..64 {
        match parent(pid) {
            Some(p) if p == root => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}
