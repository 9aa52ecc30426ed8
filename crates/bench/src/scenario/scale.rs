//! Scale: 500 linked sessions (real `cr` processes, each in its own terminal, running an idle
//! program) and 10,000 idle phones (SSE, spread over the sessions' streams); the relay's
//! resident memory, now and at its peak.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use cr_proto::feed;

use super::TERM_SIZE;
use crate::fixture::Fixture;
use crate::procfs;
use crate::pty::Term;
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::{Ctx, Outcome, progress};

/// Sessions.
const FULL_SESSIONS: usize = 500;
/// Phones.
const FULL_PHONES: usize = 10_000;
/// In a quick run.
const QUICK_SESSIONS: usize = 5;
const QUICK_PHONES: usize = 50;
/// `cr`s started at once; then the harness waits for them to link.
const START_BATCH: usize = 25;
/// Phones connecting at once.
const CONNECT_CONCURRENCY: usize = 200;
/// The bound.
const RSS_LIMIT_MB: f64 = 300.0;
/// How long everything sits idle before memory is read.
const SETTLE: Duration = Duration::from_secs(5);

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn wait_sessions(fx: &Fixture, n: usize, timeout: Duration) -> Result<Vec<String>> {
    let until = Instant::now() + timeout;
    loop {
        let ids = fx.session_ids()?;
        if ids.len() >= n {
            return Ok(ids.into_iter().collect());
        }
        if Instant::now() >= until {
            bail!("only {} of {n} sessions linked within {timeout:?}", ids.len());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (sessions, phones) =
        if ctx.quick { (QUICK_SESSIONS, QUICK_PHONES) } else { (FULL_SESSIONS, FULL_PHONES) };
    let settle = if ctx.quick { Duration::from_millis(500) } else { SETTLE };
    let fx = Fixture::new(&ctx.bins)?;
    let child = ctx.bins.child(&["idle"]);
    let mut terms = Vec::with_capacity(sessions);
    for start in (0..sessions).step_by(START_BATCH) {
        for _ in start..(start + START_BATCH).min(sessions) {
            let mut t = Term::spawn(&fx.cr_running(child.clone(), TERM_SIZE))?;
            t.drain()?;
            terms.push(t);
        }
        wait_sessions(&fx, terms.len(), Duration::from_secs(120))?;
    }
    let ids = wait_sessions(&fx, sessions, Duration::from_secs(120))?;
    progress(&format!("scale: {sessions} sessions linked"));
    std::thread::sleep(settle);
    let with_sessions = procfs::memory(fx.relay.pid())?;

    let (port, cookie) = (fx.relay.port, fx.cookie.clone());
    let ids = Arc::new(ids);
    let started = Instant::now();
    let tasks = ctx.rt.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
        let mut connecting = Vec::with_capacity(phones);
        for i in 0..phones {
            let (ids, cookie, limit) = (ids.clone(), cookie.clone(), limit.clone());
            connecting.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await?;
                let path = format!("/events?session={}", ids[i % ids.len()]);
                let mut sse = Sse::connect_idle(port, &path, &cookie).await?;
                // Connected once the first screen came.
                let first = sse.next().await?.context("the stream ended at once")?;
                anyhow::ensure!(first.name == feed::SCREEN, "first event was {}", first.name);
                anyhow::Ok(sse)
            }));
        }
        let mut idle = Vec::with_capacity(phones);
        for c in connecting {
            let sse = c.await??;
            idle.push(tokio::spawn(sse.discard()));
        }
        anyhow::Ok(idle)
    })?;
    progress(&format!(
        "scale: {phones} phones connected in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    std::thread::sleep(settle);
    let full = procfs::memory(fx.relay.pid())?;
    let dropped = tasks.iter().filter(|t| t.is_finished()).count();
    let cr_rss: Vec<f64> = terms
        .iter()
        .take(20)
        .filter_map(|t| procfs::memory(t.pid()?).ok())
        .map(|m| mb(m.rss_kb))
        .collect();
    for t in &tasks {
        t.abort();
    }
    if dropped > 0 {
        bail!("{dropped} of {phones} phones lost their stream");
    }
    let details = vec![format!(
        "{sessions} `cr` processes, each in its own terminal running an idle program with 20 \
         lines on screen, all linked; then {phones} phones, each on one session's stream \
         (`/events?session=…`, {} per session), all sitting idle. Relay RSS: {:.1} MB with the \
         sessions alone, {:.1} MB with the phones (peak {:.1} MB). Each `cr`: {:.1} MB (median)",
        phones / sessions,
        mb(with_sessions.rss_kb),
        mb(full.rss_kb),
        mb(full.hwm_kb),
        crate::stats::median(&cr_rss),
    )];
    Ok(Outcome {
        rows: vec![Row {
            what: format!("scale: {sessions} sessions, {phones} idle SSE clients"),
            target: "relay RSS ≤ 300 MB".into(),
            measured: format!("{:.1} MB", mb(full.rss_kb)),
            spread: format!(
                "peak {:.1} MB; {:.1} MB before the phones",
                mb(full.hwm_kb),
                mb(with_sessions.rss_kb)
            ),
            verdict: Verdict::of(
                mb(full.rss_kb) <= RSS_LIMIT_MB && mb(full.hwm_kb) <= RSS_LIMIT_MB,
            ),
            peers: String::new(),
        }],
        details,
    })
}
