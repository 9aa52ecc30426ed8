//! `cr`: parse the command line, log to a file, run the session (or `pair` / `qr` / `hook`),
//! exit with the child's exit code.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, process::ExitCode};

use anyhow::{Context, Result};
use clap::Parser;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use cr::{
    config::{self, Cli, Command, DEFAULT_COMMAND, RunArgs},
    device, hookserver,
    logfile::LogGuard,
    session::{RESIZE_CAP, Session, SessionConfig},
    term,
};

/// Terminal size used when stdout is not a terminal.
const FALLBACK_SIZE: (u16, u16) = (24, 80);
/// Signals to `cr` waiting to be forwarded to the child.
const SIGNALS_CAP: usize = 8;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `cr hook` lives for one hook call, and Claude Code waits for it: no worker threads to
    // start (a third of its start-up time), one request to make.
    let mut builder = match cli.command {
        Some(Command::Hook) => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2).on_thread_start(cr::pty::lower_thread_priority);
            b
        }
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&anyhow::Error::from(e).context("cannot start the runtime")),
    };
    let config_path = config::config_path(cli.config.as_deref());
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Hook) => Ok(ExitCode::from(hookserver::forward().await as u8)),
            Some(Command::Pair { server, code, name }) => {
                pair(&config_path, &server, &code, name).await
            }
            Some(Command::Qr) => qr(&config_path, &cli.run).await,
            None => run(&config_path, cli.run).await,
        }
    });
    // Threads blocked on stdin must not keep the process alive.
    runtime.shutdown_background();
    result.unwrap_or_else(|e| fail(&e))
}

#[allow(clippy::print_stderr)]
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("cr: {e:#}");
    ExitCode::FAILURE
}

fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

#[allow(clippy::print_stdout)]
async fn pair(
    path: &std::path::Path,
    server: &str,
    code: &str,
    name: Option<String>,
) -> Result<ExitCode> {
    let name = name.unwrap_or_else(hostname);
    let saved = device::pair(server, code, &name).await?;
    config::save(path, &saved)?;
    println!("Paired with {} as device {} ({name}).", saved.server, saved.device_id);
    println!("Saved to {} (mode 0600).", path.display());
    println!(
        "Next: run `cr` to start claude linked to the relay (or `cr -- COMMAND`), and `cr qr` to log in a phone."
    );
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)]
async fn qr(path: &std::path::Path, run: &RunArgs) -> Result<ExitCode> {
    let saved = config::load(path)?;
    let creds = config::credentials(run, saved.as_ref())?
        .context("not paired: run `cr pair URL CODE` first (the relay prints the code)")?;
    let link = device::login_link(&creds).await?;
    println!("{}", device::qr(&link.url)?);
    println!("Scan with the phone, or open: {}", link.url);
    println!("The link works once, until {}.", link.expires_at);
    Ok(ExitCode::SUCCESS)
}

/// Logging goes to a file, never to the terminal being mirrored, through a thread of its own
/// (see [`cr::logfile`]); the guard ends that thread once every line is written.
fn init_logging() -> Option<LogGuard> {
    let path = config::log_path();
    if let Some(dir) = path.parent() {
        let _ = fs::DirBuilder::new().recursive(true).create(dir);
    }
    let file = fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path).ok()?;
    let (sink, guard) = cr::logfile::start(file).ok()?;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CR_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(sink)
        .try_init();
    Some(guard)
}

#[allow(clippy::print_stderr)]
async fn run(config_path: &std::path::Path, args: RunArgs) -> Result<ExitCode> {
    let _log = init_logging();
    let saved = config::load(config_path).unwrap_or_else(|e| {
        tracing::warn!("{e:#}");
        None
    });
    let credentials = match config::credentials(&args, saved.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cr: {e:#}; running without the relay");
            None
        }
    };
    if credentials.is_none() && saved.is_none() {
        eprintln!("cr: not paired (run `cr pair URL CODE`); running without the relay");
    }
    let argv = if args.command.is_empty() {
        vec![DEFAULT_COMMAND.to_owned()]
    } else {
        args.command.clone()
    };
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let name = args.name.clone().unwrap_or_else(|| {
        cwd.file_name().map_or_else(
            || cwd.to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let hook_exe = if args.no_hooks { None } else { std::env::current_exe().ok() };
    let size = term::window_size().unwrap_or(FALLBACK_SIZE);
    let hook_transport = args.hook_transport;
    let config = SessionConfig { argv, name, cwd, credentials, hook_exe, hook_transport, size };

    let session = Session::start(config, Box::new(term::RawStdout)).await?;

    // From here on the terminal is raw; every exit path restores it.
    term::install_panic_hook();
    let guard = term::RawModeGuard::enable().context("cannot put the terminal in raw mode")?;
    term::pump_stdin(session.input()).context("cannot read the keyboard")?;
    let (resize_tx, resize_rx) = mpsc::channel(RESIZE_CAP);
    let (sig_tx, sig_rx) = mpsc::channel(SIGNALS_CAP);
    watch_signals(resize_tx, sig_tx)?;

    // The PTY reader and the stdin pump run already; the session's work on this thread comes
    // after them from here on.
    cr::pty::lower_thread_priority();
    #[cfg(debug_assertions)]
    panic_for_tests();
    let code = session.run(resize_rx, sig_rx).await;
    drop(guard);
    let _ = std::io::stdout().flush();
    Ok(ExitCode::from(code.map_or(1, |c| c.clamp(0, 255) as u8)))
}

/// Test hook, debug builds only: `CR_DEBUG_PANIC=1` panics a thread of its own shortly after
/// the terminal went raw, so the tests can see the panic path restore the terminal.
#[cfg(debug_assertions)]
fn panic_for_tests() {
    /// Long enough for the child to be running and the test to have seen raw mode.
    const PANIC_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
    if std::env::var_os("CR_DEBUG_PANIC").is_some() {
        std::thread::spawn(|| {
            std::thread::sleep(PANIC_DELAY);
            panic!("CR_DEBUG_PANIC: a panic on a thread of cr's");
        });
    }
}

/// SIGWINCH becomes a resize; SIGTERM, SIGHUP and SIGINT go to the child, whose exit ends
/// the session (and restores the terminal on the way out).
fn watch_signals(
    resize: mpsc::Sender<(u16, u16)>,
    forward: mpsc::Sender<rustix::process::Signal>,
) -> Result<()> {
    use rustix::process::Signal;
    let mut winch = signal(SignalKind::window_change()).context("SIGWINCH")?;
    tokio::spawn(async move {
        while winch.recv().await.is_some() {
            if let Some(size) = term::window_size() {
                let _ = resize.try_send(size);
            }
        }
    });
    for (kind, sig) in [
        (SignalKind::terminate(), Signal::TERM),
        (SignalKind::hangup(), Signal::HUP),
        (SignalKind::interrupt(), Signal::INT),
    ] {
        let mut stream = signal(kind).context("installing signal handlers")?;
        let forward = forward.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = forward.try_send(sig);
            }
        });
    }
    Ok(())
}
