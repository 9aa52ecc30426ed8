//! Keystroke latency: a byte written to the terminal until its echo comes back, through `cr`
//! (linked, a phone watching) and on a bare PTY, both running the same raw-mode echo program.
//! Rounds alternate between the two; each sample waits a random few milliseconds first, as
//! typing does, so no contender benefits from a busy-polling rhythm.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use rand::RngExt as _;

use super::{TERM_SIZE, ms, signed_ms};
use crate::clock::{ms_between, now_ns};
use crate::fixture::Fixture;
use crate::pty::{Launch, Term};
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::stats::{range, summarize};
use crate::{Ctx, Outcome};

/// Keystrokes per contender per round.
const FULL_SAMPLES: usize = 400;
/// In a quick run.
const QUICK_SAMPLES: usize = 20;
/// Pause before each keystroke, ms (random in this range).
const GAP_MS: (u64, u64) = (2, 10);
/// Longest an echo may take before the run is declared broken.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

fn read_until(reader: &mut dyn Read, needle: &[u8], seen: &mut Vec<u8>) -> Result<()> {
    let mut buf = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            bail!("the terminal closed; output: {:?}", String::from_utf8_lossy(seen));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Types `samples` keystrokes and times each echo, in ms.
fn type_and_time(term: &mut Term, samples: usize) -> Result<Vec<f64>> {
    let mut reader = term.take_reader()?;
    let mut seen = Vec::new();
    read_until(&mut *reader, b"READY", &mut seen)?;
    // Reading happens on this thread, right after the write: no hand-off adds to the time.
    let mut times = Vec::with_capacity(samples);
    let mut buf = [0u8; 4096];
    for i in 0..samples {
        std::thread::sleep(Duration::from_millis(rand::rng().random_range(GAP_MS.0..=GAP_MS.1)));
        let key = b'a' + (i % 26) as u8;
        let start = now_ns();
        term.write(&[key])?;
        let deadline = std::time::Instant::now() + ECHO_TIMEOUT;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                bail!("the terminal closed while typing");
            }
            if buf[..n].contains(&key) {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!("no echo of {:?}", key as char);
            }
        }
        times.push(ms_between(start, now_ns()));
    }
    Ok(times)
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let samples = if ctx.quick { QUICK_SAMPLES } else { FULL_SAMPLES };
    let fx = Fixture::new(&ctx.bins)?;
    let echo = ctx.bins.child(&["echo"]);
    let (mut all_cr, mut all_bare) = (Vec::new(), Vec::new());
    let mut added_p99 = Vec::new();
    let mut details = vec![format!(
        "the child is `cr-bench child echo` (raw mode, writes back each byte); {samples} \
         keystrokes per contender per round, each after a random {}-{} ms pause; `cr` is linked \
         and one phone watches its session",
        GAP_MS.0, GAP_MS.1
    )];
    for round in 0..ctx.rounds {
        let mut bare = Vec::new();
        let mut cr = Vec::new();
        for k in 0..2 {
            if (round + k) % 2 == 0 {
                let mut t = Term::spawn(&Launch::new(echo.clone(), TERM_SIZE))?;
                bare = type_and_time(&mut t, samples)?;
            } else {
                let known = fx.session_ids()?;
                let mut t = Term::spawn(&fx.cr_running(echo.clone(), TERM_SIZE))?;
                let session = fx.new_session(&known)?;
                let (port, cookie) = (fx.relay.port, fx.cookie.clone());
                let phone = ctx.rt.spawn(async move {
                    let sse =
                        Sse::connect(port, &format!("/events?session={session}"), &cookie).await?;
                    sse.discard().await
                });
                cr = type_and_time(&mut t, samples).context("typing through cr")?;
                phone.abort();
            }
        }
        let (b, c) = (summarize(&bare).expect("samples"), summarize(&cr).expect("samples"));
        added_p99.push(c.p99 - b.p99);
        details.push(format!(
            "round {}: cr p50 {} p99 {}; bare p50 {} p99 {}; added p99 {}",
            round + 1,
            ms(c.p50),
            ms(c.p99),
            ms(b.p50),
            ms(b.p99),
            signed_ms(c.p99 - b.p99)
        ));
        all_cr.extend(cr);
        all_bare.extend(bare);
    }
    let (b, c) = (summarize(&all_bare).expect("samples"), summarize(&all_cr).expect("samples"));
    let added = c.p99 - b.p99;
    let (lo, hi) = range(&added_p99);
    let rows = vec![Row {
        what: "keystroke latency".into(),
        target: "≤ 0.2 ms added at p99".into(),
        measured: format!(
            "{} at p99, {} at p50 (cr {} / {}, bare PTY {} / {}, p50 / p99)",
            signed_ms(added),
            signed_ms(c.p50 - b.p50),
            ms(c.p50),
            ms(c.p99),
            ms(b.p50),
            ms(b.p99)
        ),
        spread: format!(
            "added p99 {}…{} over {} rounds of {samples}",
            signed_ms(lo),
            signed_ms(hi),
            ctx.rounds
        ),
        verdict: Verdict::of(added <= 0.2),
        peers: String::new(),
    }];
    Ok(Outcome { rows, details })
}
