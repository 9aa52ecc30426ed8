//! The programs the harness runs inside PTYs, built into `cr-bench` itself so every scenario
//! needs nothing but the three binaries. Each prints `READY`, waits for the harness's go
//! (a line, or a byte in raw mode), then does its job and stamps what it did, with the shared
//! monotonic clock, in a log file the harness reads afterwards: `KIND SEQ NS [DETAIL]` per line.
//!
//! - `echo`: raw mode, every byte read is written back (a TUI echoing keystrokes).
//! - `ticker`: prints `tick SEQ …` lines at a pace (a program printing output).
//! - `ask`: prints a `[y/N]` question, reads the answer in raw mode, repeats.
//! - `idle`: prints some lines, then waits (a session nobody types into).
//! - `claude`: a stand-in for Claude Code, chosen when the binary runs under the name `claude`:
//!   it reads the hooks `cr` passes in `--settings`, draws a permission dialog and calls the
//!   `PermissionRequest` hook with a payload, as Claude Code does: POSTed to an `http` hook,
//!   or on stdin of a `command` hook.

use std::fs::File;
use std::io::{BufRead as _, Read as _, Write};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use rand::RngExt as _;
use rustix::termios::{self, OptionalActions};

use crate::clock::now_ns;

/// The first thing every child prints, so the harness knows it is running.
pub const READY: &str = "READY";
/// Filler after a tick's number: a typical line of program output.
pub const TICK_TEXT: &str = "compiling module with 3 warnings and some numbers 12345 67890";

/// One stamped line of a child's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// What happened (`tick`, `asked`, `got`, `hook`, `returned`).
    pub kind: String,
    /// Which one.
    pub seq: u64,
    /// When, on the shared clock.
    pub ns: u64,
    /// Anything else on the line.
    pub detail: String,
}

/// Appends stamps to a log file, one unbuffered write per line.
struct Log(File);

impl Log {
    fn create(path: &Path) -> Result<Self> {
        Ok(Self(File::create(path).with_context(|| format!("creating {}", path.display()))?))
    }

    fn stamp(&mut self, kind: &str, seq: u64, ns: u64, detail: &str) -> Result<()> {
        writeln!(self.0, "{kind} {seq} {ns} {detail}").context("writing the child log")
    }
}

/// Reads a child's log; lines that do not parse (a torn last line) are skipped.
pub fn read_log(path: &Path) -> Result<Vec<Stamp>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().filter_map(parse_stamp).collect())
}

fn parse_stamp(line: &str) -> Option<Stamp> {
    let mut parts = line.splitn(4, ' ');
    let kind = parts.next()?.to_owned();
    let seq = parts.next()?.parse().ok()?;
    let ns = parts.next()?.parse().ok()?;
    let detail = parts.next().unwrap_or("").trim().to_owned();
    Some(Stamp { kind, seq, ns, detail })
}

/// The stamps of one kind, by sequence number.
pub fn stamps_of(log: &[Stamp], kind: &str) -> std::collections::BTreeMap<u64, Stamp> {
    log.iter().filter(|s| s.kind == kind).map(|s| (s.seq, s.clone())).collect()
}

fn out(bytes: &[u8]) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(bytes)?;
    o.flush()?;
    Ok(())
}

/// Puts stdin, a terminal, in raw mode.
pub(crate) fn raw_mode() -> Result<()> {
    let fd = std::io::stdin();
    let mut t = termios::tcgetattr(fd.as_fd()).context("stdin is not a terminal")?;
    t.make_raw();
    termios::tcsetattr(fd.as_fd(), OptionalActions::Now, &t)?;
    Ok(())
}

fn read_byte() -> Result<Option<u8>> {
    let mut b = [0u8; 1];
    match std::io::stdin().lock().read(&mut b)? {
        0 => Ok(None),
        _ => Ok(Some(b[0])),
    }
}

fn wait_line() -> Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}

