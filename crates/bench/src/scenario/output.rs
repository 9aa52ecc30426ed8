//! Output → phone: a line printed in the PTY until SSE clients on loopback see it, with one
//! and with ten clients on the session. The child stamps each line just before writing it;
//! each client stamps the read that brought the first event showing it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cr_proto::feed;

use super::{TERM_SIZE, max_tick, ms};
use crate::child::{read_log, stamps_of};
use crate::clock::ms_between;
use crate::fixture::Fixture;
use crate::floor::{self, Hub};
use crate::pty::Term;
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::stats::{range, summarize};
use crate::{Ctx, Outcome};

/// Lines per round.
const FULL_TICKS: u64 = 250;
/// In a quick run.
const QUICK_TICKS: u64 = 10;
/// Pause between lines: at least this, ms…
const INTERVAL_MS: u64 = 40;
/// …plus up to this much at random, so lines never fall into a rhythm with the relay's timers.
const JITTER_MS: u64 = 40;

/// What one client saw: each time the newest tick on its screen went up, (tick, read time).
pub type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

/// Notes in `seen` a read at `recv_ns` whose `data` shows a tick newer than `best`.
fn note_tick(seen: &Seen, best: &mut u64, data: &[u8], recv_ns: u64) {
    if let Some(tick) = max_tick(data)
        && tick > *best
    {
        *best = tick;
        seen.lock().expect("seen lock").push((tick, recv_ns));
    }
}

/// Connects `n` phones to `session`; resolves once each has its first screen.
pub async fn connect_phones(
    port: u16,
    session: &str,
    cookie: &str,
    n: usize,
) -> Result<(Vec<Seen>, Vec<tokio::task::JoinHandle<Result<()>>>)> {
    let mut seen = Vec::new();
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for _ in 0..n {
        let log: Seen = Arc::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut sse = Sse::connect(port, &format!("/events?session={session}"), cookie).await?;
        let l = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut best = 0;
            while let Some(ev) = sse.next().await? {
                if ev.name == feed::SCREEN || ev.name == feed::OUTPUT {
                    if let Some(t) = tx.take() {
                        let _ = t.send(());
                    }
                    note_tick(&l, &mut best, &ev.data, ev.recv_ns);
                }
            }
            Ok(())
        }));
        seen.push(log);
        ready.push(rx);
    }
    for r in ready {
        tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .context("a phone got no first screen")??;
    }
    Ok((seen, tasks))
}

/// For each printed tick (seq → ns) and each client, ms until the client first showed it or a
/// later one; `None` for ticks a client never showed.
pub fn lags(
    printed: &std::collections::BTreeMap<u64, u64>,
    seen: &[(u64, u64)],
) -> Vec<Option<f64>> {
    printed
        .iter()
        .map(|(&seq, &at)| {
            let i = seen.partition_point(|&(tick, _)| tick < seq);
            seen.get(i).map(|&(_, recv)| ms_between(at, recv))
        })
        .collect()
}

/// A ticker under `cr` with phones on its session, waiting for Enter to start printing.
pub struct Ticking {
    /// Where the ticker stamps each line.
    pub log: std::path::PathBuf,
    /// `cr`'s terminal.
    pub term: Term,
    /// What the terminal showed.
    pub drain: crate::pty::Drain,
    /// What each phone saw.
    pub seen: Vec<Seen>,
    /// The phones.
    pub tasks: Vec<tokio::task::JoinHandle<Result<()>>>,
}

/// A ticker's command line, stamping into a new log in `fx`'s directory.
fn ticker(
    ctx: &Ctx,
    fx: &Fixture,
    interval_ms: u64,
    jitter_ms: u64,
    count: u64,
) -> (std::path::PathBuf, Vec<std::ffi::OsString>) {
    let log = fx.dir.path().join(format!("ticks-{}.log", crate::clock::now_ns()));
    let argv = ctx.bins.child(&[
        "ticker",
        "--interval-ms",
        &interval_ms.to_string(),
        "--jitter-ms",
        &jitter_ms.to_string(),
        "--count",
        &count.to_string(),
        "--log",
        &log.to_string_lossy(),
    ]);
    (log, argv)
}

