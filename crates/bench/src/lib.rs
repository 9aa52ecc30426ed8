//! `cr-bench`: the benchmark harness of claude-remote. It drives release builds of `cr` and
//! `cr-server` the way users do (the relay on loopback with a temp database, `cr` paired and
//! running inside a PTY the harness owns, phones as SSE clients with a login cookie) and
//! writes medians with their spread into `BENCHMARKS.md`.
//!
//! # Module map
//!
//! - [`opts`]: the command line.
//! - [`clock`]: the monotonic clock the harness and its child programs share.
//! - [`child`]: the programs run inside PTYs (echo, ticker, `[y/N]` asker, idle, `claude`).
//! - [`pty`]: a terminal the harness owns and drains.
//! - [`floor`]: the bare chain (PTY → forwarder → hub → phones), the machine's floor for
//!   output → phone and for throughput.
//! - [`relay`], [`fixture`]: the relay process, pairing, phone login, sessions.
//! - [`http`], [`sse`]: minimal HTTP and server-sent-event clients.
//! - [`fakelink`]: the device side of the link protocol, for feeding the store directly.
//! - [`procfs`]: memory and CPU time of a process.
//! - [`stats`]: percentiles and spreads (pure).
//! - [`wake`]: what waking another process costs on this machine, at the start and the end.
//! - [`scenario`]: one module per measurement.
//! - [`report`]: the results table and the `BENCHMARKS.md` section.

pub mod child;
pub mod clock;
pub mod fakelink;
pub mod fixture;
pub mod floor;
pub mod http;
pub mod opts;
pub mod procfs;
pub mod pty;
pub mod relay;
pub mod report;
pub mod scenario;
pub mod sse;
pub mod stats;
pub mod wake;

use anyhow::{Context as _, Result};

use crate::fixture::Bins;
use crate::report::{Report, Row, Verdict};

/// Open files the harness (and the relay it starts, which inherits the limit) may need: ten
/// thousand phones on each side, plus PTYs and `cr` links.
pub const NOFILE_NEEDED: u64 = 65_536;

/// What every scenario gets.
pub struct Ctx {
    /// The binaries under test.
    pub bins: Bins,
    /// Tiny inputs, one round: checks that every scenario runs, not how fast.
    pub quick: bool,
    /// Rounds of each side-by-side comparison.
    pub rounds: usize,
    /// Runs the SSE clients and other async parts.
    pub rt: tokio::runtime::Runtime,
}

/// What a scenario found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Table rows.
    pub rows: Vec<Row>,
    /// Details for the report: per-round numbers, exact setup.
    pub details: Vec<String>,
}

type Scenario = fn(&Ctx) -> Result<Outcome>;

/// Every scenario, in report order.
pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("throughput", scenario::throughput::run),
    ("keystroke", scenario::keystroke::run),
    ("output", scenario::output::run),
    ("question", scenario::question::run),
    ("fanout", scenario::fanout::run),
    ("scale", scenario::scale::run),
    ("footprint", scenario::footprint::run),
    ("store", scenario::store::run),
];

/// Raises the open-file limit as far as `NOFILE_NEEDED` (root may raise the hard limit too).
pub fn raise_nofile() -> Result<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let cur = getrlimit(Resource::Nofile);
    let want = Some(NOFILE_NEEDED);
    let hard = if cur.maximum.is_some_and(|m| m < NOFILE_NEEDED) {
        // Only root can raise the hard limit; otherwise settle for the current one.
        match setrlimit(Resource::Nofile, Rlimit { current: want, maximum: want }) {
            Ok(()) => want,
            Err(_) => cur.maximum,
        }
    } else {
        cur.maximum
    };
    let soft = want.min(hard).or(want);
    setrlimit(Resource::Nofile, Rlimit { current: soft, maximum: hard })
        .context("raising the open-file limit")?;
    Ok(soft.unwrap_or(u64::MAX))
}

/// Wake-up round trips at each end of a run (a few in a quick one).
const WAKE_TRIPS: (usize, usize) = (200, 5);

/// The wake-up yardstick now, or why it could not be measured.
fn probe_wake(ctx: &Ctx) -> Result<wake::Wake, String> {
    let trips = if ctx.quick { WAKE_TRIPS.1 } else { WAKE_TRIPS.0 };
    wake::probe(trips).map_err(|e| format!("{e:#}"))
}

/// Runs the chosen scenarios; the report, and whether every one of them produced numbers.
pub fn run(ctx: &Ctx, only: &[String], command: String) -> (Report, bool) {
    let wake_before = probe_wake(ctx);
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let mut all_ran = true;
    for (name, scenario) in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        progress(&format!("{name}: running"));
        let started = std::time::Instant::now();
        match scenario(ctx) {
            Ok(outcome) => {
                for r in &outcome.rows {
                    progress(&format!(
                        "{name}: {} | {} | {} | {:?}",
                        r.what, r.measured, r.spread, r.verdict
                    ));
                }
                rows.extend(outcome.rows);
                details.push((name.to_string(), outcome.details));
            }
            Err(e) => {
                all_ran = false;
                progress(&format!("{name}: FAILED to run: {e:#}"));
                rows.push(Row {
                    what: (*name).into(),
                    target: String::new(),
                    measured: format!("did not run: {e:#}"),
                    spread: String::new(),
                    verdict: Verdict::Incomplete,
                    peers: String::new(),
                });
            }
        }
        progress(&format!("{name}: {:.1} s", started.elapsed().as_secs_f64()));
    }
    let wake_after = probe_wake(ctx);
    let report = Report {
        command,
        machine: report::Machine::probe(),
        wake: [wake_before, wake_after],
        date: report::utc_now(),
        rows,
        details,
    };
    (report, all_ran)
}

/// A progress line on stderr (the report itself goes to stdout or the file).
#[allow(clippy::print_stderr)]
pub fn progress(line: &str) {
    eprintln!("[cr-bench] {line}");
}
