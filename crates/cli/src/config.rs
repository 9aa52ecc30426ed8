//! `cr`'s configuration: the command line (clap, with `CR_*` environment fallbacks), the saved
//! pairing in `config.toml`, and where `cr` keeps its files. Read once in `main`, passed down.

use std::{
    fmt, fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

use cr_proto::DeviceId;

use crate::net::ServerUrl;

/// The command `cr` runs when none is given.
pub const DEFAULT_COMMAND: &str = "claude";

/// `cr`: run a command in a PTY, mirrored to a claude-remote relay.
#[derive(Debug, Parser)]
#[command(name = "cr", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Config file (default `$XDG_CONFIG_HOME/claude-remote/config.toml`).
    #[arg(long, env = "CR_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A subcommand; without one, `cr` runs COMMAND.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `cr [--server URL] [--name LABEL] [--no-hooks] [-- COMMAND [ARGS…]]`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Relay URL (overrides the saved one).
    #[arg(long, env = "CR_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Session label shown on the phone (default: the directory's name).
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    /// Do not add Claude Code hooks; prompts are read off the screen only.
    #[arg(long)]
    pub no_hooks: bool,
    /// How Claude Code asks `cr` for permission: `http` (2.1.112 and later post to `cr`
    /// directly), `command` (runs `cr hook`), or `auto` (by the installed version).
    #[arg(long, env = "CR_HOOK_TRANSPORT", value_enum, default_value_t, value_name = "HOW")]
    pub hook_transport: crate::claude::HookTransport,
    /// Device id (overrides the saved one; normally set by `cr pair`).
    #[arg(long, env = "CR_DEVICE_ID", hide = true)]
    pub device_id: Option<String>,
    /// Device secret (overrides the saved one); environment only in practice.
    #[arg(long, env = "CR_DEVICE_SECRET", hide = true, hide_env_values = true)]
    pub device_secret: Option<String>,
    /// The command and its arguments (default `claude`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pair this workstation with a relay, using a code from `cr-server pair-code`.
    Pair {
        /// The relay's URL, e.g. http://127.0.0.1:7700.
        server: String,
        /// The one-time pairing code.
        code: String,
        /// A name for this workstation (default: the host name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a one-time phone login link as a QR code.
    Qr,
    /// Used by Claude Code hooks that `cr` registers: forwards one hook call to `cr`.
    #[command(hide = true)]
    Hook,
}

/// The pairing saved by `cr pair`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Saved {
    /// Relay URL.
    pub server: String,
    /// This device's id.
    pub device_id: String,
    /// The device secret (HMAC key of the link).
    pub secret: String,
}

impl fmt::Debug for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saved")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What the link needs: where the relay is and who this device is.
#[derive(Clone)]
pub struct Credentials {
    /// The relay.
    pub server: ServerUrl,
    /// This device.
    pub device_id: DeviceId,
    /// The device secret.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// The config file: `--config`/`CR_CONFIG`, else `$XDG_CONFIG_HOME/claude-remote/config.toml`.
pub fn config_path(given: Option<&Path>) -> PathBuf {
    given.map_or_else(
        || xdg("XDG_CONFIG_HOME", ".config").join("claude-remote/config.toml"),
        Path::to_path_buf,
    )
}

/// The log file: `$XDG_STATE_HOME/claude-remote/cr.log`.
pub fn log_path() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state").join("claude-remote/cr.log")
}

/// Reads the saved pairing; `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<Saved>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let saved = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid cr config (fix it or pair again with `cr pair URL CODE`)",
            path.display()
        )
    })?;
    Ok(Some(saved))
}

/// Writes the pairing with mode 0600, creating the directory with mode 0700.
pub fn save(path: &Path, saved: &Saved) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = toml::to_string(saved).context("serializing the config")?;
    let tmp = path.with_extension("toml.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // An existing file keeps its mode through open(); make sure it is private.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The credentials of a run: the saved pairing with the flags and `CR_*` variables on top.
/// `Ok(None)` means not paired (the command runs without the relay).
pub fn credentials(run: &RunArgs, saved: Option<&Saved>) -> Result<Option<Credentials>> {
    let server = run.server.clone().or_else(|| saved.map(|s| s.server.clone()));
    let device = run.device_id.clone().or_else(|| saved.map(|s| s.device_id.clone()));
    let secret = run.device_secret.clone().or_else(|| saved.map(|s| s.secret.clone()));
    match (server, device, secret) {
        (Some(server), Some(device), Some(secret)) => Ok(Some(Credentials {
            server: ServerUrl::parse(&server)?,
            device_id: DeviceId::new(device)
                .context("the device id is malformed; pair again with `cr pair URL CODE`")?,
            secret,
        })),
        (None, None, None) => Ok(None),
        (s, d, k) => {
            let missing: Vec<_> =
                [("server", s.is_none()), ("device id", d.is_none()), ("secret", k.is_none())]
                    .into_iter()
                    .filter_map(|(n, m)| m.then_some(n))
                    .collect();
            if saved.is_none()
                && run.server.is_some()
                && run.device_id.is_none()
                && run.device_secret.is_none()
            {
                return Ok(None); // only --server given: still not paired
            }
            bail!("incomplete pairing (missing {}): run `cr pair URL CODE`", missing.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> Saved {
        Saved {
            server: "http://127.0.0.1:7700".into(),
            device_id: "dev1".into(),
            secret: "s3cret".into(),
        }
    }

    #[test]
    fn save_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        save(&path, &saved()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        assert_eq!(load(&path).unwrap(), Some(saved()));
        assert_eq!(load(&dir.path().join("none.toml")).unwrap(), None);
        fs::write(&path, "server = 1").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("cr pair"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        assert!(!format!("{:?}", saved()).contains("s3cret"));
        let c = credentials(&RunArgs::default(), Some(&saved())).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn flags_and_env_override_the_file() {
        let run = RunArgs { server: Some("https://relay.example".into()), ..RunArgs::default() };
        let c = credentials(&run, Some(&saved())).unwrap().unwrap();
        assert!(c.server.tls);
        assert_eq!(c.device_id.as_str(), "dev1");
        assert!(credentials(&RunArgs::default(), None).unwrap().is_none());
        assert!(credentials(&run, None).unwrap().is_none());
        let partial = RunArgs { device_id: Some("d".into()), ..RunArgs::default() };
        assert!(credentials(&partial, None).is_err());
        let env_only = RunArgs {
            server: Some("http://h:1".into()),
            device_id: Some("d".into()),
            device_secret: Some("k".into()),
            ..RunArgs::default()
        };
        assert_eq!(credentials(&env_only, None).unwrap().unwrap().secret, "k");
    }

    #[test]
    fn command_line_shapes() {
        let c = Cli::try_parse_from(["cr", "--", "claude", "--model", "x"]).unwrap();
        assert!(c.command.is_none());
        assert_eq!(c.run.command, ["claude", "--model", "x"]);
        let c = Cli::try_parse_from(["cr", "--no-hooks", "--name", "n"]).unwrap();
        assert!(c.run.no_hooks && c.run.command.is_empty());
        let c = Cli::try_parse_from(["cr", "pair", "http://h", "CODE", "--name", "box"]).unwrap();
        assert!(matches!(c.command, Some(Command::Pair { ref code, .. }) if code == "CODE"));
        let c = Cli::try_parse_from(["cr", "--", "pair"]).unwrap();
        assert_eq!(c.run.command, ["pair"], "after -- everything is the command");
    }
}
