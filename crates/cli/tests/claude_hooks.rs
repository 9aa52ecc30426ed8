//! Claude Code hook payloads captured from the real Claude Code (`tests/fixtures/claude/<v>/
//! hooks/*.jsonl`) and the `http` hook answers the lab verified live (`hooks/http-answers.json`):
//! every payload reads, every `PermissionRequest` becomes a sensible card, and each phone answer
//! turns into the decision JSON that worked live, byte for byte.

use std::{collections::BTreeMap, path::Path};

use cr::hooks::{self, HookPayload};
use cr_proto::{Answer, PromptId, PromptKind, SessionId, Timestamp};
use serde_json::{Value, json};

const VERSIONS: &[&str] = &["2.0.76", "2.1.112", "2.1.329"];
/// Versions with `http` hooks, where the lab verified decision JSON live.
const HTTP_VERSIONS: &[&str] = &["2.1.112", "2.1.329"];

fn hooks_dir(version: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude").join(version).join("hooks")
}

/// Every captured payload: (file, raw JSON).
fn payloads() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for v in VERSIONS {
        let dir = hooks_dir(v);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no hook captures at {}: {e}", dir.display()));
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "jsonl") {
                continue;
            }
            let name = format!("{v}/{}", path.file_name().unwrap().to_string_lossy());
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                out.push((name.clone(), serde_json::from_str(line).unwrap()));
            }
        }
    }
    assert!(out.len() >= 200, "only {} hook payloads", out.len());
    out
}

fn ids() -> (PromptId, SessionId) {
    (PromptId::new("p1").unwrap(), SessionId::new("s1").unwrap())
}

#[test]
fn every_captured_payload_reads_and_permission_requests_become_cards() {
    let mut requests = 0;
    for (file, raw) in payloads() {
        let p: HookPayload =
            serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{file}: {e}: {raw}"));
        assert_eq!(p.hook_event_name, raw["hook_event_name"], "{file}");
        if p.hook_event_name != "PermissionRequest" {
            continue;
        }
        requests += 1;
        let (id, sid) = ids();
        let card = hooks::prompt_for(&p, id, sid, Timestamp(0));
        let want_kind = match p.tool_name.as_str() {
            "AskUserQuestion" => PromptKind::Question,
            "ExitPlanMode" => PromptKind::Plan,
            _ => PromptKind::Tool,
        };
        assert_eq!(card.kind, want_kind, "{file}");
        assert!(!card.title.is_empty() && !card.body.is_empty(), "{file}: {card:?}");
        match want_kind {
            PromptKind::Question => {
                let asked = raw["tool_input"]["questions"].as_array().unwrap();
                assert_eq!(card.questions.len(), asked.len(), "{file}");
                for (q, a) in card.questions.iter().zip(asked) {
                    assert_eq!(q.question, a["question"], "{file}");
                    assert_eq!(q.options.len(), a["options"].as_array().unwrap().len(), "{file}");
                }
            }
            PromptKind::Plan => assert!(card.body.contains("Plan: add greeting"), "{file}"),
            _ => {
                let suggested =
                    raw["permission_suggestions"].as_array().is_some_and(|s| !s.is_empty());
                assert_eq!(
                    card.option("always").is_some(),
                    suggested,
                    "{file}: {:?}",
                    card.options
                );
                assert!(card.option("approve").is_some() && card.option("reject").is_some());
            }
        }
    }
    assert!(requests >= 30, "only {requests} PermissionRequest payloads");
}

