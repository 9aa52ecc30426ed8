//! `cr-server`: parses the command line, sets up logging, and runs the relay or an admin
//! command.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use cr_server::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let args = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "cr_server=info,warn".into()),
        )
        .init();
    let result = match &args.command {
        None | Some(Command::Serve) => serve(args.config),
        Some(Command::Healthcheck) => cli::healthcheck(&args.config),
        Some(command) => cli::admin(command, &args.config, &mut cli::stdout()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "cr-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: cr_server::Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let public = config.public_url_for(listener.local_addr()?);
        cli::first_run_banner(&config, &public, &mut cli::stdout())?;
        cr_server::serve(listener, config, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
