//! Footprint: resident memory of an idle relay and of an idle `cr`, from `/proc/PID/status`.

use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::fixture::Fixture;
use crate::procfs;
use crate::pty::Term;
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::{Ctx, Outcome};

use super::TERM_SIZE;

/// How long things sit idle before memory is read.
const SETTLE: Duration = Duration::from_secs(3);

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let settle = if ctx.quick { Duration::from_millis(500) } else { SETTLE };
    let fx = Fixture::new(&ctx.bins)?;
    std::thread::sleep(settle);
    let fresh = procfs::memory(fx.relay.pid())?;
    let known = fx.session_ids()?;
    let mut term = Term::spawn(&fx.cr_running(ctx.bins.child(&["idle"]), TERM_SIZE))?;
    let _drain = term.drain()?;
    let session = fx.new_session(&known)?;
    let (port, cookie) = (fx.relay.port, fx.cookie.clone());
    let phone = ctx.rt.spawn(async move {
        let sse = Sse::connect(port, &format!("/events?session={session}"), &cookie).await?;
        sse.discard().await
    });
    std::thread::sleep(settle);
    let relay = procfs::memory(fx.relay.pid())?;
    let cr = procfs::memory(term.pid().context("cr has no pid")?)?;
    phone.abort();
    let details = vec![format!(
        "relay: {:.1} MB just started (peak {:.1} MB), {:.1} MB with one idle linked session and \
         one phone (peak {:.1} MB); cr: {:.1} MB linked, running an idle program (peak {:.1} MB)",
        mb(fresh.rss_kb),
        mb(fresh.hwm_kb),
        mb(relay.rss_kb),
        mb(relay.hwm_kb),
        mb(cr.rss_kb),
        mb(cr.hwm_kb)
    )];
    Ok(Outcome {
        rows: vec![
            Row {
                what: "footprint: idle relay".into(),
                target: "RSS ≤ 20 MB".into(),
                measured: format!(
                    "{:.1} MB with one linked session and a phone ({:.1} MB fresh)",
                    mb(relay.rss_kb),
                    mb(fresh.rss_kb)
                ),
                spread: format!("peak {:.1} MB", mb(relay.hwm_kb)),
                verdict: Verdict::of(mb(relay.rss_kb) <= 20.0),
                peers: String::new(),
            },
            Row {
                what: "footprint: idle cr".into(),
                target: "RSS ≤ 15 MB".into(),
                measured: format!("{:.1} MB", mb(cr.rss_kb)),
                spread: format!("peak {:.1} MB", mb(cr.hwm_kb)),
                verdict: Verdict::of(mb(cr.rss_kb) <= 15.0),
                peers: String::new(),
            },
        ],
        details,
    })
}
