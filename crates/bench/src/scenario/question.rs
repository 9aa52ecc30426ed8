//! Question → phone and answer → program, for both kinds of prompt:
//!
//! - hook: `cr` runs a stand-in `claude` that calls the `PermissionRequest` hook the way Claude
//!   Code does (an `http` hook POSTed to `cr`, or the `cr hook` command through `/bin/sh -c`);
//!   from the call until the phone's `prompt` event, and from the phone's `POST …/approve`
//!   until the hook returned. Claude Code keeps its `http` hook's connection alive for 5 s
//!   ([`child::HOOK_KEEP_ALIVE`]), so the `http` rounds run twice: a new connection per call
//!   (a call more than 5 s after the last, which the verdict is on) and one kept alive.
//! - screen: `cr --no-hooks` runs a program that asks `[y/N]`; from drawing the question until
//!   the `prompt` event (the dialog must settle first), and from the `POST …/approve` until the
//!   first key of the answer reaches the program.
//!
//! The phone answers each prompt half a second after it sees it, as a person reading the card
//! would (`READ_DELAY`).

use std::ffi::OsString;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cr_proto::feed;

use super::{TERM_SIZE, ms};
use crate::child::{self, Connection, read_log, stamps_of};
use crate::clock::ms_between;
use crate::fixture::Fixture;
use crate::http;
use crate::pty::Term;
use crate::report::{Row, Verdict};
use crate::sse::Sse;
use crate::stats::{range, summarize};
use crate::{Ctx, Outcome};

/// Hook prompts per round.
const FULL_HOOKS: u64 = 20;
/// Screen prompts per round (each waits for the dialog to settle, and for the typed answer to
/// be verified, so they are slower).
const FULL_SCREENS: u64 = 8;
/// In a quick run, of each.
const QUICK_COUNT: u64 = 2;
/// Pause before each hook call, ms.
const HOOK_PAUSE_MS: (u64, u64) = (100, 200);
/// Pause before each question, ms: longer than typing and verifying an answer takes, so the
/// next question never lands while `cr` still checks the last one closed.
const ASK_PAUSE_MS: (u64, u64) = (900, 1200);

/// How long the phone looks at a card before answering, like a person reading it. `cr` holds
/// the keys of a screen answer until the dialog has been still for 300 ms (a dialog still
/// being drawn may drop them, research/claude-code.md §2 hazard 4); a person never answers
/// that fast, so the answer path is measured as people use it, not the hold.
const READ_DELAY: Duration = Duration::from_millis(500);

/// What the phone did for one prompt.
#[derive(Debug, Clone)]
struct Answered {
    body: String,
    seen_ns: u64,
    post_ns: u64,
    status: u16,
}

/// Watches the session and approves every prompt as soon as it arrives, until `count`.
/// `ready` fires with the first screen: the phone is subscribed.
async fn approve_all(
    port: u16,
    session: String,
    cookie: String,
    count: u64,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Result<Vec<Answered>> {
    let mut sse = Sse::connect(port, &format!("/events?session={session}"), &cookie).await?;
    let mut conn = http::KeepAlive::connect(port).await?;
    let mut ready = Some(ready);
    let mut out = Vec::new();
    while (out.len() as u64) < count {
        let Some(ev) = sse.next().await? else { bail!("the event stream ended") };
        if ev.name == feed::SCREEN
            && let Some(r) = ready.take()
        {
            let _ = r.send(());
        }
        if ev.name != feed::PROMPT {
            continue;
        }
        let prompt: serde_json::Value = serde_json::from_slice(&ev.data)?;
        let id = prompt["id"].as_str().context("prompt without id")?;
        tokio::time::sleep(READ_DELAY).await;
        let (resp, post_ns) = conn
            .request_timed("POST", &format!("/api/prompts/{id}/approve"), Some(&cookie), Some("{}"))
            .await?;
        out.push(Answered {
            body: prompt["body"].as_str().unwrap_or("").to_owned(),
            seen_ns: ev.recv_ns,
            post_ns,
            status: resp.status,
        });
    }
    Ok(out)
}

/// (question → phone, answer → program) in ms, per prompt.
type Pairs = Vec<(f64, f64)>;

/// Where a child stamps its questions and answers, and how a prompt names its question.
struct Probe<'a> {
    log: &'a std::path::Path,
    asked: &'static str,
    answered: &'static str,
    tag: fn(u64) -> String,
    /// What the child must log as the answer it got: the phone's approval, nothing else.
    approved: &'static str,
}

