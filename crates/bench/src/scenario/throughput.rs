//! Passthrough and phone throughput: `cat` of a big text file through `cr` (relay linked, one
//! phone subscribed), `script -qfec`, a bare PTY reader and the bare chain of
//! [`crate::floor`] (a forwarder, a hub and a phone reading TCP), side by side, rounds
//! interleaved.
//!
//! Every contender runs `sh -c 'printf READY; read _; exec cat FILE'` in a terminal the
//! harness drains, so start-up is outside the clock: the clock starts when the harness presses
//! Enter and stops at EOF on the terminal (every process holding it gone, all output read).
//! For `cr` a phone watches the session over SSE; the phone is done when its screen shows the
//! file's last line and it has received, as transcript lines, every line that scrolled off.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cr_proto::feed;

use super::{PhoneScreen, TERM_SIZE, ratio, text_file};
use crate::clock::{ms_between, now_ns};
use crate::fixture::Fixture;
use crate::floor::{self, Hub};
use crate::procfs;
use crate::pty::{Launch, Term};
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::stats::{median, range};
use crate::{Ctx, Outcome, progress};

/// The issue's file size.
const FULL_BYTES: u64 = 256 << 20;
/// The quick run's.
const QUICK_BYTES: u64 = 2 << 20;
/// Longest a contender may take, as a multiple of the bare reader's time (plus a floor).
const SLOWEST_FACTOR: u64 = 20;
/// How long the phone may still take after `cr` exited before the round counts as incomplete.
const PHONE_GRACE: Duration = Duration::from_secs(60);
/// A marker `cr` puts in the transcript when the phone's view skipped output.
const SKIPPED_MARKER: &str = "output skipped";
/// Part of the gap line the relay stores when `cr` dropped unacknowledged lines.
const GAP_MARKER: &str = "events were lost";

/// What the phone has seen so far.
#[derive(Debug, Default)]
struct PhoneProgress {
    /// Transcript lines 1..=contiguous all arrived.
    contiguous: u64,
    /// File lines that arrived out of order or twice.
    disorder: u64,
    /// Transcript lines received that are file lines.
    received: u64,
    /// `cr` reported skipping output for the phone.
    skipped: bool,
    /// `cr` dropped lines the relay had not acknowledged yet (a gap line arrived).
    gap: bool,
    /// When the screen first showed the last line.
    final_screen_ns: Option<u64>,
    /// When both conditions held.
    complete_ns: Option<u64>,
    error: Option<String>,
}

/// The 8-digit numbers of file lines in a `lines` event, in order.
fn line_numbers(data: &[u8]) -> impl Iterator<Item = Option<u64>> + '_ {
    const KEY: &[u8] = b"\"line\":\"";
    let mut i = 0;
    std::iter::from_fn(move || {
        let at = memchr::memmem::find(&data[i..], KEY)?;
        let start = i + at + KEY.len();
        i = start;
        let digits = data.get(start..start + 8)?;
        Some(
            digits
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| std::str::from_utf8(digits).ok()?.parse().ok())
                .flatten(),
        )
    })
}