#[test]
fn the_always_option_describes_the_rule_it_writes_not_the_dialogs_label() {
    for v in HTTP_VERSIONS {
        let line = std::fs::read_to_string(hooks_dir(v).join("bash-suggest.jsonl")).unwrap();
        let request: HookPayload = line
            .lines()
            .map(|l| serde_json::from_str::<HookPayload>(l).unwrap())
            .find(|p| p.hook_event_name == "PermissionRequest")
            .expect("a PermissionRequest");
        let (id, sid) = ids();
        let card = hooks::prompt_for(&request, id, sid, Timestamp(0));
        // Claude Code's dialog offers `Yes, and don’t ask again for: python3 *`; the rule the
        // hook's answer writes is the whole command.
        assert_eq!(
            card.option("always").unwrap().label,
            r#"Yes, and don't ask again for Bash(python3 -c "print(42)") in this project"#,
            "{v}"
        );
    }
    let read: HookPayload = serde_json::from_value(json!({
        "hook_event_name": "PermissionRequest", "tool_name": "Read",
        "tool_input": {"file_path": "/tmp/x/secret.txt"},
        "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Read", "ruleContent": "//tmp/x/**"}],
                                    "behavior": "allow", "destination": "session"}]
    }))
    .unwrap();
    let edit = json!([{"type": "setMode", "mode": "acceptEdits", "destination": "session"}]);
    assert_eq!(
        hooks::describe_suggestions(&read.permission_suggestions),
        "Yes, and don't ask again for Read(//tmp/x/**) during this session"
    );
    assert_eq!(
        hooks::describe_suggestions(edit.as_array().unwrap()),
        "Yes, and switch to accept edits during this session"
    );
}

/// The phone answer that should produce each reply the lab tried.
fn answer_for(case: &str, reply: &Value) -> Option<Answer> {
    let decision = &reply["hookSpecificOutput"]["decision"];
    Some(match case {
        "allow" => Answer::Approve { always: false },
        "allow-always" => Answer::Approve { always: true },
        "deny" => Answer::Reject { message: decision["message"].as_str().map(str::to_owned) },
        "deny-interrupt" => Answer::Reject { message: None },
        "ask-answers" | "ask-multi-answers" => {
            let answers: BTreeMap<String, String> =
                serde_json::from_value(decision["updatedInput"]["answers"].clone()).unwrap();
            Answer::Questions { answers }
        }
        "plan-set-mode" => Answer::Option { option: hooks::OPTION_PLAN_AUTO.into() },
        // Recorded because it fails on 2.1.329; no phone answer may produce it.
        "plan-allow-no-input" => return None,
        other => panic!("http-answers.json has a case this test does not know: {other:?}"),
    })
}

#[test]
fn phone_answers_become_the_decisions_verified_live() {
    let mut checked = 0;
    for v in HTTP_VERSIONS {
        let path = hooks_dir(v).join("http-answers.json");
        let cases: BTreeMap<String, Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(cases.len() >= 8, "{}", path.display());
        for (case, entry) in &cases {
            let call = &entry["hook_calls"][0];
            let request: HookPayload = serde_json::from_value(call["payload"].clone()).unwrap();
            let reply = &call["reply"];
            let worked = entry["turns"][0]["hook_called"] == true
                && entry["turns"][0]["dialog_still_open"] == false;
            let Some(answer) = answer_for(case, reply) else {
                // Every plan approval cr sends echoes the tool input.
                for option in [hooks::OPTION_PLAN_AUTO, "approve"] {
                    let ours = hooks::decision(&request, &Answer::Option { option: option.into() })
                        .unwrap();
                    let d = &ours["hookSpecificOutput"]["decision"];
                    assert_eq!(d["updatedInput"], request.tool_input, "{v} {case}");
                }
                continue;
            };
            assert!(worked, "{v} {case}: the lab's reply did not work live: {entry}");
            let ours = hooks::decision(&request, &answer).unwrap();
            if case == "deny-interrupt" {
                // Same shape; cr's own message says where the "no" came from.
                let d = &ours["hookSpecificOutput"]["decision"];
                assert_eq!(d["behavior"], "deny");
                assert_eq!(d["interrupt"], true);
                assert_eq!(d["message"], hooks::REJECTED_MESSAGE);
                assert_eq!(ours["hookSpecificOutput"]["hookEventName"], "PermissionRequest");
            } else {
                assert_eq!(&ours, reply, "{v} {case}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} decisions checked");
}