fn random_pause(min_ms: u64, max_ms: u64) -> Duration {
    Duration::from_millis(rand::rng().random_range(min_ms..=max_ms.max(min_ms)))
}

/// `echo`: raw mode, then every byte back as it comes.
pub fn echo() -> Result<()> {
    raw_mode()?;
    out(READY.as_bytes())?;
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out(&buf[..n])?;
    }
}

/// `ticker`: after the go line, `count` lines `tick SEQ …` (forever if 0), the first one
/// `interval` after the go and then every `interval` plus up to `jitter`, on an absolute
/// schedule so a slow write never makes the pace drift.
pub fn ticker(interval: Duration, jitter: Duration, count: u64, log: &Path) -> Result<()> {
    let mut log = Log::create(log)?;
    out(format!("{READY}\n").as_bytes())?;
    wait_line()?;
    let mut next = Instant::now();
    let mut seq = 0;
    while count == 0 || seq < count {
        seq += 1;
        next += interval + random_pause(0, jitter.as_millis() as u64);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let line = format!("tick {seq:06} {TICK_TEXT}\n");
        let ns = now_ns();
        out(line.as_bytes())?;
        log.stamp("tick", seq, ns, "")?;
    }
    Ok(())
}

/// `ask`: `count` times, after a pause, a `[y/N]` question; the first byte of the answer is
/// stamped as it arrives, the rest is read up to Enter.
pub fn ask(count: u64, pause_ms: (u64, u64), log: &Path) -> Result<()> {
    let mut log = Log::create(log)?;
    raw_mode()?;
    out(format!("{READY}\r\n").as_bytes())?;
    if read_byte()?.is_none() {
        return Ok(());
    }
    for seq in 1..=count {
        std::thread::sleep(random_pause(pause_ms.0, pause_ms.1));
        let question = format!("Step {seq}: about to change the files\r\nProceed? [y/N] ");
        let ns = now_ns();
        out(question.as_bytes())?;
        log.stamp("asked", seq, ns, "")?;
        let Some(first) = read_byte()? else { return Ok(()) };
        log.stamp("got", seq, now_ns(), &(first as char).to_string())?;
        let mut answer = vec![first];
        while !matches!(answer.last(), Some(b'\r' | b'\n')) {
            match read_byte()? {
                Some(b) => answer.push(b),
                None => return Ok(()),
            }
        }
        let answer = String::from_utf8_lossy(&answer[..answer.len() - 1]).into_owned();
        out(format!("\r\nGOT {answer}\r\n").as_bytes())?;
    }
    Ok(())
}

/// `idle`: `lines` lines of output, then nothing until stdin closes.
pub fn idle(lines: u64) -> Result<()> {
    let mut text = String::new();
    for i in 1..=lines {
        text.push_str(&format!("{i:4} {TICK_TEXT}\n"));
    }
    out(text.as_bytes())?;
    let mut sink = Vec::new();
    std::io::stdin().lock().read_to_end(&mut sink)?;
    Ok(())
}

/// The stand-in's own flags, after `cr`'s `--settings`.
const FLAG_COUNT: &str = "--bench-count";
const FLAG_LOG: &str = "--bench-log";
const FLAG_PAUSE: &str = "--bench-pause-ms";
const FLAG_CONNECTION: &str = "--bench-connection";

/// How long Claude Code keeps its `http` hook's connection open between calls. Both 2.1.112
/// and 2.1.329 reused it for a call 1.7 and 4.1 s after the last one, and opened a new one
/// after 5.7 s (checked live against the claude lab's mock). 2.1.112 posts with axios through
/// Node's global agent, which keeps sockets alive and closes them after 5 s idle.
pub const HOOK_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The stand-in's connection to an `http` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// A new connection for each call: Claude Code's after 5 s without a call.
    Fresh,
    /// The last call's connection, as Claude Code reuses it within 5 s.
    Kept,
}

impl Connection {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Kept => "kept",
        }
    }
}