async fn watch_phone(
    port: u16,
    session: String,
    cookie: String,
    last_line: u64,
    progress: Arc<Mutex<PhoneProgress>>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Result<()> {
    let mut sse = Sse::connect(port, &format!("/events?session={session}"), &cookie).await?;
    let mut ready = Some(ready);
    let mut phone = PhoneScreen::default();
    let last_tag = format!("{last_line:08}");
    while let Some(ev) = sse.next().await? {
        let mut p = progress.lock().expect("progress lock");
        if phone.apply(&ev)? {
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            let rows = phone.rows();
            if p.final_screen_ns.is_none() && rows.iter().any(|r| r.starts_with(&last_tag)) {
                p.final_screen_ns = Some(ev.recv_ns);
            }
        } else if ev.name == feed::LINES {
            // Searched as bytes: this phone shares the two cores with what it measures.
            let has = |marker: &str| memchr::memmem::find(&ev.data, marker.as_bytes()).is_some();
            p.skipped |= has(SKIPPED_MARKER);
            p.gap |= has(GAP_MARKER);
            for n in line_numbers(&ev.data).flatten() {
                p.received += 1;
                if n == p.contiguous + 1 {
                    p.contiguous = n;
                } else {
                    p.disorder += 1;
                }
            }
        }
        if p.complete_ns.is_none() && p.final_screen_ns.is_some() {
            // Lines still on the screen never scrolled off; everything above them must have.
            let first_on_screen = phone
                .rows()
                .iter()
                .filter_map(|r| r.get(..8)?.parse::<u64>().ok())
                .min()
                .unwrap_or(last_line);
            if p.contiguous + 1 >= first_on_screen {
                p.complete_ns = Some(ev.recv_ns);
            }
        }
    }
    Ok(())
}

fn wrapped(file: &std::path::Path) -> Vec<OsString> {
    let script = format!("printf READY; read _; exec cat '{}'", file.display());
    vec!["sh".into(), "-c".into(), script.into()]
}

/// One contender's round: (seconds to EOF, seconds of the last output byte).
fn timed(term: &mut Term, budget: Duration) -> Result<(u64, f64, f64)> {
    let drain = term.drain()?;
    drain.wait_for(0, "READY", Duration::from_secs(30))?;
    let start = now_ns();
    term.write(b"\r")?;
    let eof = drain.wait_eof(budget)?;
    let (bytes, last, _) = drain.progress();
    Ok((bytes, ms_between(start, eof) / 1e3, ms_between(start, last) / 1e3))
}

struct CrRound {
    exit_s: f64,
    last_byte_s: f64,
    phone_s: Option<f64>,
    final_screen_s: Option<f64>,
    progress: String,
}

fn cr_round(
    ctx: &Ctx,
    file: &std::path::Path,
    last_line: u64,
    budget: Duration,
) -> Result<CrRound> {
    let fx = Fixture::new(&ctx.bins)?;
    let known = fx.session_ids()?;
    let mut term = Term::spawn(&fx.cr_running(wrapped(file), TERM_SIZE))?;
    let drain = term.drain()?;
    drain.wait_for(0, "READY", Duration::from_secs(30))?;
    let session = fx.new_session(&known)?;
    let progress = Arc::new(Mutex::new(PhoneProgress::default()));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watcher = ctx.rt.spawn({
        let (port, cookie, p) = (fx.relay.port, fx.cookie.clone(), progress.clone());
        async move {
            if let Err(e) = watch_phone(port, session, cookie, last_line, p.clone(), ready_tx).await
            {
                p.lock().expect("progress lock").error = Some(format!("{e:#}"));
            }
        }
    });
    ctx.rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), ready_rx).await })
        .context("the phone got no screen")??;
    // Where the CPU goes: `cr` itself (not `cat`), the relay, and the harness (its drain of
    // the terminal, which every contender has, and the phone).
    let cr_cpu = procfs::CpuSampler::start(term.pid().context("cr has no process id")?);
    let (relay_pid, me) = (fx.relay.pid(), std::process::id());
    let (relay0, me0) = (procfs::cpu_secs(relay_pid)?, procfs::cpu_secs(me)?);
    let start = now_ns();
    term.write(b"\r")?;
    let eof = drain.wait_eof(budget)?;
    let (_, last, _) = drain.progress();
    let until = std::time::Instant::now() + PHONE_GRACE;
    loop {
        let p = progress.lock().expect("progress lock");
        if p.complete_ns.is_some() || p.error.is_some() || std::time::Instant::now() >= until {
            break;
        }
        drop(p);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (relay1, me1) = (procfs::cpu_secs(relay_pid)?, procfs::cpu_secs(me)?);
    let cr_cpu = cr_cpu.finish();
    watcher.abort();
    let p = progress.lock().expect("progress lock");
    if let Some(e) = &p.error {
        bail!("the phone failed: {e}");
    }
    Ok(CrRound {
        exit_s: ms_between(start, eof) / 1e3,
        last_byte_s: ms_between(start, last) / 1e3,
        phone_s: p.complete_ns.map(|t| ms_between(start, t) / 1e3),
        final_screen_s: p.final_screen_ns.map(|t| ms_between(start, t) / 1e3),
        progress: format!(
            "phone got {} file lines (contiguous to {}, {} out of order{}); CPU seconds: cr \
             {cr_cpu:.2}, relay {:.2}, harness {:.2}",
            p.received,
            p.contiguous,
            p.disorder,
            match (p.skipped, p.gap) {
                (true, true) => ", cr reported skipping output and a gap",
                (true, false) => ", cr reported skipping output",
                (false, true) =>
                    ", cr reported a gap: it dropped lines the relay had not acknowledged",
                (false, false) => "",
            },
            relay1 - relay0,
            me1 - me0,
        ),
    })
}