/// Starts `cr` running a ticker of `count` lines, `interval_ms` (+ up to `jitter_ms`) apart,
/// and connects `clients` phones to its session.
pub fn start_ticker(
    ctx: &Ctx,
    fx: &Fixture,
    interval_ms: u64,
    jitter_ms: u64,
    count: u64,
    clients: usize,
) -> Result<Ticking> {
    let (log, child) = ticker(ctx, fx, interval_ms, jitter_ms, count);
    let known = fx.session_ids()?;
    let mut term = Term::spawn(&fx.cr_running(child, TERM_SIZE))?;
    let drain = term.drain()?;
    drain.wait_for(0, "READY", Duration::from_secs(30))?;
    let session = fx.new_session(&known)?;
    let (seen, tasks) =
        ctx.rt.block_on(connect_phones(fx.relay.port, &session, &fx.cookie, clients))?;
    Ok(Ticking { log, term, drain, seen, tasks })
}

/// The same ticker through the bare chain ([`crate::floor`]): a forwarder in the terminal
/// instead of `cr`, the hub instead of the relay, and `clients` phones reading the hub.
fn start_bare(ctx: &Ctx, fx: &Fixture, hub: &Hub, count: u64, clients: usize) -> Result<Ticking> {
    let (log, child) = ticker(ctx, fx, INTERVAL_MS, JITTER_MS, count);
    let (term, drain) = hub.forward(&ctx.bins, TERM_SIZE, child)?;
    let (seen, tasks) = ctx.rt.block_on(connect_bare_phones(hub.port, clients))?;
    Ok(Ticking { log, term, drain, seen, tasks })
}

/// Connects `n` phones to the hub; resolves once the hub has registered each.
async fn connect_bare_phones(
    port: u16,
    n: usize,
) -> Result<(Vec<Seen>, Vec<tokio::task::JoinHandle<Result<()>>>)> {
    let mut seen = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let conn = floor::connect_phone(port).await?;
        let log: Seen = Arc::default();
        let l = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut best = 0;
            floor::read_phone(conn, CARRY_BYTES, |data, _, recv_ns| {
                note_tick(&l, &mut best, data, recv_ns);
                false
            })
            .await?;
            Ok(())
        }));
        seen.push(log);
    }
    Ok((seen, tasks))
}

/// Bytes of a read kept for the next: more than `tick 000123`.
const CARRY_BYTES: usize = 16;

/// Which chain a round measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    /// `cr` and the relay.
    Cr,
    /// The bare chain: the machine's floor.
    Bare,
}

/// One round with `clients` phones: every (tick, client) latency in ms.
fn round(ctx: &Ctx, fx: &Fixture, chain: Chain, clients: usize, ticks: u64) -> Result<Vec<f64>> {
    let hub = match chain {
        Chain::Cr => None,
        Chain::Bare => Some(Hub::start(&ctx.bins)?),
    };
    let Ticking { log, mut term, drain, seen, tasks } = match &hub {
        None => start_ticker(ctx, fx, INTERVAL_MS, JITTER_MS, ticks, clients)?,
        Some(hub) => start_bare(ctx, fx, hub, ticks, clients)?,
    };
    let mark = drain.mark();
    term.write(b"\r")?;
    let budget = Duration::from_millis((INTERVAL_MS + JITTER_MS) * ticks + 30_000);
    drain.wait_for(mark, &format!("tick {ticks:06}"), budget)?;
    // Let the last line reach every client.
    std::thread::sleep(Duration::from_millis(500));
    for t in &tasks {
        t.abort();
    }
    let printed: std::collections::BTreeMap<u64, u64> =
        stamps_of(&read_log(&log)?, "tick").into_iter().map(|(k, s)| (k, s.ns)).collect();
    if printed.len() as u64 != ticks {
        bail!("the ticker logged {} of {ticks} lines", printed.len());
    }
    let mut all = Vec::new();
    for s in &seen {
        let s = s.lock().expect("seen lock");
        let l = lags(&printed, &s);
        let missing = l.iter().filter(|x| x.is_none()).count();
        if missing > 0 {
            bail!("a phone never showed {missing} of {ticks} lines");
        }
        all.extend(l.into_iter().flatten());
    }
    Ok(all)
}

