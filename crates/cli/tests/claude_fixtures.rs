//! Detection and key mapping over every screen captured from the real Claude Code
//! (`tests/fixtures/claude/<version>/`, made by `tests/claude/capture.py`: 2.0.76, 2.1.112 and
//! 2.1.329, both renderers, 100x32 and 80x14). Each capture's raw bytes are replayed through
//! the emulator `cr` uses at the recorded size, and:
//!
//! - the screen equals the `.txt` the capture wrote (this replaces the lab's standalone vt100
//!   replay project);
//! - a captured dialog is detected with the captured kind, title, options (labels, digits,
//!   focus, descriptions);
//! - a near-miss (idle input box, half-drawn dialog, the screen after an answer, Claude's own
//!   text shaped like a dialog) is not detected;
//! - the reserved option ids mean what the lab saw each option do live;
//! - answering each option types exactly the keys the lab verified live.
//!
//! The lab's metadata and the product differ in a few conventions; each difference is spelled
//! out below ([`product_kind`], [`expected_dialog`]) with its reason, and nothing else is
//! loosened.

#![allow(clippy::print_stderr)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use cr::{
    detect::{Dialog, detect},
    keys::{Action, Modes, Stroke, Typist, key_bytes},
    screen::VirtualScreen,
};
use cr_proto::{Answer, Key, OPTION_ALWAYS, OPTION_APPROVE, OPTION_REJECT, PromptKind, Screen};
use serde_json::Value;

/// The versions the lab captured; each must be there.
const VERSIONS: &[&str] = &["2.0.76", "2.1.112", "2.1.329"];
/// The text the lab typed into every field it verified (a rejection message, a typed answer).
const LAB_TEXT: &str = "Use printf instead";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude")
}

struct Capture {
    /// `2.1.112/bash-suggest-100x32-main`.
    name: String,
    meta: Value,
    screen: Screen,
    modes: Modes,
    /// The `.txt` the capture wrote, one entry per row.
    txt: Vec<String>,
}

impl Capture {
    fn scenario(&self) -> &str {
        self.meta["scenario"].as_str().unwrap_or("")
    }
}

/// Every capture, replayed. Panics (fails the test) when there are none: a missing fixture
/// directory must never look like a pass.
fn captures() -> Vec<Capture> {
    let root = fixtures_dir();
    let mut out = Vec::new();
    for version in VERSIONS {
        let dir = root.join(version);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!("no Claude Code captures for {version} at {}: {e}", dir.display())
        });
        let mut n = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") || !path.with_extension("raw").exists()
            {
                continue;
            }
            let meta: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rows = meta["rows"].as_u64().expect("rows") as u16;
            let cols = meta["cols"].as_u64().expect("cols") as u16;
            let mut v = VirtualScreen::new(rows, cols);
            v.feed(&std::fs::read(path.with_extension("raw")).unwrap());
            let txt = std::fs::read_to_string(path.with_extension("txt")).unwrap();
            let txt = txt.strip_suffix('\n').unwrap_or(&txt).split('\n').map(str::to_owned);
            out.push(Capture {
                name: format!(
                    "{version}/{}",
                    path.file_stem().unwrap().to_string_lossy().into_owned()
                ),
                meta,
                screen: v.snapshot(),
                modes: Modes {
                    application_cursor: v.application_cursor(),
                    bracketed_paste: v.bracketed_paste(),
                },
                txt: txt.collect(),
            });
            n += 1;
        }
        // 2.0.76 has the fewest: 47 at the time of capture.
        assert!(n >= 40, "only {n} captures for {version} under {}", dir.display());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The product's kind for the lab's. The lab calls the folder-trust dialog `confirm`; in the
/// product (`cr_proto::PromptKind`) a selection menu such as folder trust or MCP approval is a
/// `choice`, and `confirm` is a yes/no question typed as a word (`[y/N]`, `(yes/no)`).
fn product_kind(lab: &str) -> PromptKind {
    match lab {
        "tool" => PromptKind::Tool,
        "plan" => PromptKind::Plan,
        "question" => PromptKind::Question,
        "choice" | "confirm" => PromptKind::Choice,
        other => panic!("unknown kind {other:?} in the lab's metadata"),
    }
}

/// One option as the product must see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    label: String,
    number: Option<u64>,
    focused: bool,
    description: Option<String>,
}

/// What must be detected: `None` for a near-miss, else (kind, title if known, options).
type Expected = Option<(PromptKind, Option<String>, Vec<Want>)>;

