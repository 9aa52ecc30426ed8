//! Store: transcript lines written, batched. A device speaking the real link protocol sends
//! `events` frames of lines as `cr` does (about 256 KiB each, several in flight) and the clock
//! runs until the relay acknowledged the last one, which it does only after the commit.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cr_proto::{Event, Numbered, SessionId, SessionMeta, Timestamp, Uplink};

use super::Lines;
use crate::clock::{ms_between, now_ns};
use crate::fakelink;
use crate::fixture::Fixture;
use crate::report::{Row, Verdict};
use crate::stats::{median, range};
use crate::{Ctx, Outcome, progress};

/// Lines per round.
const FULL_LINES: u64 = 1_000_000;
/// In a quick run.
const QUICK_LINES: u64 = 20_000;
/// Lines per frame: `cr` batches up to 256 KiB of estimated size (80 bytes of overhead plus
/// the text, ~95 characters on average here).
const FRAME_LINES: u64 = 1500;
/// Lines sent but not yet acknowledged, at most: `cr`'s queue holds 32 MiB.
const WINDOW_LINES: u64 = 192_000;

/// One round: lines per second.
fn round(ctx: &Ctx, fx: &Fixture, lines: u64) -> Result<f64> {
    let (device, secret) = fx.relay.pair_device("bench-store")?;
    // Serialize every frame before the clock starts: the harness shares the machine.
    let mut text = Lines::default();
    let mut frames = Vec::new();
    let mut seq = 0;
    while seq < lines {
        let n = FRAME_LINES.min(lines - seq);
        // As `cr` sends them: lines that scrolled off together are one `lines` event.
        let run = Numbered {
            seq: seq + 1,
            event: Event::Lines {
                at: Timestamp(1_700_000_000_000),
                lines: (&mut text).take(n as usize).collect(),
            },
        };
        seq += n;
        frames.push((seq, serde_json::to_vec(&Uplink::Events { events: vec![run] })?));
    }
    let meta = SessionMeta {
        id: SessionId::new(format!("bench{}", now_ns())).expect("valid id"),
        name: "store".into(),
        command: "bench".into(),
        cwd: "/".into(),
        started_at: Timestamp(1_700_000_000_000),
    };
    ctx.rt.block_on(async {
        let (mut tx, mut rx, acked) =
            fakelink::connect(fx.relay.port, &device, &secret, meta).await?;
        if acked != 0 {
            bail!("a new session has acked {acked}");
        }
        let (ack_tx, mut ack_rx) = tokio::sync::watch::channel(0u64);
        let receiver = tokio::spawn(async move {
            loop {
                if let cr_proto::Downlink::Ack { seq } = rx.recv().await? {
                    let _ = ack_tx.send(seq);
                    if seq >= lines {
                        return anyhow::Ok(());
                    }
                }
            }
        });
        let start = now_ns();
        for (last, json) in &frames {
            let needed = last.saturating_sub(WINDOW_LINES);
            if *ack_rx.borrow() < needed {
                ack_rx.wait_for(|a| *a >= needed).await.context("acks stopped")?;
            }
            tx.send_json(json).await?;
        }
        tokio::time::timeout(Duration::from_secs(600), receiver)
            .await
            .context("the relay did not acknowledge every line")???;
        Ok(lines as f64 / (ms_between(start, now_ns()) / 1e3))
    })
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let lines = if ctx.quick { QUICK_LINES } else { FULL_LINES };
    let mut rates = Vec::new();
    let mut details = vec![format!(
        "{lines} transcript lines of 40-150 characters per round, {FRAME_LINES} per `events` \
         frame, up to {WINDOW_LINES} unacknowledged; a fresh relay and database per round"
    )];
    for r in 0..ctx.rounds {
        let fx = Fixture::new(&ctx.bins)?;
        let rate = round(ctx, &fx, lines)?;
        let line = format!("round {}: {:.0} lines/s", r + 1, rate);
        progress(&line);
        details.push(line);
        rates.push(rate);
    }
    let (lo, hi) = range(&rates);
    Ok(Outcome {
        rows: vec![Row {
            what: "store".into(),
            target: "≥ 200,000 lines/s".into(),
            measured: format!("{:.0} lines/s", median(&rates)),
            spread: format!("{lo:.0}…{hi:.0} over {} rounds", ctx.rounds),
            verdict: Verdict::of(median(&rates) >= 200_000.0),
            peers: String::new(),
        }],
        details,
    })
}
