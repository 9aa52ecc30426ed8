//! `cr-bench`: runs the benchmarks (or, as `cr-bench child …` or under the name `claude`, one
//! of the programs the benchmarks run in PTYs).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser as _;
use cr_bench::opts::{ChildCommand, Cli, Command, RunOpts};
use cr_bench::{Ctx, child, fixture::Bins, floor, progress, report};

fn main() -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    let result = if std::path::Path::new(&argv0).file_name().is_some_and(|n| n == "claude") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        child::claude(&args).map(|()| true)
    } else {
        let cli = Cli::parse();
        match cli.command {
            Some(Command::Child(c)) => run_child(c).map(|()| true),
            None => run(cli.run),
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            progress(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run_child(c: ChildCommand) -> Result<()> {
    match c {
        ChildCommand::Echo => child::echo(),
        ChildCommand::Ticker { interval_ms, jitter_ms, count, log } => child::ticker(
            Duration::from_millis(interval_ms),
            Duration::from_millis(jitter_ms),
            count,
            &log,
        ),
        ChildCommand::Ask { count, pause_min_ms, pause_max_ms, log } => {
            child::ask(count, (pause_min_ms, pause_max_ms), &log)
        }
        ChildCommand::Idle { lines } => child::idle(lines),
        ChildCommand::Hub => floor::hub(),
        ChildCommand::Forward { hub, rows, cols, argv } => floor::forward(hub, (rows, cols), &argv),
    }
}

#[allow(clippy::print_stdout)]
fn run(opts: RunOpts) -> Result<bool> {
    let limit = cr_bench::raise_nofile()?;
    let ctx = Ctx {
        bins: Bins::find(opts.bin_dir.as_deref())?,
        quick: opts.quick,
        rounds: opts.rounds.unwrap_or(if opts.quick { 1 } else { 5 }).max(1),
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?,
    };
    progress(&format!("open-file limit {limit}; binaries in {}", ctx.bins.cr.display()));
    // The command to quote in the report: what the user typed (`just bench` says so), else
    // this program's own command line.
    let command = std::env::var("CR_BENCH_COMMAND")
        .map(|c| c.trim().to_owned())
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            std::env::args()
                .map(|a| {
                    std::path::Path::new(&a)
                        .file_name()
                        .map_or(a.clone(), |f| f.to_string_lossy().into_owned())
                })
                .collect::<Vec<_>>()
                .join(" ")
        });
    let (report, all_ran) = cr_bench::run(&ctx, &opts.only, command);
    let section = report::render(&report);
    match &opts.write {
        Some(path) => {
            report::rewrite(path, &section)?;
            progress(&format!("wrote {}", path.display()));
        }
        None => println!("{section}"),
    }
    Ok(all_ran)
}
