//! `cr` against the real relay (`cr_server`, in this process on a loopback port): pairing,
//! the transcript surviving a relay killed mid-session and restarted, a prompt answered from
//! the API arriving as the right keys, the keyboard winning over a late phone answer, hook
//! prompts, the gap line after an overflow, and `cr qr`.

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::{Launch, Terminal, fake, relay::Relay, wait_until};
use cr::prompt::{HOOK_GRACE, PROMPT_SETTLE};
use serde_json::Value;

/// A relay, a paired `cr` config and an API token.
fn setup() -> (Relay, std::path::PathBuf, String, tempfile::TempDir) {
    let relay = Relay::start();
    let token = relay.api_token();
    let home = tempfile::tempdir().unwrap();
    let config = relay.pair(home.path());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    (relay, config, token, home)
}

fn session_id(relay: &Relay, token: &str) -> String {
    relay.session(token, None)
}

fn transcript(relay: &Relay, token: &str, session: &str) -> Vec<String> {
    let (_, v) = relay.http(
        token,
        "GET",
        &format!("/api/sessions/{session}/transcript?after=0&limit=100000"),
        None,
    );
    v.as_array()
        .map(|a| a.iter().map(|l| l["line"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

fn numbered(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("line "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn pending_prompt(relay: &Relay, token: &str, session: &str) -> Value {
    relay.pending_prompt(token, session)
}

fn start_cr(config: &Path) -> Terminal {
    Terminal::start(
        Launch::new(&["--no-hooks", "--", "python3", &fake("lines.py")])
            .env("CR_CONFIG", &config.to_string_lossy()),
    )
}

#[test]
fn relay_killed_and_restarted_loses_no_transcript_and_answers_arrive_as_keys() {
    let (mut relay, config, token, _home) = setup();
    let mut t = start_cr(&config);
    t.wait_text("line 0100");
    let session = session_id(&relay, &token);
    // 100 lines on a 24-row screen: at least 77 scrolled off.
    wait_until("the first transcript lines", || {
        numbered(&transcript(&relay, &token, &session)).len() >= 77
    });

    relay.kill();
    t.write(b"more 200\r");
    t.wait_text("line 0300");
    relay.up();
    // cr reconnects on its own and re-sends what the dead relay never stored.
    wait_until("the transcript after the restart", || {
        numbered(&transcript(&relay, &token, &session)).contains(&277)
    });
    let got = numbered(&transcript(&relay, &token, &session));
    let want: Vec<u32> = (1..=got.len() as u32).collect();
    assert_eq!(got, want, "every line exactly once, in order");

    // A [y/N] question becomes a prompt; approving it from the API types `y` + Enter.
    t.write(b"ask\r");
    t.wait_text("Proceed? [y/N]");
    let prompt = pending_prompt(&relay, &token, &session);
    assert_eq!(prompt["kind"], "confirm");
    assert_eq!(prompt["source"], "screen");
    let id = prompt["id"].as_str().unwrap();
    let (status, body) =
        relay.http(&token, "POST", &format!("/api/prompts/{id}/approve"), Some("{}"));
    assert_eq!(status, 200, "{body}");
    t.wait_text("GOT y");

    t.write(b"quit\r");
    assert_eq!(t.wait_exit(), 0);
    wait_until("the session to end", || {
        let (_, v) = relay.http(&token, "GET", &format!("/api/sessions/{session}"), None);
        v["status"] == "ended" && v["exit_code"] == 0
    });
}

#[test]
fn the_keyboard_answers_first_and_a_late_phone_answer_gets_409() {
    let (relay, config, token, _home) = setup();
    let mut t = start_cr(&config);
    t.wait_text("line 0100");
    let session = session_id(&relay, &token);
    t.write(b"ask\r");
    let prompt = pending_prompt(&relay, &token, &session);
    let id = prompt["id"].as_str().unwrap().to_owned();
    t.write(b"n\r");
    t.wait_text("GOT n");
    // The prompt closed as answered at the keyboard (or closes now, when cr sees the late
    // answer against a screen without the question); the phone's approve is refused.
    let (status, body) =
        relay.http(&token, "POST", &format!("/api/prompts/{id}/approve"), Some("{}"));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], "resolved_locally", "{body}");
    assert_eq!(body["by"], "terminal");
    t.write(b"quit\r");
    assert_eq!(t.wait_exit(), 0);
    assert!(!t.text().contains("GOT y"), "the late answer was never typed");
}

#[test]
fn claude_hook_prompts_become_one_card_and_phone_answers_become_decisions() {
    let (relay, config, token, home) = setup();
    // A `claude` on PATH that drives cr's hooks like Claude Code does.
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(fake("claude_hooks.py"), bin.join("claude")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let t = Terminal::start(
        Launch::new(&["--", "claude"])
            .env("CR_CONFIG", &config.to_string_lossy())
            .env("PATH", &path),
    );
    t.wait_text("npm install left-pad");
    let session = session_id(&relay, &token);
    let prompt = pending_prompt(&relay, &token, &session);
    assert_eq!((prompt["source"].as_str(), prompt["kind"].as_str()), (Some("hook"), Some("tool")));
    assert_eq!(prompt["body"], "npm install left-pad\n# Install a package");
    // The same dialog is on screen: past the settle and hook grace times it still is one card.
    // Absence cannot be awaited: give a second card every chance to appear.
    std::thread::sleep(PROMPT_SETTLE + HOOK_GRACE + Duration::from_millis(700));
    let all = relay.all_prompts(&session);
    assert_eq!(all.len(), 1, "one dialog, one card: {all:?}");

    let id = prompt["id"].as_str().unwrap();
    let (status, body) = relay.http(
        &token,
        "POST",
        &format!("/api/prompts/{id}/approve"),
        Some(r#"{"always":true}"#),
    );
    assert_eq!(status, 200, "{body}");
    t.wait_text("DECISION allow rule=npm install *");

    t.wait_text("npm install right-pad");
    let prompt = pending_prompt(&relay, &token, &session);
    let id = prompt["id"].as_str().unwrap();
    let (status, body) = relay.http(
        &token,
        "POST",
        &format!("/api/prompts/{id}/reject"),
        Some(r#"{"message":"use yarn"}"#),
    );
    assert_eq!(status, 200, "{body}");
    t.wait_text("DECISION deny message=use yarn");
    t.wait_text("FAKE CLAUDE DONE");
}

#[test]
fn cr_qr_prints_a_one_time_login_link() {
    let (relay, config, _token, home) = setup();
    let out = Command::new(env!("CARGO_BIN_EXE_cr"))
        .arg("qr")
        .env("CR_CONFIG", &config)
        .env("XDG_STATE_HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "cr qr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let url =
        text.lines().find_map(|l| l.strip_prefix("Scan with the phone, or open: ")).expect(&text);
    assert!(url.starts_with(&format!("{}/login#", relay.url())), "{url}");
    assert!(text.contains('▀') || text.contains('▄'), "a QR code is drawn");
    // The token logs a phone in once.
    let token = url.rsplit_once('#').unwrap().1;
    let body = format!(r#"{{"token":"{token}"}}"#);
    assert_eq!(relay.http("", "POST", "/api/login", Some(&body)).0, 200);
    assert_ne!(relay.http("", "POST", "/api/login", Some(&body)).0, 200);
}

/// `claude` on PATH as the fake `name` (from `tests/fake/`), for `cr -- claude`.
fn fake_claude(home: &Path, name: &str) -> String {
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(fake(name), bin.join("claude")).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// Waits until the relay has the prompt `id` closed with `status` by `by`.
fn wait_closed(relay: &Relay, session: &str, id: &str, status: &str, by: &str) {
    wait_until(&format!("prompt {id} to close {status} by {by}"), || {
        relay
            .all_prompts(session)
            .iter()
            .any(|p| p["id"] == id && p["status"] == status && p["by"] == by)
    });
}

#[test]
fn hook_prompts_answered_elsewhere_close_as_resolved_locally_and_release_the_hook() {
    let (relay, config, token, home) = setup();
    let path = fake_claude(home.path(), "claude_local.py");
    let mut t = Terminal::start(
        Launch::new(&["--", "claude"])
            .env("CR_CONFIG", &config.to_string_lossy())
            .env("PATH", &path),
    );
    let session = session_id(&relay, &token);
    t.wait_text("READY");

    // The dialog leaves the screen (answered at the keyboard): the hook prompt closes, and the
    // hook call Claude Code left waiting returns at once with no decision.
    t.write(b"a");
    let first = relay.pending_prompt(&token, &session);
    assert_eq!(
        (first["source"].as_str(), first["body"].as_str()),
        (Some("hook"), Some("echo 1\n# Print a number"))
    );
    t.wait_log("its dialog is on screen");
    t.write(b"c");
    t.wait_text("HOOK 1 RETURNED {}");
    wait_closed(&relay, &session, first["id"].as_str().unwrap(), "resolved_locally", "terminal");

    // A hook prompt whose dialog never showed is closed by the state hooks that mean Claude
    // is past it: PostToolUse of the same call, Stop, UserPromptSubmit.
    for (n, key) in [(2, b"p"), (3, b"s"), (4, b"u")] {
        t.write(b"h");
        let mut id = String::new();
        wait_until(&format!("hook prompt {n}"), || {
            let all = relay.all_prompts(&session);
            match all.get(n - 1) {
                Some(p) if p["status"] == "pending" => {
                    id = p["id"].as_str().unwrap().to_owned();
                    true
                }
                _ => false,
            }
        });
        t.write(key);
        t.wait_text(&format!("HOOK {n} RETURNED {{}}"));
        wait_closed(&relay, &session, &id, "resolved_locally", "terminal");
    }
    t.write(b"q");
    assert_eq!(t.wait_exit(), 0);
    assert_eq!(relay.all_prompts(&session).len(), 4, "one card per request, no screen cards");
}

#[test]
fn a_full_screen_program_s_scrolled_rows_become_transcript_lines_once() {
    let (relay, config, token, _home) = setup();
    let mut t = Terminal::start(
        Launch::new(&["--no-hooks", "--", "python3", &fake("alt_scroll.py"), "60"])
            .env("CR_CONFIG", &config.to_string_lossy()),
    );
    let session = session_id(&relay, &token);
    t.wait_text("DRAWN");
    // 24 rows: 20 items stay in view, the other 40 left the top of the alternate screen.
    let want: Vec<String> =
        (1..=40).map(|i| format!("item {i:03} of the scrolling list")).collect();
    wait_until("the scrolled items in the transcript", || {
        relay.transcript(&session).iter().any(|l| l == &want[39])
    });
    let items: Vec<String> =
        relay.transcript(&session).into_iter().filter(|l| l.starts_with("item ")).collect();
    assert_eq!(items, want, "each row that left the view, once, in order");
    t.write(b"q");
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn lines_lost_to_an_overflow_while_the_relay_is_away_leave_one_gap_line() {
    let (mut relay, config, token, _home) = setup();
    relay.kill();
    // More transcript than cr keeps while unacknowledged (UPLINK_LIMIT_BYTES, 32 MiB counted
    // with a fixed cost per event): the oldest lines must go, and say so.
    let lines = 480_000;
    let script = format!("seq -f 'line %06g' 1 {lines}; echo WRITTEN; read x");
    let mut t = Terminal::start(
        Launch::new(&["--no-hooks", "--", "sh", "-c", &script])
            .env("CR_CONFIG", &config.to_string_lossy()),
    );
    t.wait_text("WRITTEN");
    relay.up();
    let session = session_id(&relay, &token);
    // 24 rows: all but the last 22 lines and WRITTEN scrolled off.
    let last = format!("line {:06}", lines - 22);
    wait_until("the newest lines after the relay came back", || {
        relay.transcript(&session).contains(&last)
    });
    let transcript = relay.transcript(&session);
    let gaps: Vec<&String> =
        transcript.iter().filter(|l| l.starts_with("[claude-remote:")).collect();
    assert_eq!(gaps.len(), 1, "one gap line: {gaps:?}");
    let lost: usize = gaps[0]
        .strip_prefix("[claude-remote: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the gap line says how many: {}", gaps[0]));
    assert_eq!(transcript.first(), Some(gaps[0]), "the oldest lines went");
    let kept: Vec<&String> = transcript.iter().filter(|l| l.starts_with("line ")).collect();
    assert!(lost > 0 && kept.len() + lost == lines - 22, "{lost} lost + {} kept", kept.len());
    let first_kept: usize = kept[0]["line ".len()..].parse().unwrap();
    assert_eq!(first_kept, lost + 1, "nothing lost after the gap");
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "in order, once each");
    t.write(b"\r");
    assert_eq!(t.wait_exit(), 0);
}