fn run_child(
    ctx: &Ctx,
    fx: &Fixture,
    launch: crate::pty::Launch,
    count: u64,
    probe: &Probe<'_>,
) -> Result<Pairs> {
    let known = fx.session_ids()?;
    let mut term = Term::spawn(&launch)?;
    let drain = term.drain()?;
    drain.wait_for(0, child::READY, Duration::from_secs(30))?;
    let session = fx.new_session(&known)?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let phone =
        ctx.rt.spawn(approve_all(fx.relay.port, session, fx.cookie.clone(), count, ready_tx));
    ctx.rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), ready_rx).await })
        .context("the phone got no screen")??;
    term.write(b"\r")?;
    let answers = ctx
        .rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(60 + 5 * count), phone).await })
        .context("the phone did not get every prompt in time")???;
    term.wait(Duration::from_secs(30)).context("the child did not finish")?;
    let stamps = read_log(probe.log)?;
    let (asked, answered) = (stamps_of(&stamps, probe.asked), stamps_of(&stamps, probe.answered));
    let mut pairs = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        let seq = i as u64 + 1;
        if !a.body.contains(&(probe.tag)(seq)) {
            bail!("prompt {seq} is not the one asked: {:?}", a.body);
        }
        if a.status != 200 {
            bail!("approving prompt {seq} gave HTTP {}", a.status);
        }
        let (q, r) = (asked.get(&seq), answered.get(&seq));
        let (Some(q), Some(r)) = (q, r) else { bail!("the child did not log prompt {seq}") };
        // The child's answer must be the phone's: the approval, arriving after the POST.
        if r.detail != probe.approved || r.ns < a.post_ns {
            bail!(
                "prompt {seq} was answered {:?} {} ms after the phone's POST, not by the phone",
                r.detail,
                ms_between(a.post_ns, r.ns)
            );
        }
        pairs.push((ms_between(q.ns, a.seen_ns), ms_between(a.post_ns, r.ns)));
    }
    Ok(pairs)
}

