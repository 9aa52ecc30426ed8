//! The `cr-server` command line: `serve` and the admin subcommands. Admin commands open the
//! database directly, so they work whether or not the relay is running.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use crate::config::{Config, PublicUrl};
use crate::store::{self, Admin};
use crate::{mint, now};

/// Longest `healthcheck` waits for the relay.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// claude-remote relay: answer Claude Code's questions from your phone.
#[derive(Debug, clap::Parser)]
#[command(name = "cr-server", version)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub config: Config,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the relay.
    Serve,
    /// Mint a one-time device pairing code (valid 10 minutes).
    PairCode {
        /// Name of the device it pairs (the workstation may choose its own instead).
        #[arg(long)]
        name: Option<String>,
        /// Print `{"code","command","expires_at"}`.
        #[arg(long)]
        json: bool,
    },
    /// Mint a one-time phone login link (valid 10 minutes), with a QR code.
    LoginLink {
        /// Print `{"url","token","expires_at"}`.
        #[arg(long)]
        json: bool,
    },
    /// Manage API tokens for scripts.
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// List paired devices.
    Devices {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: its links close at once and it can no longer connect.
    Revoke {
        /// The device id (see `cr-server devices`).
        id: String,
    },
    /// Exit 0 if the relay at --listen answers /healthz, else 1 (for container health checks).
    Healthcheck,
}

/// `cr-server token …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Mint a long-lived API token (`Authorization: Bearer …`).
    Create {
        /// What the token is for.
        name: String,
        /// Print `{"token","id"}`.
        #[arg(long)]
        json: bool,
    },
}

/// The public URL admin commands print: `--public-url`, else `http://<listen>`.
fn admin_public_url(config: &Config) -> PublicUrl {
    config.public_url_for(config.listen)
}

fn open(config: &Config) -> anyhow::Result<Admin> {
    let path = config.db_path()?;
    Admin::open(&path).with_context(|| format!("opening the database {}", path.display()))
}

/// A QR code of `text` for a terminal: two rows per character, light on dark.
pub fn qr(text: &str) -> anyhow::Result<String> {
    let code = QrCode::new(text.as_bytes()).context("making the QR code")?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Runs an admin subcommand, writing its answer to `out`. `Serve` and `Healthcheck` are not
/// admin commands; see `main`.
pub fn admin(command: &Command, config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let public = admin_public_url(config);
    match command {
        Command::PairCode { name, json } => {
            let db = open(config)?;
            let code = mint::pairing_code(&db.conn, &public, name.as_deref().unwrap_or(""), now())?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&code)?)?;
            } else {
                writeln!(out, "Pairing code {} (valid 10 minutes, works once).", code.code)?;
                writeln!(out, "On the workstation, run:\n\n  {}\n", code.command)?;
            }
        }
        Command::LoginLink { json } => {
            let db = open(config)?;
            let link = mint::login_link(&db.conn, &public, "admin", now())?;
            if *json {
                let v = serde_json::json!({"url": link.url, "token": link.token, "expires_at": link.expires_at});
                writeln!(out, "{v}")?;
            } else {
                writeln!(out, "{}", qr(&link.url)?)?;
                writeln!(
                    out,
                    "Open on your phone (valid 10 minutes, works once):\n\n  {}\n",
                    link.url
                )?;
            }
        }
        Command::Token { command: TokenCommand::Create { name, json } } => {
            let db = open(config)?;
            let token = mint::api_token(&db.conn, name, now())?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&token)?)?;
            } else {
                writeln!(
                    out,
                    "API token {} ({name}); shown once, keep it secret:\n\n  {}\n",
                    token.id, token.token
                )?;
                writeln!(out, "Use it as `Authorization: Bearer <token>`.")?;
            }
        }
        Command::Devices { json } => {
            let db = open(config)?;
            let devices = store::devices(&db.conn)?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&devices)?)?;
            } else if devices.is_empty() {
                writeln!(out, "No devices paired yet; make a code with `cr-server pair-code`.")?;
            } else {
                for d in devices {
                    let state = match d.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => d
                            .last_seen_at
                            .map_or("never connected".into(), |t| format!("last seen {t}")),
                    };
                    writeln!(out, "{}  {}  paired {}  {state}", d.id, d.name, d.created_at)?;
                }
            }
        }
        Command::Revoke { id } => {
            let db = open(config)?;
            if !store::revoke_device(&db.conn, id, now())? {
                bail!("no device {id:?}; `cr-server devices` lists them");
            }
            writeln!(out, "Revoked {id}; its live links close within a second.")?;
        }
        Command::Serve | Command::Healthcheck => bail!("not an admin command"),
    }
    Ok(())
}

/// On a database nobody uses yet, prints a login link (with QR code) and a pairing code, so a
/// first run needs nothing else.
pub fn first_run_banner(
    config: &Config,
    public: &PublicUrl,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let db = open(config)?;
    if !store::is_unclaimed(&db.conn)? {
        return Ok(());
    }
    let link = mint::login_link(&db.conn, public, "admin", now())?;
    let code = mint::pairing_code(&db.conn, public, "", now())?;
    writeln!(
        out,
        "Nothing is paired with this relay yet. Both of these work once, for 10 minutes.\n"
    )?;
    writeln!(out, "1. On your phone, open this login link or scan the code:\n\n  {}\n", link.url)?;
    writeln!(out, "{}", qr(&link.url)?)?;
    writeln!(out, "2. On your workstation, run:\n\n  {}\n", code.command)?;
    writeln!(out, "Make more with `cr-server login-link` and `cr-server pair-code`.")?;
    out.flush()?;
    Ok(())
}

/// `cr-server healthcheck`: GET /healthz on the listen address (loopback if it listens on all
/// addresses).
pub fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        let ip =
            if addr.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() };
        addr = SocketAddr::new(ip, addr.port());
    }
    let mut stream = TcpStream::connect_timeout(&addr, HEALTHCHECK_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.set_write_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).context("reading the answer")?;
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{addr} answered {:?}", status.trim());
    }
    Ok(())
}

/// Where the admin commands write their answers.
pub fn stdout() -> io::Stdout {
    io::stdout()
}