/// The contenders of a round: `cr` and the bare chain, each with 1 and 10 phones.
const CONTENDERS: [(Chain, usize); 4] =
    [(Chain::Cr, 1), (Chain::Cr, 10), (Chain::Bare, 1), (Chain::Bare, 10)];

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let ticks = if ctx.quick { QUICK_TICKS } else { FULL_TICKS };
    let fx = Fixture::new(&ctx.bins)?;
    let mut details = vec![format!(
        "the child prints `tick N …` lines {INTERVAL_MS}-{} ms apart, {ticks} per round, and \
         stamps each just before writing it; a phone's latency for a line is the read that \
         brought the first `output`/`screen` event showing it (or a later line). Side by side, \
         the bare chain: the same ticker in a PTY owned by a forwarder that copies each read to \
         its terminal and then over TCP to a hub process, which copies it to phones reading \
         TCP; one thread per hop, blocking IO, no other work (`crates/bench/src/floor.rs`). It \
         is what any PTY → relay → phone design pays on this machine before doing anything",
        INTERVAL_MS + JITTER_MS
    )];
    let mut pooled: [Vec<f64>; 4] = Default::default();
    let mut per_round: [Vec<(f64, f64)>; 4] = Default::default();
    for r in 0..ctx.rounds {
        // Each round starts with a different contender, so none always runs first.
        for k in 0..CONTENDERS.len() {
            let which = (r + k) % CONTENDERS.len();
            let (chain, clients) = CONTENDERS[which];
            let l = round(ctx, &fx, chain, clients, ticks)?;
            let s = summarize(&l).expect("samples");
            let name = match chain {
                Chain::Cr => "",
                Chain::Bare => " (bare chain)",
            };
            details.push(format!(
                "round {} with {clients} client(s){name}: p50 {} p99 {} max {}",
                r + 1,
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            ));
            per_round[which].push((s.p50, s.p99));
            pooled[which].extend(l);
        }
    }
    let [one, ten, bare_one, bare_ten] = pooled.map(|p| summarize(&p).expect("samples"));
    let spread = |rounds: &[(f64, f64)]| {
        let (a, b) = range(&rounds.iter().map(|x| x.0).collect::<Vec<_>>());
        let (c, d) = range(&rounds.iter().map(|x| x.1).collect::<Vec<_>>());
        format!("p50 {}…{}, p99 {}…{} over rounds", ms(a), ms(b), ms(c), ms(d))
    };
    let rows = vec![
        Row {
            what: "output → phone, 1 client".into(),
            target: "p50 ≤ 0.3 ms, p99 ≤ 0.5 ms".into(),
            measured: format!(
                "p50 {}, p99 {} (the bare chain: p50 {}, p99 {})",
                ms(one.p50),
                ms(one.p99),
                ms(bare_one.p50),
                ms(bare_one.p99)
            ),
            spread: format!("{}; the bare chain {}", spread(&per_round[0]), spread(&per_round[2])),
            verdict: Verdict::of(one.p50 <= 0.3 && one.p99 <= 0.5),
            peers: "ttyd 0.32 / 0.45 ms, sshx 0.60 / 0.68 ms".into(),
        },
        Row {
            what: "output → phone, 10 clients".into(),
            target: "p99 ≤ 1 ms".into(),
            measured: format!(
                "p50 {}, p99 {} (the bare chain: p50 {}, p99 {})",
                ms(ten.p50),
                ms(ten.p99),
                ms(bare_ten.p50),
                ms(bare_ten.p99)
            ),
            spread: format!("{}; the bare chain {}", spread(&per_round[1]), spread(&per_round[3])),
            verdict: Verdict::of(ten.p99 <= 1.0),
            peers: "ttyd 0.85 / 1.14 ms (tmux), sshx 0.72 / 1.08 ms".into(),
        },
    ];
    Ok(Outcome { rows, details })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_take_the_first_showing_of_a_tick_or_a_later_one() {
        let printed = [(1, 1_000_000), (2, 2_000_000), (3, 3_000_000)].into_iter().collect();
        // Tick 2 was never shown alone: tick 3's event covers it.
        let seen = [(1, 1_500_000), (3, 3_250_000)];
        let l = lags(&printed, &seen);
        assert_eq!(l, [Some(0.5), Some(1.25), Some(0.25)]);
        assert_eq!(lags(&printed, &[(1, 1_100_000)])[1], None);
    }
}
