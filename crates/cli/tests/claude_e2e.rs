//! End to end with the real Claude Code: the real `cr` binary in a PTY runs the real `claude`
//! (2.0.76, 2.1.112, and 2.1.329 in both renderers) against the lab's mock Messages API, linked
//! to the real relay on loopback; the test answers through the relay's API like a phone does.
//!
//! For each version, three sessions on one relay:
//! 1. hooks on, folder not yet trusted: the trust dialog (which no hook can answer) becomes a
//!    card and is answered from the phone by keys; then a Bash call is one card and approving
//!    it runs the command; rejecting with a message does not run it and Claude gets the
//!    message; answering at the keyboard first makes the phone's approve get 409 and the
//!    waiting hook call return; an AskUserQuestion is answered from the phone; what scrolled
//!    off the screen is in the transcript;
//! 2. `--no-hooks`: approve, reject with a message and keyboard-first again, all typed as keys;
//! 3. plan mode: the plan approval is answered from the phone.
//!
//! A missing Claude Code or node fails these tests (see `common::claude`).

#![allow(clippy::print_stderr)]

mod common;

use std::path::Path;

use common::{
    claude::{Claude, ClaudeRun, Mock, Renderer, available, wait_long},
    relay::Relay,
};
use serde_json::Value;

/// One relay, one paired `cr` config, one API token, one mock, for one version's sessions.
struct Lab {
    relay: Relay,
    token: String,
    config: std::path::PathBuf,
    mock: Mock,
    _home: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let relay = Relay::start();
        let token = relay.api_token();
        let home = tempfile::tempdir().unwrap();
        let config = relay.pair(home.path());
        Self { relay, token, config, mock: Mock::start(), _home: home }
    }

    fn claude(&self, version: &'static str, renderer: Renderer) -> Claude<'_> {
        Claude {
            version,
            renderer,
            mode: None,
            hooks: true,
            trusted: true,
            cr_config: &self.config,
            mock: &self.mock,
        }
    }
}

/// One `cr -- claude` session as the test drives it.
struct Session<'a> {
    lab: &'a Lab,
    run: ClaudeRun,
    id: String,
    label: String,
    /// Prompts the relay has for this session so far, counted by the test.
    prompts: usize,
}

impl<'a> Session<'a> {
    fn start(lab: &'a Lab, claude: &Claude<'_>, label: &str) -> Self {
        eprintln!("[{label}] starting");
        let run = claude.start(label);
        let id = lab.relay.session(&lab.token, Some(label));
        Self { lab, run, id, label: label.to_owned(), prompts: 0 }
    }

    fn say_step(&self, what: &str) {
        eprintln!("[{}] {what}", self.label);
    }

    /// The screen as the relay has it (no-break spaces as spaces).
    fn screen(&self) -> String {
        let path = format!("/api/sessions/{}/text", self.id);
        self.lab.relay.http_text(&self.lab.token, "GET", &path, None).1.replace('\u{a0}', " ")
    }

    fn context(&self) -> String {
        format!(
            "[{}] the relay's screen:\n{}\nprompts: {:?}\ntranscript: {:#?}\ncr's log:\n{}",
            self.label,
            self.screen(),
            self.lab.relay.all_prompts(&self.id),
            self.lab.relay.transcript(&self.id),
            self.run.t.log(),
        )
    }

    fn wait(&self, what: &str, f: impl FnMut() -> bool) {
        wait_long(what, f, || self.context());
    }

    fn wait_screen(&self, needle: &str) {
        self.wait(&format!("{needle:?} on screen"), || self.screen().contains(needle));
    }

    /// Claude Code waits for input: its footer shows, and no dialog, no spinner (`✻
    /// Seasoning… (running Stop hook)`), no text left in the input box.
    fn wait_idle(&self) {
        self.wait("Claude Code to wait for input", || {
            let s = self.screen();
            (s.contains("for shortcuts") || s.contains("mode on"))
                && !s.contains("Esc to cancel")
                && !s.contains("esc to interrupt")
                && !s.lines().any(busy)
        });
    }