/// The arguments `cr -- claude …` should get for the stand-in.
pub fn claude_args(
    count: u64,
    log: &Path,
    pause_ms: (u64, u64),
    connection: Connection,
) -> Vec<String> {
    vec![
        FLAG_COUNT.into(),
        count.to_string(),
        FLAG_LOG.into(),
        log.to_string_lossy().into_owned(),
        FLAG_PAUSE.into(),
        format!("{}-{}", pause_ms.0, pause_ms.1),
        FLAG_CONNECTION.into(),
        connection.as_str().into(),
    ]
}

/// A Claude Code 2.1-style Bash permission dialog (research/claude-code.md §1.2).
fn dialog(command: &str) -> String {
    let rule = "─".repeat(100);
    format!(
        "{rule}\n Bash command\n\n   {command}\n   Benchmark step\n\n Do you want to proceed?\n \
         ❯ 1. Yes\n   2. Yes, and don’t ask again for: bench *\n   3. No\n\n \
         Esc to cancel · Tab to amend · ctrl+e to explain\n"
    )
    .replace('\n', "\r\n")
}

/// `claude` (the stand-in): reads `--settings` as `cr` passes it, then `count` times draws
/// a dialog and calls the `PermissionRequest` hook with a payload, stamping when it invoked
/// the hook and when the hook returned.
pub fn claude(args: &[String]) -> Result<()> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let settings: serde_json::Value =
        serde_json::from_str(value("--settings").context("no --settings: run me under cr")?)
            .context("--settings is not JSON")?;
    let connection = match value(FLAG_CONNECTION).map(String::as_str) {
        None | Some("fresh") => Connection::Fresh,
        Some("kept") => Connection::Kept,
        Some(other) => bail!("{FLAG_CONNECTION} is fresh or kept, not {other:?}"),
    };
    let mut hook =
        Hook::from_settings(&settings["hooks"]["PermissionRequest"][0]["hooks"][0], connection)?;
    let count: u64 = value(FLAG_COUNT).map_or(Ok(1), |c| c.parse())?;
    let log = PathBuf::from(value(FLAG_LOG).context("no --bench-log")?);
    let pause = value(FLAG_PAUSE)
        .and_then(|p| p.split_once('-'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((100, 200));
    let mut log = Log::create(&log)?;
    out(format!("{READY}\r\n").as_bytes())?;
    wait_line()?;
    for seq in 1..=count {
        std::thread::sleep(random_pause(pause.0, pause.1));
        let tool_command = format!("bench {seq}");
        out(dialog(&tool_command).as_bytes())?;
        let payload = serde_json::json!({
            "session_id": "bench-session",
            "hook_event_name": "PermissionRequest",
            "tool_name": "Bash",
            "tool_input": { "command": tool_command, "description": "Benchmark step" },
            "permission_suggestions": [],
        })
        .to_string();
        let invoked = now_ns();
        let reply = hook.call(&payload)?;
        let returned = now_ns();
        let decision: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
        let behavior = decision["hookSpecificOutput"]["decision"]["behavior"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        log.stamp("hook", seq, invoked, "")?;
        log.stamp("returned", seq, returned, &behavior)?;
        out(format!("\x1b[2J\x1b[HDECISION {seq} {behavior}\r\n").as_bytes())?;
    }
    Ok(())
}

/// A `PermissionRequest` hook as `--settings` declares it.
enum Hook {
    /// `{"type":"command"}`: run through `/bin/sh -c`, payload on stdin, reply on stdout.
    Command(String),
    /// `{"type":"http"}`: POST the payload, the reply is the body. `port` and `path` come from
    /// the URL (`http://127.0.0.1:PORT/PATH` only); header values are interpolated from the
    /// environment for the variables `allowedEnvVars` lists, as Claude Code does.
    /// `kept` holds the connection between calls when the stand-in keeps it alive.
    Http { port: u16, path: String, headers: String, kept: Option<crate::http::Reused> },
}

impl Hook {
    fn from_settings(h: &serde_json::Value, connection: Connection) -> Result<Self> {
        match h["type"].as_str() {
            Some("command") => Ok(Self::Command(
                h["command"].as_str().context("a command hook without a command")?.to_owned(),
            )),
            Some("http") => {
                let url = h["url"].as_str().context("an http hook without a url")?;
                let rest = url.strip_prefix("http://127.0.0.1:").context("not a loopback url")?;
                let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let allowed: Vec<&str> = h["allowedEnvVars"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect();
                let env = |name: &str| std::env::var(name).ok();
                let headers: Vec<String> = h["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        format!("{k}: {}", interpolate(v.as_str().unwrap_or(""), &allowed, env))
                    })
                    .collect();
                let port = port.parse().context("a bad port in the hook url")?;
                let kept = (connection == Connection::Kept)
                    .then(|| crate::http::Reused::new(port, HOOK_KEEP_ALIVE));
                Ok(Self::Http { port, path: path.to_owned(), headers: headers.join("\r\n"), kept })
            }
            other => bail!("no PermissionRequest hook this stand-in can run: {other:?}"),
        }
    }

    /// Calls the hook with `payload`; its reply (empty when it gave none).
    fn call(&mut self, payload: &str) -> Result<String> {
        match self {
            Self::Command(command) => {
                let mut hook = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("running the hook command")?;
                hook.stdin.take().expect("piped").write_all(payload.as_bytes())?;
                let mut reply = String::new();
                hook.stdout.take().expect("piped").read_to_string(&mut reply)?;
                let status = hook.wait()?;
                if !status.success() {
                    bail!("the hook command failed: {status}");
                }
                Ok(reply)
            }
            Self::Http { port, path, headers, kept } => {
                let auth = (!headers.is_empty()).then_some(headers.as_str());
                let reply = match kept {
                    Some(conn) => conn.request("POST", path, auth, Some(payload))?,
                    None => crate::http::request(*port, "POST", path, auth, Some(payload))?,
                };
                if !(200..300).contains(&reply.status) {
                    bail!("the http hook answered HTTP {}: {}", reply.status, reply.body);
                }
                Ok(reply.body)
            }
        }
    }
}

/// `$VAR` and `${VAR}` replaced by `env(VAR)` when `allowed`, else by nothing.
fn interpolate(value: &str, allowed: &[&str], env: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = match after.strip_prefix('{').and_then(|a| a.split_once('}')) {
            Some((name, tail)) => (name, tail),
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if allowed.contains(&name) {
            out.push_str(&env(name).unwrap_or_default());
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_take_only_allowed_variables() {
        let env = |name: &str| (name == "CR_HOOK_TOKEN").then(|| "t0k".to_owned());
        let allowed = ["CR_HOOK_TOKEN"];
        assert_eq!(interpolate("$CR_HOOK_TOKEN", &allowed, env), "t0k");
        assert_eq!(interpolate("Bearer ${CR_HOOK_TOKEN}!", &allowed, env), "Bearer t0k!");
        assert_eq!(interpolate("$CR_HOOK_TOKEN", &[], env), "", "not allowed: empty");
        assert_eq!(interpolate("x $HOME y", &allowed, env), "x  y");
        assert_eq!(interpolate("plain", &allowed, env), "plain");
    }

    #[test]
    fn stamps_parse_and_torn_lines_are_skipped() {
        let log: Vec<Stamp> = "tick 1 100 \ngot 2 300 y\nreturned 3 5 allow\ntorn 4"
            .lines()
            .filter_map(parse_stamp)
            .collect();
        assert_eq!(log.len(), 3);
        assert_eq!(log[1], Stamp { kind: "got".into(), seq: 2, ns: 300, detail: "y".into() });
        assert_eq!(stamps_of(&log, "returned")[&3].detail, "allow");
    }
}