/// Wall time of `/bin/sh -c 'CR --version'` from spawn to exit, `n` times, in ms: what
/// starting a hook command costs here before it does anything.
fn process_starts(cr: &std::path::Path, n: usize) -> Result<Vec<f64>> {
    let command = format!("'{}' --version", cr.display());
    (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            let out = std::process::Command::new("/bin/sh").args(["-c", &command]).output()?;
            anyhow::ensure!(out.status.success(), "{command} failed");
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

/// One round of hook prompts; `transport` is what `cr --hook-transport` gets: `http` as
/// Claude Code 2.1.112 and later use, `command` (`cr hook` run through `/bin/sh -c`) as 2.0.x.
/// `connection` is the stand-in's to an `http` hook: a new one per call, or one kept alive.
fn hook_round(
    ctx: &Ctx,
    fx: &Fixture,
    count: u64,
    transport: &str,
    connection: Connection,
) -> Result<Pairs> {
    let bin = fx.dir.path().join("bin");
    std::fs::create_dir_all(&bin)?;
    let claude = bin.join("claude");
    if !claude.exists() {
        std::os::unix::fs::symlink(&ctx.bins.bench, &claude)?;
    }
    let log = fx.dir.path().join(format!("hooks-{}.log", crate::clock::now_ns()));
    let mut args: Vec<OsString> = vec!["--".into(), "claude".into()];
    args.extend(
        child::claude_args(count, &log, HOOK_PAUSE_MS, connection).into_iter().map(OsString::from),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let launch = fx.cr(args, TERM_SIZE).env("PATH", path).env("CR_HOOK_TRANSPORT", transport);
    let probe = Probe {
        log: &log,
        asked: "hook",
        answered: "returned",
        tag: |s| format!("bench {s}\n"),
        approved: "allow",
    };
    run_child(ctx, fx, launch, count, &probe)
}

fn screen_round(ctx: &Ctx, fx: &Fixture, count: u64) -> Result<Pairs> {
    let log = fx.dir.path().join(format!("ask-{}.log", crate::clock::now_ns()));
    let child = ctx.bins.child(&[
        "ask",
        "--count",
        &count.to_string(),
        "--pause-min-ms",
        &ASK_PAUSE_MS.0.to_string(),
        "--pause-max-ms",
        &ASK_PAUSE_MS.1.to_string(),
        "--log",
        &log.to_string_lossy(),
    ]);
    let probe = Probe {
        log: &log,
        asked: "asked",
        answered: "got",
        tag: |s| format!("Step {s}:"),
        approved: "y",
    };
    run_child(ctx, fx, fx.cr_running(child, TERM_SIZE), count, &probe)
}

/// Runs the scenario.
pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (hooks, screens) =
        if ctx.quick { (QUICK_COUNT, QUICK_COUNT) } else { (FULL_HOOKS, FULL_SCREENS) };
    let fx = Fixture::new(&ctx.bins)?;
    let mut details = vec![format!(
        "per round {hooks} hook prompts in each of three ways and {screens} `[y/N]` screen \
         prompts. The stand-in `claude` reads the `--settings` `cr` gives it and calls the \
         `PermissionRequest` hook as Claude Code does: as an `http` hook POSTing to `cr` \
         (2.1.112 and later; the table's hook rows) on a new connection per call (Claude \
         Code's after 5 s without a call) and on one connection kept alive (a call within 5 s \
         of the last reuses it), and as the `cr hook` command through `/bin/sh -c` (2.0.x). \
         The phone approves each prompt {} ms after its `prompt` event \
         arrives (a person reading the card), and each answer is checked to be that approval",
        READ_DELAY.as_millis()
    )];
    const KINDS: [&str; 4] =
        ["hook (http, new connection)", "hook (http, kept-alive)", "screen", "hook (command)"];
    let mut all: [Pairs; 4] = Default::default();
    let mut per_round: [Vec<[f64; 2]>; 4] = Default::default();
    for r in 0..ctx.rounds {
        let got = [
            hook_round(ctx, &fx, hooks, "http", Connection::Fresh)?,
            hook_round(ctx, &fx, hooks, "http", Connection::Kept)?,
            screen_round(ctx, &fx, screens)?,
            hook_round(ctx, &fx, hooks, "command", Connection::Fresh)?,
        ];
        for (which, pairs) in got.into_iter().enumerate() {
            let q = summarize(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()).expect("samples");
            let a = summarize(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()).expect("samples");
            per_round[which].push([q.p50, a.p50]);
            details.push(format!(
                "round {} {}: question → phone p50 {} p99 {}; answer → program p50 {} p99 {}",
                r + 1,
                KINDS[which],
                ms(q.p50),
                ms(q.p99),
                ms(a.p50),
                ms(a.p99)
            ));
            all[which].extend(pairs);
        }
    }
    let [hook_all, kept_all, screen_all, command_all] = all;
    let starts = process_starts(&ctx.bins.cr, if ctx.quick { 5 } else { 200 })?;
    let st = summarize(&starts).expect("samples");
    details.push(format!(
        "for scale: running `/bin/sh -c 'cr --version'` to its exit takes p50 {} p99 {} on this \
         machine (n = {}); with the `cr hook` command a question pays one such process start \
         before `cr hook` can say anything, and an answer one exit",
        ms(st.p50),
        ms(st.p99),
        starts.len()
    ));
    let col = |p: &Pairs, i: usize| -> Vec<f64> {
        p.iter().map(|x| if i == 0 { x.0 } else { x.1 }).collect()
    };
    let spread = |rounds: &[[f64; 2]], i: usize| {
        let (lo, hi) = range(&rounds.iter().map(|x| x[i]).collect::<Vec<_>>());
        format!("p50 {}…{} over {} rounds", ms(lo), ms(hi), rounds.len())
    };
    let row = |what: &str, target: &str, samples: Vec<f64>, limit: f64, spread: String| {
        let s = summarize(&samples).expect("samples");
        Row {
            what: what.into(),
            target: target.into(),
            measured: format!("p50 {}, p99 {} (n = {})", ms(s.p50), ms(s.p99), s.n),
            spread,
            verdict: Verdict::of(s.p50 <= limit),
            peers: String::new(),
        }
    };
    let mut rows = vec![
        row(
            "question → phone, hook",
            "p50 ≤ 1 ms",
            col(&hook_all, 0),
            1.0,
            spread(&per_round[0], 0),
        ),
        row(
            "question → phone, screen",
            "p50 ≤ 50 ms (it must settle)",
            col(&screen_all, 0),
            50.0,
            spread(&per_round[2], 0),
        ),
        row(
            "answer → program, hook",
            "p50 ≤ 1 ms (POST until the hook returns)",
            col(&hook_all, 1),
            1.0,
            spread(&per_round[0], 1),
        ),
        row(
            "answer → program, keys",
            "p50 ≤ 1 ms (POST until the key reaches the PTY)",
            col(&screen_all, 1),
            1.0,
            spread(&per_round[2], 1),
        ),
    ];
    // The verdict is on a new connection per call, what Claude Code 2.1.x makes when the last
    // call is 5 s past (the usual case: a person answers, the tool runs, the model thinks);
    // a call sooner reuses the connection, and skips connecting and accepting.
    let kept = summarize(&col(&kept_all, 0)).expect("samples");
    rows[0].measured = format!(
        "{} on a new connection; p50 {}, p99 {} on a kept-alive one (a call within 5 s of the last)",
        rows[0].measured,
        ms(kept.p50),
        ms(kept.p99)
    );
    // The same rows for 2.0.x, whose hook is a process: the table says what it measured and
    // what a process start alone costs here, so they read against each other.
    for (row, i) in [(0, 0), (2, 1)] {
        let c = summarize(&col(&command_all, i)).expect("samples");
        rows[row].measured = format!(
            "{}; with the `cr hook` command (Claude Code 2.0.x) p50 {} (running a process \
             alone: p50 {})",
            rows[row].measured,
            ms(c.p50),
            ms(st.p50)
        );
    }
    Ok(Outcome { rows, details })
}