    /// Types a line into Claude Code as a user does: the text, then Enter as its own write
    /// once the text shows (text and Enter in one write is a paste to 2.0.76).
    fn say(&mut self, text: &str) {
        self.wait_idle();
        self.run.t.write(text.as_bytes());
        let shown: String = text.chars().take(40).collect();
        self.wait_screen(&shown);
        // Enter goes as a write of its own (2.0.76 takes text + Enter in one read as a paste).
        // On a loaded machine the end of the text can still reach Claude Code in the same read
        // as the Enter; then the prompt stays in the input box, as it would for a person whose
        // keystrokes arrived together, and pressing Enter again submits it.
        let sent: String = text.chars().take_while(|&c| c != '\\').take(30).collect();
        for press in 1..=3 {
            if press > 1 {
                // Visible in the output, so a `cr` that drops keys would show up here.
                self.say_step(&format!(
                    "Enter again (press {press}): {sent:?} did not reach Claude"
                ));
            }
            self.run.t.write(b"\r");
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < until {
                if self.lab.mock.received(&sent) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        self.wait(&format!("Claude to receive {sent:?}"), || self.lab.mock.received(&sent));
    }

    /// The next card: exactly one new prompt, pending.
    fn next_prompt(&mut self) -> Value {
        let mut prompt = Value::Null;
        let want = self.prompts + 1;
        self.wait(&format!("prompt #{want}"), || {
            let all = self.lab.relay.all_prompts(&self.id);
            match all.get(want - 1) {
                Some(p) if p["status"] == "pending" => {
                    prompt = p.clone();
                    true
                }
                _ => false,
            }
        });
        self.prompts = want;
        prompt
    }

    /// The session still has exactly the prompts counted so far (one dialog, one card).
    fn assert_prompt_count(&self) {
        let all = self.lab.relay.all_prompts(&self.id);
        assert_eq!(all.len(), self.prompts, "{}: one card per dialog: {all:#?}", self.label);
    }

    fn post(&self, prompt: &Value, action: &str, body: &str) -> (u16, Value) {
        let id = prompt["id"].as_str().unwrap();
        self.lab.relay.http(
            &self.lab.token,
            "POST",
            &format!("/api/prompts/{id}/{action}"),
            Some(body),
        )
    }

    fn closed_as(&self, prompt: &Value) -> (String, String) {
        let p = self
            .lab
            .relay
            .all_prompts(&self.id)
            .into_iter()
            .find(|p| p["id"] == prompt["id"])
            .unwrap();
        (p["status"].as_str().unwrap_or("").to_owned(), p["by"].as_str().unwrap_or("").to_owned())
    }

    /// With hooks on, a tool dialog's card comes from the hook, and the dialog on screen joins
    /// it: waits for that, so "one card" is checked with both sources in play.
    fn wait_joined(&self, hooks: bool) {
        if !hooks {
            return;
        }
        let hook_prompts =
            self.lab.relay.all_prompts(&self.id).iter().filter(|p| p["source"] == "hook").count();
        self.wait("the dialog to join its hook prompt", || {
            self.run.t.log().matches("its dialog is on screen").count() >= hook_prompts
        });
    }

    fn stop(mut self) {
        self.say_step("exiting");
        // For looking into a run: every byte Claude Code wrote, as the terminal got it.
        if let Some(dir) = std::env::var_os("CR_E2E_DUMP") {
            let raw = self.run.t.output();
            let _ = std::fs::write(Path::new(&dir).join(format!("{}.raw", self.label)), raw);
        }
        // SIGTERM to cr goes on to Claude Code, which exits; cr exits with it.
        let pid = rustix::process::Pid::from_raw(self.run.t.pid()).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.run.t.wait_exit();
    }
}

/// A spinner row: a glyph, a word and an ellipsis (`✻ Seasoning… (0s)`, `⎿  Fetching…`).
fn busy(row: &str) -> bool {
    let t = row.trim();
    let mut words = t.split_whitespace();
    let glyph = words.next().is_some_and(|g| !g.chars().any(char::is_alphanumeric));
    glyph
        && words
            .next()
            .is_some_and(|w| w.ends_with('…') && w.chars().next().is_some_and(char::is_alphabetic))
}

fn touch(project: &Path, name: &str) -> (String, std::path::PathBuf) {
    let path = project.join(name);
    (format!("RUN:BASH touch {}", path.display()), path)
}

/// Bash approved from the phone runs; rejected with a message does not, and Claude gets the
/// message; answered at the keyboard first, the phone's approve gets 409.
fn bash_answers(s: &mut Session<'_>, hooks: bool, tag: &str) {
    s.say_step("Bash, approved from the phone");
    let (line, approved) = touch(&s.run.project, "approved.txt");
    s.say(&line);
    let p = s.next_prompt();
    assert_eq!(p["kind"], "tool", "{p}");
    assert_eq!(p["source"], if hooks { "hook" } else { "screen" }, "{p}");
    assert!(p["body"].as_str().unwrap().contains("approved.txt"), "{p}");
    s.wait_joined(hooks);
    let (status, body) = s.post(&p, "approve", "{}");
    assert_eq!(status, 200, "{body}");
    s.wait("the approved command to run", || approved.exists());
    assert_eq!(s.closed_as(&p), ("approved".into(), "phone".into()));
    s.wait_idle();
    s.assert_prompt_count();

    s.say_step("Bash, rejected from the phone with a message");
    let (line, rejected) = touch(&s.run.project, "rejected.txt");
    s.say(&line);
    let p = s.next_prompt();
    s.wait_joined(hooks);
    let message = format!("use printf instead ({tag})");
    let (status, body) =
        s.post(&p, "reject", &serde_json::json!({ "message": message }).to_string());
    assert_eq!(status, 200, "{body}");
    s.wait("Claude to receive the message", || s.lab.mock.received(&message));
    assert!(!rejected.exists(), "the rejected command ran");
    assert_eq!(s.closed_as(&p), ("rejected".into(), "phone".into()));
    s.wait_idle();
    s.assert_prompt_count();

    s.say_step("Bash, answered at the keyboard first");
    let (line, typed) = touch(&s.run.project, "keyboard.txt");
    s.say(&line);
    let p = s.next_prompt();
    s.wait_joined(hooks);
    if hooks {
        assert_eq!(s.run.hook_calls(), 1, "Claude Code's hook call waits for cr");
        // 2.1.112 and later post straight to cr; older versions run `cr hook`.
        let processes = usize::from(!s.run.http_hooks);
        assert_eq!(s.run.hook_processes(), processes, "cr hook processes while it waits");
    }
    // A person at the keyboard: 2.1.329 drops keys that come within ~0.1 s of its dialog
    // appearing, so a press that changed nothing is pressed again, as a person would.
    let until = std::time::Instant::now() + common::claude::CLAUDE_DEADLINE;
    while !typed.exists() {
        assert!(
            std::time::Instant::now() < until,
            "the keyboard's approve ran nothing\n{}",
            s.context()
        );
        if s.screen().contains("Do you want to proceed?") {
            s.run.t.write(b"1");
        }
        let pressed = std::time::Instant::now();
        while pressed.elapsed() < std::time::Duration::from_secs(1) && !typed.exists() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    s.wait("the dialog to leave the screen", || !s.screen().contains("Do you want to proceed?"));
    let (status, body) = s.post(&p, "approve", "{}");
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["by"].as_str()),
        (Some("resolved_locally"), Some("terminal")),
        "{body}"
    );
    s.wait("the hook call to return", || s.run.hook_calls() == 0);
    s.wait_idle();
    s.assert_prompt_count();
}

/// What scrolled off the top (of the main screen, or of the alternate screen's view) is in the
/// transcript: the first blocks of reply rows whole and in order, and no row twice however
/// often Claude Code redrew it.
fn check_transcript(lab: &Lab, session: &str) {
    let transcript = lab.relay.transcript(session);
    let rows: Vec<String> = transcript
        .iter()
        .map(|l| l.trim().trim_start_matches('●').trim().to_owned())
        .filter(|l| l.starts_with("block ") && l.len() == "block A line 01".len())
        .collect();
    let want: Vec<String> = ["A", "B"]
        .iter()
        .flat_map(|b| (1..=10).map(move |i| format!("block {b} line {i:02}")))
        .collect();
    assert!(
        rows.len() >= want.len() && rows[..want.len()] == want[..],
        "the first two replies, whole, once, in order: {transcript:#?}"
    );
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        assert!(seen.insert(r), "{r:?} twice in the transcript: {transcript:#?}");
    }
    let prompts = transcript
        .iter()
        .filter(|l| l.contains("RUN:BASH touch") && l.contains("approved.txt"))
        .count();
    assert_eq!(prompts, 1, "the first prompt, once: {transcript:#?}");
}

