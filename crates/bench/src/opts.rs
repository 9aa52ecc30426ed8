//! The command line of `cr-bench`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// claude-remote benchmarks: throughput, latency, fan-out and memory of `cr` and `cr-server`.
#[derive(Debug, Parser)]
#[command(name = "cr-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A child program (used by the harness itself).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a benchmark run.
    #[command(flatten)]
    pub run: RunOpts,
}

/// Options of a benchmark run.
#[derive(Debug, Args)]
pub struct RunOpts {
    /// Tiny inputs and one round: checks that every scenario runs and produces numbers (CI).
    #[arg(long)]
    pub quick: bool,
    /// Run only these scenarios (comma-separated): throughput, keystroke, output, question,
    /// fanout, scale, footprint, store.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Rounds of each side-by-side comparison (default 5, or 1 with --quick).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Directory holding `cr` and `cr-server` (default: next to cr-bench).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Rewrite the results section of this file (e.g. BENCHMARKS.md); otherwise the section
    /// is printed.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// The programs the harness runs in PTYs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a child program (internal).
    #[command(hide = true, subcommand)]
    Child(ChildCommand),
}

/// The child programs.
#[derive(Debug, Subcommand)]
pub enum ChildCommand {
    /// Raw mode, echo every byte.
    Echo,
    /// Print `tick SEQ …` lines at a pace.
    Ticker {
        /// Milliseconds between lines.
        #[arg(long)]
        interval_ms: u64,
        /// Up to this many milliseconds more, at random.
        #[arg(long, default_value_t = 0)]
        jitter_ms: u64,
        /// Lines to print (0: until killed).
        #[arg(long)]
        count: u64,
        /// Stamp log.
        #[arg(long)]
        log: PathBuf,
    },
    /// Ask `[y/N]` questions.
    Ask {
        /// Questions to ask.
        #[arg(long)]
        count: u64,
        /// Shortest pause before a question, ms.
        #[arg(long)]
        pause_min_ms: u64,
        /// Longest pause before a question, ms.
        #[arg(long)]
        pause_max_ms: u64,
        /// Stamp log.
        #[arg(long)]
        log: PathBuf,
    },
    /// The bare chain's relay: copies what sources send to every phone (see `floor`).
    Hub,
    /// The bare chain's `cr`: runs a program in a PTY and copies its output to the terminal
    /// and to the hub (see `floor`).
    Forward {
        /// The hub's loopback port.
        #[arg(long)]
        hub: u16,
        /// Rows of the program's terminal.
        #[arg(long)]
        rows: u16,
        /// Columns of the program's terminal.
        #[arg(long)]
        cols: u16,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        argv: Vec<std::ffi::OsString>,
    },
    /// Print some lines, then wait.
    Idle {
        /// Lines to print.
        #[arg(long, default_value_t = 20)]
        lines: u64,
    },
}
