//! The relay as users run it: a `cr-server` process on a loopback port with a database in a
//! temp dir, its admin commands, and what a phone and a workstation do to join it (log in with
//! a login link; pair with a pairing code).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::http;

/// Longest the relay may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a graceful stop may take before the relay is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running relay.
pub struct Relay {
    bin: PathBuf,
    db: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Relay {
    /// Starts `cr-server serve` with a new database in `dir`; its log goes to `dir/relay.log`.
    pub fn start(bin: &Path, dir: &Path) -> Result<Self> {
        let port = free_port()?;
        let db = dir.join("relay.db");
        let log = std::fs::File::create(dir.join("relay.log"))?;
        let child = Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(&db)
            .arg("serve")
            .env("XDG_DATA_HOME", dir)
            .env("RUST_LOG", "cr_server=warn,warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let relay = Self { bin: bin.to_owned(), db, port, child };
        let until = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(r) = http::request(port, "GET", "/healthz", None, None)
                && r.status == 200
            {
                return Ok(relay);
            }
            if Instant::now() >= until {
                bail!("the relay did not answer /healthz within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The relay's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs an admin subcommand with `--json` output.
    pub fn admin(&self, args: &[&str]) -> Result<Value> {
        let out = Command::new(&self.bin)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--db"])
            .arg(&self.db)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cr-server {args:?}"))?;
        if !out.status.success() {
            bail!("cr-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).with_context(|| format!("cr-server {args:?} output"))
    }

    /// Pairs `cr` (binary `cr`) into the config file `config`, as `cr pair` does.
    pub fn pair_cr(&self, cr: &Path, config: &Path, state_dir: &Path) -> Result<()> {
        let code = self.admin(&["pair-code", "--json"])?["code"]
            .as_str()
            .context("pair-code gave no code")?
            .to_owned();
        let out = Command::new(cr)
            .args(["pair", &self.url(), &code, "--name", "bench"])
            .env("CR_CONFIG", config)
            .env("XDG_STATE_HOME", state_dir)
            .stdin(Stdio::null())
            .output()
            .context("running cr pair")?;
        if !out.status.success() {
            bail!("cr pair: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Pairs a device over the API; (device id, secret).
    pub fn pair_device(&self, name: &str) -> Result<(String, String)> {
        let code = self.admin(&["pair-code", "--json"])?["code"]
            .as_str()
            .context("pair-code gave no code")?
            .to_owned();
        let body = serde_json::json!({ "code": code, "name": name }).to_string();
        let r = http::request(self.port, "POST", "/api/pair", None, Some(&body))?;
        if r.status != 200 {
            bail!("POST /api/pair: {} {}", r.status, r.body);
        }
        let v = r.json()?;
        let field = |k: &str| v[k].as_str().map(str::to_owned).context("pair answer lacks a field");
        Ok((field("device_id")?, field("secret")?))
    }

    /// Logs a phone in with a login link, as the page does; the `Cookie:` header line.
    pub fn phone_cookie(&self) -> Result<String> {
        let token = self.admin(&["login-link", "--json"])?["token"]
            .as_str()
            .context("login-link gave no token")?
            .to_owned();
        let body = serde_json::json!({ "token": token }).to_string();
        let r = http::request(self.port, "POST", "/api/login", None, Some(&body))?;
        if r.status != 200 {
            bail!("POST /api/login: {} {}", r.status, r.body);
        }
        let set = r.header("set-cookie").context("login set no cookie")?;
        let pair = set.split(';').next().unwrap_or_default().trim();
        Ok(format!("Cookie: {pair}"))
    }

    /// An API token; the `Authorization:` header line.
    pub fn bearer(&self) -> Result<String> {
        let v = self.admin(&["token", "create", "bench", "--json"])?;
        Ok(format!("Authorization: Bearer {}", v["token"].as_str().context("no token")?))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let until = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