/// The bare chain's round ([`crate::floor`]): the same `cat` in a PTY owned by a forwarder
/// that copies each read to the terminal and to the hub, and one phone reading the hub over
/// TCP. Returns (seconds to EOF on the terminal, seconds until the phone had the last line).
fn bare_round(
    ctx: &Ctx,
    file: &std::path::Path,
    file_bytes: u64,
    last_line: u64,
    budget: Duration,
) -> Result<(f64, Option<f64>)> {
    let hub = Hub::start(&ctx.bins)?;
    let (mut term, drain) = hub.forward(&ctx.bins, TERM_SIZE, wrapped(file))?;
    let mut watcher = ctx.rt.block_on(async {
        let conn = floor::connect_phone(hub.port).await?;
        // The last line starts a line of the terminal's output: `\n` (after `\r`) and its number.
        let needle = format!("\n{last_line:08}").into_bytes();
        anyhow::Ok(tokio::spawn(async move {
            let (mut got, mut seen_last, mut done) = (0u64, false, None);
            let _ = floor::read_phone(conn, needle.len(), |data, n, recv_ns| {
                got += n as u64;
                seen_last |= memchr::memmem::find(data, &needle).is_some();
                if seen_last && got >= file_bytes {
                    done = Some(recv_ns);
                }
                done.is_some()
            })
            .await;
            done
        }))
    })?;
    let start = now_ns();
    term.write(b"\r")?;
    let eof = drain.wait_eof(budget)?;
    // The phone's read of the last line, if it comes within the grace after the terminal's end.
    let done = ctx
        .rt
        .block_on(async { tokio::time::timeout(PHONE_GRACE, &mut watcher).await })
        .ok()
        .and_then(Result::ok)
        .flatten();
    watcher.abort();
    let phone = done.map(|t| ms_between(start, t) / 1e3);
    Ok((ms_between(start, eof) / 1e3, phone))
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let bytes = if ctx.quick { QUICK_BYTES } else { FULL_BYTES };
    let dir = tempfile::Builder::new().prefix("cr-bench-file-").tempdir()?;
    let file = dir.path().join("text.txt");
    let lines = text_file(&file, bytes)?;
    let mib = bytes >> 20;
    let mut details = vec![format!(
        "{mib} MiB text file, {lines} numbered lines of 40-150 characters; terminal {}x{}; \
         each contender runs `sh -c 'printf READY; read _; exec cat FILE'`; the clock runs from \
         Enter to EOF on the harness's terminal",
        TERM_SIZE.0, TERM_SIZE.1
    )];
    let (mut bare, mut script, mut cr, mut phone) = (vec![], vec![], vec![], vec![]);
    let (mut cr_ratio, mut phone_ratio) = (vec![], vec![]);
    // The bare chain: terminal and phone, as ratios to `script`.
    let (mut chain_ratio, mut chain_phone_ratio) = (vec![], vec![]);
    let mut incomplete = 0;
    for round in 0..ctx.rounds {
        let mut times = [0.0f64; 4];
        let mut cr_round_result = None;
        let mut chain_phone = None;
        // Rotate the order so no contender always runs first (warm caches, busy neighbours).
        for k in 0..4 {
            let which = (round + k) % 4;
            let budget = Duration::from_secs(
                (bare.first().copied().unwrap_or(10.0) as u64 + 1) * SLOWEST_FACTOR,
            );
            match which {
                0 => {
                    let mut t = Term::spawn(&Launch::new(wrapped(&file), TERM_SIZE))?;
                    times[0] = timed(&mut t, budget)?.1;
                }
                1 => {
                    let cmd = wrapped(&file)[2].to_string_lossy().into_owned();
                    let argv = ["script", "-qfec", &format!("sh -c \"{cmd}\""), "/dev/null"];
                    let mut t = Term::spawn(&Launch::new(argv, TERM_SIZE))?;
                    times[1] = timed(&mut t, budget)?.1;
                }
                2 => {
                    let r = cr_round(ctx, &file, lines, budget)?;
                    times[2] = r.exit_s;
                    cr_round_result = Some(r);
                }
                _ => {
                    let (t, p) = bare_round(ctx, &file, bytes, lines, budget)?;
                    times[3] = t;
                    chain_phone = p;
                }
            }
        }
        let r = cr_round_result.expect("cr ran");
        bare.push(times[0]);
        script.push(times[1]);
        cr.push(times[2]);
        cr_ratio.push(times[2] / times[1]);
        chain_ratio.push(times[3] / times[1]);
        if let Some(p) = chain_phone {
            chain_phone_ratio.push(p / times[1]);
        }
        match r.phone_s {
            Some(p) => {
                phone.push(p);
                phone_ratio.push(p / times[1]);
            }
            None => incomplete += 1,
        }
        let line = format!(
            "round {}: bare {:.2} s, script {:.2} s, bare chain {:.2} s (its phone {}), cr {:.2} s \
             (last byte {:.2} s), phone {} (final screen {}); {}",
            round + 1,
            times[0],
            times[1],
            times[3],
            chain_phone.map_or("incomplete".into(), |p| format!("{p:.2} s")),
            times[2],
            r.last_byte_s,
            r.phone_s.map_or("incomplete".into(), |p| format!("{p:.2} s")),
            r.final_screen_s.map_or("never".into(), |p| format!("{p:.2} s")),
            r.progress
        );
        progress(&line);
        details.push(line);
    }
    let (lo, hi) = range(&cr_ratio);
    let mb_s = |s: f64| bytes as f64 / s / 1e6;
    let mut rows = vec![Row {
        what: "passthrough throughput".into(),
        target: "≤ 1.1 × script".into(),
        measured: format!(
            "{} (cr {:.2} s, script {:.2} s = {:.0} MB/s, bare PTY {:.2} s); the bare chain {}",
            ratio(median(&cr_ratio)),
            median(&cr),
            median(&script),
            mb_s(median(&script)),
            median(&bare),
            ratio(median(&chain_ratio)),
        ),
        spread: format!("{}–{} over {} rounds", ratio(lo), ratio(hi), ctx.rounds),
        verdict: Verdict::of(median(&cr_ratio) <= 1.1),
        peers: String::new(),
    }];
    let peers = "ttyd 1.21×, sshx 1.91×".to_owned();
    if phone.is_empty() {
        rows.push(Row {
            what: "phone throughput".into(),
            target: "≤ 1.2 × script".into(),
            measured: "the phone never had every line (see details)".into(),
            spread: format!("{incomplete} of {} rounds incomplete", ctx.rounds),
            verdict: Verdict::Fail,
            peers,
        });
    } else {
        let (lo, hi) = range(&phone_ratio);
        rows.push(Row {
            what: "phone throughput".into(),
            target: "≤ 1.2 × script".into(),
            measured: format!(
                "{} ({:.2} s); the bare chain's phone {}",
                ratio(median(&phone_ratio)),
                median(&phone),
                if chain_phone_ratio.is_empty() {
                    "never had the last line".to_owned()
                } else {
                    ratio(median(&chain_phone_ratio))
                }
            ),
            spread: format!(
                "{}–{}{}",
                ratio(lo),
                ratio(hi),
                if incomplete > 0 {
                    format!("; {incomplete} rounds incomplete")
                } else {
                    String::new()
                }
            ),
            verdict: Verdict::of(incomplete == 0 && median(&phone_ratio) <= 1.2),
            peers,
        });
    }
    Ok(Outcome { rows, details })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_come_from_line_fields() {
        let data = br#"[{"seq":1,"at":"x","line":"00000007 words"},{"seq":2,"at":"x","line":"READY"},{"seq":3,"at":"x","line":"00000008"}]"#;
        let got: Vec<_> = line_numbers(data).collect();
        assert_eq!(got, [Some(7), None, Some(8)]);
    }
}