fn version_test(version: &'static str, renderer: Renderer) {
    if !available(version) {
        return;
    }
    let lab = Lab::new();
    let tag = format!("{version}-{renderer:?}");

    // 1. Hooks on, in a folder Claude Code does not trust yet.
    let mut claude = lab.claude(version, renderer);
    claude.trusted = false;
    let mut s = Session::start(&lab, &claude, &format!("hooks-{tag}"));
    s.say_step("the folder-trust dialog, answered from the phone");
    let p = s.next_prompt();
    assert_eq!((p["kind"].as_str(), p["source"].as_str()), (Some("choice"), Some("screen")), "{p}");
    assert!(p["options"].as_array().unwrap().iter().any(|o| o["id"] == "approve"), "{p}");
    let (status, body) = s.post(&p, "approve", "{}");
    assert_eq!(status, 200, "{body}");
    s.wait("Claude Code to store the trust", || s.run.trusted());
    s.wait_idle();

    bash_answers(&mut s, true, &format!("hooks {tag}"));

    s.say_step("AskUserQuestion, answered from the phone");
    s.say("RUN:ASK Which database should we use?|Postgres|SQLite");
    let p = s.next_prompt();
    assert_eq!(p["kind"], "question", "{p}");
    let (status, body) =
        s.post(&p, "answer", r#"{"answers":{"Which database should we use?":"SQLite"}}"#);
    assert_eq!(status, 200, "{body}");
    s.wait("Claude to receive the answer", || {
        s.lab.mock.received(r#""Which database should we use?"="SQLite""#)
    });
    s.wait_idle();
    s.assert_prompt_count();

    s.say_step("replies scroll the first lines into the transcript");
    // Four replies of ten lines: each pushes the view up by less than a screen, as a model's
    // streamed answer does (an instant 40-line reply would jump past rows never shown).
    for block in ["A", "B", "C", "D"] {
        let lines: Vec<String> = (1..=10).map(|i| format!("block {block} line {i:02}")).collect();
        s.say(&format!("RUN:TEXT {}", lines.join("\\n")));
        // The reply's own row (the echo of the prompt has the same words joined by `\n`).
        let last = format!("block {block} line 10");
        s.wait(&format!("the reply {last:?}"), || {
            s.screen().lines().any(|l| l.trim().trim_start_matches('●').trim() == last)
        });
    }
    s.wait_idle();
    let id = s.id.clone();
    s.stop();
    check_transcript(&lab, &id);

    // 2. The same answers without hooks: all of them typed as keys.
    let mut claude = lab.claude(version, renderer);
    claude.hooks = false;
    let mut s = Session::start(&lab, &claude, &format!("keys-{tag}"));
    bash_answers(&mut s, false, &format!("keys {tag}"));
    s.stop();

    // 3. Plan approval from the phone.
    let mut claude = lab.claude(version, renderer);
    claude.mode = Some("plan");
    let mut s = Session::start(&lab, &claude, &format!("plan-{tag}"));
    s.say_step("plan approval, answered from the phone");
    s.say("RUN:PLAN Plan: add greeting\\n\\n1. Create hello.txt\\n2. Run the tests");
    let p = s.next_prompt();
    assert_eq!(p["kind"], "plan", "{p}");
    assert!(p["body"].as_str().unwrap().contains("Create hello.txt"), "{p}");
    let (status, body) = s.post(&p, "approve", "{}");
    assert_eq!(status, 200, "{body}");
    s.wait("Claude to receive the approval", || s.lab.mock.received("User has approved your plan"));
    s.wait_idle();
    s.assert_prompt_count();
    s.stop();
}

#[test]
fn claude_2_1_112() {
    version_test("2.1.112", Renderer::Main);
}

#[test]
fn claude_2_1_329_main_screen() {
    version_test("2.1.329", Renderer::Main);
}

#[test]
fn claude_2_1_329_alternate_screen() {
    version_test("2.1.329", Renderer::Alternate);
}

#[test]
fn claude_2_0_76() {
    version_test("2.0.76", Renderer::Main);
}
