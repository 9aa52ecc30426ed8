//! What most scenarios start from: the binaries, a relay with a temp database, a `cr` paired
//! to it, a logged-in phone and an API token; plus starting `cr` in a terminal and finding the
//! session it opened.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::http;
use crate::pty::Launch;
use crate::relay::Relay;

/// Longest a new `cr` may take to show up on the relay.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// The programs under test, and the harness itself (its child programs).
#[derive(Debug, Clone)]
pub struct Bins {
    /// `cr`.
    pub cr: PathBuf,
    /// `cr-server`.
    pub relay: PathBuf,
    /// `cr-bench`.
    pub bench: PathBuf,
}

impl Bins {
    /// `cr` and `cr-server` from `dir` (default: next to this executable).
    pub fn find(dir: Option<&Path>) -> Result<Self> {
        let bench = std::env::current_exe().context("finding cr-bench")?;
        let dir = dir.map_or_else(|| bench.parent().map(Path::to_owned), |d| Some(d.to_owned()));
        let dir = dir.context("no directory for the binaries")?;
        let bins = Self { cr: dir.join("cr"), relay: dir.join("cr-server"), bench };
        for b in [&bins.cr, &bins.relay] {
            if !b.exists() {
                bail!(
                    "{} not found: build it first (cargo build --release -p cr -p cr-server)",
                    b.display()
                );
            }
        }
        Ok(bins)
    }

    /// `cr-bench child …` as a command line.
    pub fn child(&self, args: &[&str]) -> Vec<OsString> {
        let mut argv = vec![self.bench.clone().into_os_string(), "child".into()];
        argv.extend(args.iter().map(OsString::from));
        argv
    }
}

/// A relay, a paired `cr` configuration and a logged-in phone.
pub struct Fixture {
    /// Scratch space, removed on drop.
    pub dir: tempfile::TempDir,
    /// The binaries.
    pub bins: Bins,
    /// The relay.
    pub relay: Relay,
    /// `CR_CONFIG` of a paired `cr`.
    pub config: PathBuf,
    /// The phone's `Cookie:` header line.
    pub cookie: String,
    /// A script's `Authorization:` header line.
    pub bearer: String,
}

impl Fixture {
    /// Starts a relay and pairs everything to it.
    pub fn new(bins: &Bins) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("cr-bench-").tempdir()?;
        let relay = Relay::start(&bins.relay, dir.path())?;
        let config = dir.path().join("cr/config.toml");
        relay.pair_cr(&bins.cr, &config, dir.path())?;
        let cookie = relay.phone_cookie()?;
        let bearer = relay.bearer()?;
        Ok(Self { dir, bins: bins.clone(), relay, config, cookie, bearer })
    }

    /// `cr ARGS` in a terminal of `size`, paired to the relay, logging into the temp dir.
    pub fn cr(&self, args: Vec<OsString>, size: (u16, u16)) -> Launch {
        let mut argv = vec![self.bins.cr.clone().into_os_string()];
        argv.extend(args);
        let mut l = Launch::new(argv, size)
            .env("CR_CONFIG", &self.config)
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("HOME", self.dir.path());
        l.remove_env = ["CR_SERVER", "CR_DEVICE_ID", "CR_DEVICE_SECRET"].map(String::from).to_vec();
        l
    }

    /// `cr --no-hooks -- CHILD…`.
    pub fn cr_running(&self, child: Vec<OsString>, size: (u16, u16)) -> Launch {
        let mut args: Vec<OsString> = vec!["--no-hooks".into(), "--".into()];
        args.extend(child);
        self.cr(args, size)
    }

    /// Ids of the sessions the relay knows.
    pub fn session_ids(&self) -> Result<HashSet<String>> {
        let r = http::request(self.relay.port, "GET", "/api/sessions", Some(&self.bearer), None)?;
        if r.status != 200 {
            bail!("GET /api/sessions: {} {}", r.status, r.body);
        }
        Ok(r.json()?
            .as_array()
            .context("sessions is not a list")?
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// Waits for a session that is not in `known` to appear; its id.
    pub fn new_session(&self, known: &HashSet<String>) -> Result<String> {
        let until = Instant::now() + SESSION_TIMEOUT;
        loop {
            if let Some(id) = self.session_ids()?.into_iter().find(|id| !known.contains(id)) {
                return Ok(id);
            }
            if Instant::now() >= until {
                bail!("no new session on the relay within {SESSION_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
