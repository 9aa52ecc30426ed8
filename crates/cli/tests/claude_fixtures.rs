//! Detection over screens captured from the real Claude Code (`tests/fixtures/claude/`, made
//! by `tests/claude/capture.py`): each capture's raw bytes are replayed through the emulator,
//! and the dialog found must be the one the capture recorded (kind, labels, digits, focus),
//! or none at all for idle and half-drawn screens.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use cr::{detect::detect, screen::VirtualScreen};
use cr_proto::PromptKind;
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    std::env::var_os("CR_CLAUDE_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude"),
        PathBuf::from,
    )
}

fn captures() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let Ok(versions) = std::fs::read_dir(fixtures_dir()) else { return out };
    for v in versions.flatten() {
        for f in std::fs::read_dir(v.path()).into_iter().flatten().flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "json") && p.with_extension("raw").exists() {
                let meta: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                out.push((p, meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn kind(s: &str) -> Option<PromptKind> {
    Some(match s {
        "tool" => PromptKind::Tool,
        "plan" => PromptKind::Plan,
        "question" => PromptKind::Question,
        "choice" => PromptKind::Choice,
        "confirm" => PromptKind::Confirm,
        _ => return None,
    })
}

#[test]
fn real_claude_screens_are_detected_as_captured() {
    let all = captures();
    if all.is_empty() {
        // The captures land with the Claude lab; until then there is nothing to compare.
        eprintln!("no Claude Code captures under {}", fixtures_dir().display());
        return;
    }
    let mut failures = Vec::new();
    for (path, meta) in &all {
        let rows = meta["rows"].as_u64().unwrap() as u16;
        let cols = meta["cols"].as_u64().unwrap() as u16;
        let mut v = VirtualScreen::new(rows, cols);
        v.feed(&std::fs::read(path.with_extension("raw")).unwrap());
        let got = detect(&v.snapshot());
        let name = path.strip_prefix(fixtures_dir()).unwrap().display().to_string();
        let want = &meta["dialog"];
        let settled = meta["settled"].as_bool().unwrap_or(true);
        match (want.is_null() || !settled, got) {
            (true, None) => {}
            (true, Some(d)) if !settled => failures
                .push(format!("{name}: half-drawn screen detected as {:?} {:?}", d.kind, d.title)),
            (true, Some(d)) => {
                failures.push(format!("{name}: no dialog expected, got {:?} {:?}", d.kind, d.title))
            }
            (false, None) => {
                failures.push(format!("{name}: dialog {:?} not detected", want["title"]))
            }
            (false, Some(d)) => {
                if let Some(k) = want["kind"].as_str().and_then(kind)
                    && k != d.kind
                {
                    failures.push(format!("{name}: kind {:?}, captured {k:?}", d.kind));
                }
                let labels: Vec<(String, Option<u64>, bool)> = d
                    .options
                    .iter()
                    .map(|o| (o.label.clone(), o.number.map(u64::from), o.focused))
                    .collect();
                let wanted: Vec<(String, Option<u64>, bool)> = want["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        (
                            o["label"].as_str().unwrap().to_owned(),
                            o["number"].as_u64(),
                            o["focused"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect();
                if labels != wanted {
                    failures.push(format!("{name}: options {labels:?}, captured {wanted:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} captures differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
