//! Fan-out: a thousand phones on one session that updates 30 times a second. Measures the
//! relay's CPU over the run, how far each phone trails the latest state (for every update and
//! every phone: until the phone showed it or a later one), and phones that stall.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};

use super::output::{Ticking, lags, start_ticker};
use super::{TERM_SIZE, ms};
use crate::child::{read_log, stamps_of};
use crate::clock::{ms_between, now_ns};
use crate::fixture::Fixture;
use crate::procfs;
use crate::report::{Row, Verdict};
use crate::stats::{range, summarize};
use crate::{Ctx, Outcome};

/// Phones on the session.
const FULL_CLIENTS: usize = 1000;
/// Seconds of updates per round.
const FULL_SECS: u64 = 20;
/// In a quick run.
const QUICK_CLIENTS: usize = 10;
const QUICK_SECS: u64 = 2;
/// Updates per second.
const RATE_HZ: u64 = 30;
/// The issue's bound on how far a phone may trail the latest state.
const LAG_LIMIT_MS: f64 = 100.0;
/// No update for this long while updates flow is a stall.
const STALL_MS: f64 = 1000.0;

struct RoundResult {
    cores: f64,
    /// What the phones themselves cost (they share the machine with the relay).
    harness_cores: f64,
    lags: Vec<f64>,
    worst_per_client: Vec<f64>,
    stalled: usize,
}

fn round(ctx: &Ctx, fx: &Fixture, clients: usize, secs: u64) -> Result<RoundResult> {
    let ticks = secs * RATE_HZ;
    let Ticking { log, mut term, drain, seen, tasks } =
        start_ticker(ctx, fx, 1000 / RATE_HZ, 0, ticks, clients)?;
    let pid = fx.relay.pid();
    let me = std::process::id();
    let (cpu0, wall0, own0) = (procfs::cpu_secs(pid)?, now_ns(), procfs::cpu_secs(me)?);
    let mark = drain.mark();
    term.write(b"\r")?;
    drain.wait_for(mark, &format!("tick {ticks:06}"), Duration::from_secs(secs * 3 + 30))?;
    std::thread::sleep(Duration::from_millis(500));
    let (cpu1, wall1, own1) = (procfs::cpu_secs(pid)?, now_ns(), procfs::cpu_secs(me)?);
    for t in &tasks {
        t.abort();
    }
    let printed: BTreeMap<u64, u64> =
        stamps_of(&read_log(&log)?, "tick").into_iter().map(|(k, s)| (k, s.ns)).collect();
    if printed.len() as u64 != ticks {
        bail!("the ticker logged {} of {ticks} updates", printed.len());
    }
    let mut all = Vec::new();
    let mut worst = Vec::new();
    let mut stalled = 0;
    for s in &seen {
        let s = s.lock().expect("seen lock");
        let l = lags(&printed, &s);
        let never = l.iter().any(Option::is_none);
        let longest_gap = s.windows(2).map(|w| ms_between(w[0].1, w[1].1)).fold(0.0, f64::max);
        if never || longest_gap > STALL_MS {
            stalled += 1;
        }
        let l: Vec<f64> = l.into_iter().flatten().collect();
        worst.push(l.iter().copied().fold(0.0, f64::max));
        all.extend(l);
    }
    let secs = ms_between(wall0, wall1) / 1e3;
    Ok(RoundResult {
        cores: (cpu1 - cpu0) / secs,
        harness_cores: (own1 - own0) / secs,
        lags: all,
        worst_per_client: worst,
        stalled,
    })
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (clients, secs) =
        if ctx.quick { (QUICK_CLIENTS, QUICK_SECS) } else { (FULL_CLIENTS, FULL_SECS) };
    let rounds = ctx.rounds.min(3);
    let fx = Fixture::new(&ctx.bins)?;
    let mut details = vec![format!(
        "{clients} phones (SSE, one login cookie) on one session whose program prints a line \
         every {} ms for {secs} s ({RATE_HZ} updates/s, each a scroll of the {}-row screen); \
         relay CPU is utime+stime from /proc over the run",
        1000 / RATE_HZ,
        TERM_SIZE.0
    )];
    let (mut cores, mut lags, mut worst, mut stalled) = (vec![], vec![], vec![], 0);
    for r in 0..rounds {
        let res = round(ctx, &fx, clients, secs)?;
        let s = summarize(&res.lags).expect("samples");
        let w = res.worst_per_client.iter().copied().fold(0.0, f64::max);
        details.push(format!(
            "round {}: relay {:.2} cores (the phones {:.2}); lag p50 {} p99 {} max {}; {} stalled",
            r + 1,
            res.cores,
            res.harness_cores,
            ms(s.p50),
            ms(s.p99),
            ms(w),
            res.stalled
        ));
        cores.push(res.cores);
        worst.push(w);
        stalled += res.stalled;
        lags.extend(res.lags);
    }
    let s = summarize(&lags).expect("samples");
    let (clo, chi) = range(&cores);
    let (wlo, whi) = range(&worst);
    let cores_med = crate::stats::median(&cores);
    let worst_max = whi;
    let rows = vec![
        Row {
            what: format!("fan-out: relay CPU, {clients} clients at {RATE_HZ} Hz"),
            target: "≤ 1 core".into(),
            measured: format!("{cores_med:.2} cores"),
            spread: format!("{clo:.2}…{chi:.2} over {rounds} rounds"),
            verdict: Verdict::of(cores_med <= 1.0),
            peers: String::new(),
        },
        Row {
            what: format!("fan-out: lag behind the latest state, {clients} clients"),
            target: "every client within 100 ms; no client ever stalls".into(),
            measured: format!(
                "worst {} (p50 {}, p99 {}); {stalled} stalled",
                ms(worst_max),
                ms(s.p50),
                ms(s.p99)
            ),
            spread: format!("worst per round {}…{}", ms(wlo), ms(whi)),
            verdict: Verdict::of(worst_max <= LAG_LIMIT_MS && stalled == 0),
            peers: String::new(),
        },
    ];
    Ok(Outcome { rows, details })
}