fn wants(options: &Value) -> Vec<Want> {
    options
        .as_array()
        .expect("options")
        .iter()
        .map(|o| Want {
            label: o["label"].as_str().unwrap().to_owned(),
            number: o["number"].as_u64(),
            focused: o["focused"].as_bool().unwrap(),
            description: o["description"].as_str().map(str::to_owned),
        })
        .collect()
}

/// Captures where the lab's own screen reader lost part of the dialog, and the product must
/// see all of it. Each is the same dialog as the 100x32 capture of the scenario (where the
/// lab read every option and verified its key), drawn at 80 columns:
/// - `bash-dir`, `bash-suggest`: 2.0.76 draws option 2 one column left of the others when its
///   label fills the row, and breaks `…/home/pr` + `oj` mid-word; the lab kept option 1 only.
/// - `mcp-tool`: option 2's label wraps onto a second row, which the lab took for a
///   description (the README defines `label` as the wrapped rows joined).
const READ_AS_AT_100X32: &[&str] = &[
    "2.0.76/bash-dir-80x14-main",
    "2.0.76/bash-suggest-80x14-main",
    "2.0.76/mcp-tool-80x14-main",
    "2.1.112/mcp-tool-80x14-main",
];

/// The lab's metadata of the dialog in `c` (for [`READ_AS_AT_100X32`], its 100x32 twin's).
fn lab_dialog<'a>(c: &'a Capture, all: &'a [Capture]) -> &'a Value {
    if READ_AS_AT_100X32.contains(&c.name.as_str()) {
        let twin = c.name.replace("80x14", "100x32");
        return &all.iter().find(|t| t.name == twin).expect("the 100x32 twin").meta["dialog"];
    }
    &c.meta["dialog"]
}

/// The option rows the lab recorded for a dialog still on screen after an answer
/// (`❯ 1. [ ] Auth`, `  Submit`): numbered rows become options, checkboxes are state, not
/// label (the answer Claude Code takes is the bare label).
fn wants_from_rows(rows: &Value) -> Vec<Want> {
    rows.as_array()
        .expect("dialog_after.options")
        .iter()
        .filter_map(|r| {
            let r = r.as_str().unwrap().trim_start();
            let (focused, r) = match r.strip_prefix('❯') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, r),
            };
            let (num, label) = r.split_once(". ")?;
            let number: u64 = num.parse().ok()?;
            let label = label.trim();
            let label =
                ["[ ] ", "[✔] "].iter().find_map(|p| label.strip_prefix(p)).unwrap_or(label);
            // The lab kept no descriptions here; the mock describes each option it offers as
            // `Choose <label>` (Claude Code's own free-text and chat options have none).
            let description = (!label.starts_with("Type something") && label != "Chat about this")
                .then(|| format!("Choose {label}"));
            Some(Want { label: label.to_owned(), number: Some(number), focused, description })
        })
        .collect()
}

fn expected_dialog(c: &Capture, all: &[Capture]) -> Expected {
    if c.meta["settled"].as_bool() == Some(false) {
        return None; // half-drawn (`middraw-*`): never a prompt
    }
    let d = lab_dialog(c, all);
    if !d.is_null() {
        // The title is the capture's own (the lab's reader saw the heading, if visible).
        let title = c.meta["dialog"]["title"].as_str().map(str::to_owned);
        return Some((product_kind(d["kind"].as_str().unwrap()), title, wants(&d["options"])));
    }
    // `after-*`: the lab marks every after-answer screen as "no dialog", but some answers
    // leave a dialog on screen on purpose (a single-select digit on a multi-question
    // AskUserQuestion shows the next question; 2.1.112's "Chat about this" changes nothing).
    // That dialog is live and must be detected, or the phone could not answer it; the lab
    // recorded it as `answered.dialog_after` with `closed: false`.
    let answered = &c.meta["answered"];
    if answered["closed"] == false && answered["exited"] == false {
        let after = &answered["dialog_after"];
        let scenario_kind = c.scenario().trim_start_matches("after-");
        let kind = if scenario_kind.starts_with("ask") { PromptKind::Question } else { panic!() };
        return Some((
            kind,
            after["title"].as_str().map(str::to_owned),
            wants_from_rows(&after["options"]),
        ));
    }
    None
}

fn got_options(d: &Dialog) -> Vec<Want> {
    d.options
        .iter()
        .map(|o| Want {
            label: o.label.clone(),
            number: o.number.map(u64::from),
            focused: o.focused,
            description: o.description.clone(),
        })
        .collect()
}

#[test]
fn the_fixture_directory_is_complete() {
    let all = captures();
    let near_misses = all.iter().filter(|c| c.meta["dialog"].is_null()).count();
    assert!(all.len() >= 200, "{} captures", all.len());
    assert!(near_misses >= 50, "{near_misses} near-misses");
    for kind in ["idle", "middraw", "after-", "lookalike"] {
        assert!(all.iter().any(|c| c.scenario().starts_with(kind)), "no {kind} capture");
    }
}

/// A row as the capture wrote it: trailing spaces trimmed, no-break spaces kept.
fn row_text(row: &cr_proto::Row) -> String {
    let s: String = row.0.iter().map(|span| span.text.as_str()).collect();
    s.trim_end_matches(' ').to_owned()
}

#[test]
fn replay_through_vt100_gives_the_captured_screen() {
    let mut failures = Vec::new();
    for c in &captures() {
        let got: Vec<String> = c.screen.lines.iter().map(row_text).collect();
        if got != c.txt {
            let diff: Vec<String> = got
                .iter()
                .zip(&c.txt)
                .enumerate()
                .filter(|(_, (g, w))| g != w)
                .take(3)
                .map(|(i, (g, w))| format!("row {i}: want {w:?} got {g:?}"))
                .collect();
            failures.push(format!("{}: {} rows vs {}; {diff:?}", c.name, got.len(), c.txt.len()));
        }
    }
    assert!(failures.is_empty(), "{} screens differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn dialogs_are_detected_as_captured_and_near_misses_are_not() {
    let all = captures();
    let mut failures = Vec::new();
    let mut dialogs = 0;
    for c in &all {
        let got = detect(&c.screen);
        match (expected_dialog(c, &all), got) {
            (None, None) => {}
            (None, Some(d)) => failures.push(format!(
                "{}: near-miss detected as {:?} {:?} {:?}",
                c.name,
                d.kind,
                d.title,
                d.options.iter().map(|o| &o.label).collect::<Vec<_>>()
            )),
            (Some((_, title, _)), None) => {
                failures.push(format!("{}: dialog {title:?} not detected", c.name))
            }
            (Some((kind, title, options)), Some(d)) => {
                dialogs += 1;
                if d.kind != kind {
                    failures.push(format!("{}: kind {:?}, want {kind:?}", c.name, d.kind));
                }
                match title {
                    Some(t) if d.title != t => {
                        failures.push(format!("{}: title {:?}, want {t:?}", c.name, d.title))
                    }
                    _ if d.title.trim().is_empty() => {
                        failures.push(format!("{}: empty title", c.name))
                    }
                    _ => {}
                }
                let got = got_options(&d);
                if got != options {
                    failures
                        .push(format!("{}: options\n  got  {got:?}\n  want {options:?}", c.name));
                }
                if kind == PromptKind::Question {
                    let q = d.questions.first();
                    if q.is_none_or(|q| q.question.is_empty() || q.options.is_empty()) {
                        failures.push(format!("{}: no question read: {:?}", c.name, d.questions));
                    }
                }
            }
        }
    }
    assert!(dialogs >= 100, "only {dialogs} dialogs compared");
    assert!(
        failures.is_empty(),
        "{} of {} captures differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// What one option did when the lab pressed its key, as far as its id is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The tool ran, the plan was approved, the folder trusted.
    Went,
    /// Same, and permission rules were written.
    WentAndSaved,
    /// The tool did not run, the plan was rejected, Claude Code exited.
    Refused,
    /// Anything else (a menu entry, a question answer, a dialog left open).
    Other,
}

fn outcome(answer: &Value) -> Outcome {
    let results = answer["tool_results"].as_array().cloned().unwrap_or_default();
    let rejected = |r: &Value| {
        r["is_error"] == true
            && r["content"].as_str().is_some_and(|t| t.contains("doesn't want to proceed"))
    };
    let summary = answer["summary"].as_str().unwrap_or("");
    if answer["exited"] == true {
        return Outcome::Refused;
    }
    if answer["closed"] != true {
        return Outcome::Other;
    }
    if summary.contains("hasTrustDialogAccepted=True") {
        return Outcome::Went;
    }
    if results.iter().any(rejected) || (results.is_empty() && summary.contains("Interrupted")) {
        return Outcome::Refused;
    }
    if !results.is_empty() {
        let saved = answer["settings.local.json"]["permissions"].is_object();
        return if saved { Outcome::WentAndSaved } else { Outcome::Went };
    }
    // 2.1.112 Read outside cwd, `No`: no tool_result and no request to the model at all.
    if results.is_empty() && answer["mock_replies"].as_array().is_some_and(Vec::is_empty) {
        return Outcome::Refused;
    }
    Outcome::Other
}

#[test]
fn reserved_option_ids_mean_what_the_options_did_live() {
    let all = captures();
    let mut failures = Vec::new();
    for c in &all {
        let d = lab_dialog(c, &all);
        if d.is_null() {
            continue;
        }
        let Some(got) = detect(&c.screen) else { continue }; // reported by the detection test
        let kind = got.kind;
        for (o, lab) in got.options.iter().zip(d["options"].as_array().unwrap()) {
            let did = outcome(&lab["answer"]);
            let ok = match o.id.as_str() {
                OPTION_APPROVE => did == Outcome::Went,
                OPTION_ALWAYS => {
                    matches!(did, Outcome::Went | Outcome::WentAndSaved)
                        && !o.label.contains("auto mode")
                }
                OPTION_REJECT => did == Outcome::Refused,
                // A plain choice. An option that saved rules or refused must carry its meaning,
                // except where the product cannot tell (a question, a menu).
                _ => match kind {
                    PromptKind::Tool => did == Outcome::Went && o.label.contains("auto mode"),
                    PromptKind::Plan => did == Outcome::Went,
                    _ => true,
                },
            };
            if !ok {
                failures
                    .push(format!("{}: {:?} has id {:?} but did {did:?}", c.name, o.label, o.id));
            }
        }
        if kind == PromptKind::Tool {
            for id in [OPTION_APPROVE, OPTION_REJECT] {
                if got.option(id).is_none() {
                    failures.push(format!("{}: a tool dialog without {id:?}", c.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A copy of `screen` with the focus marker moved to `to`'s row: what Claude Code draws after
/// an arrow key, for driving the typist through several steps.
fn move_focus(screen: &Screen, d: &Dialog, to: usize) -> Screen {
    let from = d.options.iter().find(|o| o.focused).expect("a focused option").row as usize;
    let to = d.options[to].row as usize;
    let mut rows: Vec<Vec<char>> =
        screen.lines.iter().map(|r| r.text().chars().collect()).collect();
    let col = rows[from].iter().position(|c| *c == '❯').expect("the marker");
    rows[from][col] = ' ';
    while rows[to].len() <= col {
        rows[to].push(' ');
    }
    rows[to][col] = '❯';
    let mut v = VirtualScreen::new(screen.rows, screen.cols);
    for (r, row) in rows.iter().enumerate() {
        v.feed(format!("\x1b[{};1H{}", r + 1, row.iter().collect::<String>()).as_bytes());
    }
    v.snapshot()
}

/// Runs the typist for `answer` against `screen` until it is done, answering each arrow as
/// Claude Code does (the focus moves one option; other keys change nothing here). Returns
/// every stroke it typed.
fn type_answer(screen: &Screen, answer: &Answer) -> Result<Vec<Stroke>, String> {
    let dialog = detect(screen).ok_or("no dialog")?;
    let mut typist = Typist::new(&dialog, answer)?;
    let mut current = screen.clone();
    let mut strokes = Vec::new();
    for _ in 0..20 {
        match typist.step(&current) {
            Action::Type(s) => {
                for stroke in &s {
                    let Some(now) = detect(&current) else { continue };
                    let focus = now.options.iter().position(|o| o.focused);
                    let moved = match (stroke, focus) {
                        (Stroke::Key(Key::Down), Some(f)) if f + 1 < now.options.len() => {
                            Some(f + 1)
                        }
                        (Stroke::Key(Key::Up), Some(f)) if f > 0 => Some(f - 1),
                        _ => None,
                    };
                    if let Some(to) = moved {
                        current = move_focus(&current, &now, to);
                    }
                }
                strokes.extend(s);
            }
            Action::Done { .. } => return Ok(strokes),
            Action::Failed(why) => return Err(why),
        }
    }
    Err(format!("still typing after 20 steps: {strokes:?}"))
}

/// The strokes of the lab's description of what it pressed: `Down Down, then Tab, then type
/// 'Use printf instead', then Enter`, `Up Up Enter`, `3`.
fn lab_strokes(keys: &str) -> Vec<Stroke> {
    let mut out = Vec::new();
    for part in keys.split(", then ") {
        if let Some(text) = part.strip_prefix("type '").and_then(|t| t.strip_suffix('\'')) {
            out.push(Stroke::Text(text.to_owned()));
            continue;
        }
        for word in part.split_whitespace() {
            out.push(match word {
                "Down" => Stroke::Key(Key::Down),
                "Up" => Stroke::Key(Key::Up),
                "Right" => Stroke::Key(Key::Right),
                "Enter" => Stroke::Key(Key::Enter),
                "Tab" => Stroke::Key(Key::Tab),
                "Esc" => Stroke::Key(Key::Esc),
                digit if digit.chars().all(|c| c.is_ascii_digit()) => Stroke::Text(digit.into()),
                other => panic!("unknown key {other:?} in {keys:?}"),
            });
        }
    }
    out
}

fn bytes(strokes: &[Stroke], modes: Modes) -> Vec<u8> {
    strokes
        .iter()
        .flat_map(|s| match s {
            Stroke::Key(k) => key_bytes(*k, modes).to_vec(),
            Stroke::Text(t) => t.as_bytes().to_vec(),
        })
        .collect()
}

/// The answer a phone would send to pick option `o` of `d`, and the keys the lab pressed for
/// it (with the text the lab typed into a field).
fn phone_answer(d: &Dialog, index: usize) -> Answer {
    let o = &d.options[index];
    if let Some(q) = d.questions.first() {
        let label = if o.input { LAB_TEXT.to_owned() } else { o.label.clone() };
        if o.input || q.options.iter().any(|x| x.label == o.label) {
            return Answer::Questions { answers: BTreeMap::from([(q.question.clone(), label)]) };
        }
    }
    if o.input && o.id == OPTION_REJECT {
        return Answer::Reject { message: Some(LAB_TEXT.into()) };
    }
    match o.id.as_str() {
        OPTION_APPROVE => Answer::Approve { always: false },
        OPTION_ALWAYS => Answer::Approve { always: true },
        OPTION_REJECT => Answer::Reject { message: None },
        id if o.input => panic!("input option {id:?} outside a question or rejection"),
        id => Answer::Option { option: id.to_owned() },
    }
}

#[test]
fn each_option_is_answered_with_the_keys_verified_live() {
    let all = captures();
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in &all {
        let lab = lab_dialog(c, &all);
        if lab.is_null() {
            continue;
        }
        let Some(d) = detect(&c.screen) else { continue }; // reported by the detection test
        for (i, lab_option) in lab["options"].as_array().unwrap().iter().enumerate() {
            if i >= d.options.len() {
                break;
            }
            let answer = phone_answer(&d, i);
            let want = lab_strokes(lab_option["answer"]["keys"].as_str().unwrap());
            let want_key = lab_option["key"].as_str().unwrap().as_bytes().to_vec();
            match type_answer(&c.screen, &answer) {
                Ok(got) if got == want => {
                    // The bytes of the option's own key, as recorded, start the sequence.
                    let typed = bytes(&got, c.modes);
                    if !typed.starts_with(&want_key) {
                        failures.push(format!(
                            "{}: {:?} typed {typed:?}, key {want_key:?}",
                            c.name, d.options[i].label
                        ));
                    }
                    checked += 1;
                }
                Ok(got) => failures.push(format!(
                    "{}: {:?} ({answer:?}) typed {got:?}, verified {want:?}",
                    c.name, d.options[i].label
                )),
                Err(e) => failures.push(format!(
                    "{}: {:?} ({answer:?}) not typed: {e}",
                    c.name, d.options[i].label
                )),
            }
        }
        // Reject with a message where the footer offers Tab to amend: focus `No`, Tab, text.
        if let Some(tab) = lab["other_keys"]["tab-on-no"]["keys"].as_str() {
            let answer = Answer::Reject { message: Some(LAB_TEXT.into()) };
            match type_answer(&c.screen, &answer) {
                Ok(got) if got == lab_strokes(tab) => checked += 1,
                other => failures.push(format!(
                    "{}: reject with a message: {other:?}, verified {tab:?}",
                    c.name
                )),
            }
        }
    }
    // A multiSelect question (on screen after the first answer): digits toggle, Right moves on,
    // as in the lab's `answer-all` (`2, then 1, then 3, then Right, then 1`).
    for c in all.iter().filter(|c| c.scenario() == "after-ask-multi-option-1") {
        let d = detect(&c.screen).expect("the second question");
        let q = d.questions.first().expect("a question");
        assert!(q.multi_select, "{}: {q:?}", c.name);
        let answer = Answer::Questions {
            answers: BTreeMap::from([(q.question.clone(), "Auth, Logs".into())]),
        };
        match type_answer(&c.screen, &answer) {
            Ok(got) if got == lab_strokes("1, then 3, then Right") => checked += 1,
            other => failures.push(format!("{}: multiSelect answer {other:?}", c.name)),
        }
    }
    assert!(checked >= 300, "only {checked} answers checked");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
