//! Claude Code hooks, the pure part: the `--settings` that registers them, the card a
//! `PermissionRequest` becomes, and the decision JSON an answer turns into
//! (research/claude-code.md §4.1, §4.3, §4.4). The loopback server is in `hookserver`.
//!
//! The state hooks are `command` hooks running `cr hook`, which forwards the payload to this
//! `cr`'s loopback server and prints the reply: they work in 2.0.76, 2.1.112 and 2.1.329
//! alike, while `http` PostToolUse hooks were reported not to fire
//! (anthropics/claude-code#32977). `PermissionRequest`, where every millisecond is the
//! phone's wait, is an `http` hook straight to that server when the installed Claude Code has
//! them (see [`crate::claude`]); 2.0.x, which has no `http` type, runs `cr hook` for it too.
//! The server's address and per-run token reach Claude Code through the environment
//! (readable only by the user), never argv.

use serde::Deserialize;
use serde_json::{Value, json};

use cr_proto::{
    Answer, BodyFormat, OPTION_ALWAYS, OPTION_APPROVE, OPTION_REJECT, Prompt, PromptId, PromptKind,
    PromptOption, PromptSource, PromptStatus, Question, SessionId, Timestamp,
};

/// Environment variable carrying the loopback server's `host:port` to `cr hook`.
pub const ENV_HOOK_ADDR: &str = "CR_HOOK_ADDR";
/// Environment variable carrying the per-run token to `cr hook`.
pub const ENV_HOOK_TOKEN: &str = "CR_HOOK_TOKEN";
/// How long Claude Code lets a `PermissionRequest` hook run, in seconds: the phone may take
/// a while, and an answer at the keyboard ends the wait early anyway.
pub const PERMISSION_TIMEOUT_SECS: u64 = 6 * 3600;
/// Timeout of the state hooks, in seconds; the server answers them at once.
pub const STATE_TIMEOUT_SECS: u64 = 10;
/// Option id of "approve the plan and accept edits automatically".
pub const OPTION_PLAN_AUTO: &str = "auto";
/// Events `cr` listens to besides `PermissionRequest`.
pub const STATE_EVENTS: &[&str] =
    &["SessionStart", "PostToolUse", "Stop", "UserPromptSubmit", "Notification"];

/// Quotes a path for `/bin/sh -c`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The hooks `cr` registers, as a settings object.
///
/// With `permission_url`, Claude Code POSTs `PermissionRequest` calls there itself (an
/// `http` hook, 2.1.112 and later), sending the token from the environment in
/// [`TOKEN_HEADER`](crate::hookserver::TOKEN_HEADER) so it never shows in the command line.
/// The state events stay `command` hooks: `http` PostToolUse hooks were reported not to fire.
pub fn settings(cr_exe: &str, permission_url: Option<&str>) -> Value {
    let command = format!("{} hook", shell_quote(cr_exe));
    let hook = |timeout: u64| json!([{ "matcher": "*", "hooks": [{ "type": "command", "command": command, "timeout": timeout }] }]);
    let permission = match permission_url {
        Some(url) => json!([{ "matcher": "*", "hooks": [{
            "type": "http",
            "url": url,
            "timeout": PERMISSION_TIMEOUT_SECS,
            "headers": { crate::hookserver::TOKEN_HEADER: format!("${ENV_HOOK_TOKEN}") },
            "allowedEnvVars": [ENV_HOOK_TOKEN],
        }] }]),
        None => hook(PERMISSION_TIMEOUT_SECS),
    };
    let mut hooks = serde_json::Map::new();
    hooks.insert("PermissionRequest".into(), permission);
    for event in STATE_EVENTS {
        hooks.insert((*event).into(), hook(STATE_TIMEOUT_SECS));
    }
    json!({ "hooks": hooks })
}

/// Adds `cr`'s hooks to the user's own settings, keeping theirs (hooks of one event run side
/// by side in Claude Code).
pub fn merge_settings(mut user: Value, ours: &Value) -> Result<Value, String> {
    let obj = user.as_object_mut().ok_or("the --settings JSON is not an object")?;
    let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
    let hooks = hooks.as_object_mut().ok_or("\"hooks\" in --settings is not an object")?;
    for (event, entries) in ours["hooks"].as_object().into_iter().flatten() {
        let list = hooks.entry(event.clone()).or_insert_with(|| json!([]));
        let list = list.as_array_mut().ok_or_else(|| format!("hooks.{event} is not a list"))?;
        list.extend(entries.as_array().into_iter().flatten().cloned());
    }
    Ok(user)
}

/// The arguments to give `claude`: the user's, with `--settings` carrying `cr`'s hooks too.
/// `read_file` reads a settings file the user named. `Err` says why hooks cannot be added
/// (the user's arguments are then used unchanged).
pub fn claude_args(
    args: &[String],
    ours: &Value,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut merged = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.extend(args[i..].iter().cloned());
            break;
        }
        let value = if a == "--settings" {
            i += 1;
            Some(args.get(i).ok_or("--settings needs a value")?.clone())
        } else {
            a.strip_prefix("--settings=").map(str::to_owned)
        };
        match value {
            Some(v) if !merged => {
                let text = if v.trim_start().starts_with('{') {
                    v
                } else {
                    read_file(&v).map_err(|e| format!("cannot read --settings file {v:?}: {e}"))?
                };
                let user: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("--settings is not valid JSON: {e}"))?;
                out.push("--settings".into());
                out.push(merge_settings(user, ours)?.to_string());
                merged = true;
            }
            Some(_) => return Err("--settings given twice".into()),
            None => out.push(a.clone()),
        }
        i += 1;
    }
    if !merged {
        // Before the user's arguments, so a trailing prompt argument stays last.
        out.splice(0..0, ["--settings".to_owned(), ours.to_string()]);
    }
    Ok(out)
}

/// The part of a hook payload `cr` reads. Claude Code sends `null` for some absent fields
/// (`permission_suggestions` of an AskUserQuestion or ExitPlanMode, and of any request in
/// 2.0.76 that has none): those read as empty.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HookPayload {
    /// `PermissionRequest`, `PostToolUse`, …
    #[serde(default, deserialize_with = "null_as_default")]
    pub hook_event_name: String,
    /// Claude Code's session id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub session_id: String,
    /// The tool asked about.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_name: String,
    /// Its input.
    #[serde(default)]
    pub tool_input: Value,
    /// "Don't ask again" rules Claude Code offers (PermissionRequest).
    #[serde(default, deserialize_with = "null_as_default")]
    pub permission_suggestions: Vec<Value>,
    /// Notification text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// Notification kind.
    #[serde(default, deserialize_with = "null_as_default")]
    pub notification_type: String,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn diff(old: &str, new: &str) -> String {
    let mut out = String::new();
    for l in old.lines() {
        out.push('-');
        out.push_str(l);
        out.push('\n');
    }
    for l in new.lines() {
        out.push('+');
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Where a permission update is kept, as the card says it.
fn scope(destination: &str) -> &'static str {
    match destination {
        "session" => "during this session",
        "localSettings" | "projectSettings" => "in this project",
        "userSettings" => "in all your projects",
        _ => "for this run",
    }
}

fn mode_name(mode: &str) -> String {
    match mode {
        "acceptEdits" => "accept edits".into(),
        "bypassPermissions" => "bypass permissions".into(),
        "auto" => "auto mode".into(),
        "plan" => "plan mode".into(),
        "default" => "ask each time".into(),
        other => other.into(),
    }
}

/// What approving with `permission_suggestions` really does, for the card's Always option.
///
/// This is what the hook's answer applies, and it is not always what Claude Code's own dialog
/// offers: for `python3 -c "print(42)"` the dialog says `don't ask again for: python3 *`, but
/// the suggestion (and so the rule written) is `Bash(python3 -c "print(42)")`
/// (tests/claude/README.md). The card describes the suggestion.
pub fn describe_suggestions(suggestions: &[Value]) -> String {
    let mut parts = Vec::new();
    for s in suggestions {
        let where_ = scope(str_field(s, "destination"));
        match str_field(s, "type") {
            "addRules" | "replaceRules" => {
                let rules: Vec<String> = s
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|r| match (str_field(r, "toolName"), str_field(r, "ruleContent")) {
                        (tool, "") => tool.to_owned(),
                        (tool, content) => format!("{tool}({content})"),
                    })
                    .collect();
                if !rules.is_empty() {
                    parts.push(format!("don't ask again for {} {where_}", rules.join(", ")));
                }
            }
            "addDirectories" => {
                let dirs: Vec<&str> = s
                    .get("directories")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if !dirs.is_empty() {
                    parts.push(format!("allow access to {} {where_}", dirs.join(", ")));
                }
            }
            "setMode" => {
                parts.push(format!("switch to {} {where_}", mode_name(str_field(s, "mode"))))
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        "Yes, and don't ask again".into()
    } else {
        format!("Yes, and {}", parts.join("; "))
    }
}

/// The card a `PermissionRequest` becomes.
pub fn prompt_for(p: &HookPayload, id: PromptId, session_id: SessionId, now: Timestamp) -> Prompt {
    let input = &p.tool_input;
    let mut kind = PromptKind::Tool;
    let mut format = BodyFormat::Text;
    let mut questions = Vec::new();
    let (title, body) = match p.tool_name.as_str() {
        "Bash" => {
            format = BodyFormat::Command;
            let desc = str_field(input, "description");
            let cmd = str_field(input, "command");
            (
                "Bash command".to_owned(),
                if desc.is_empty() { cmd.to_owned() } else { format!("{cmd}\n# {desc}") },
            )
        }
        "Edit" => {
            format = BodyFormat::Diff;
            let path = str_field(input, "file_path");
            (
                format!("Edit file {path}"),
                diff(str_field(input, "old_string"), str_field(input, "new_string")),
            )
        }
        "MultiEdit" => {
            format = BodyFormat::Diff;
            let mut body = String::new();
            for e in input.get("edits").and_then(Value::as_array).into_iter().flatten() {
                body.push_str("@@\n");
                body.push_str(&diff(str_field(e, "old_string"), str_field(e, "new_string")));
            }
            (format!("Edit file {}", str_field(input, "file_path")), body)
        }
        "Write" => {
            format = BodyFormat::Diff;
            (
                format!("Write file {}", str_field(input, "file_path")),
                diff("", str_field(input, "content")),
            )
        }
        "Read" => ("Read file".to_owned(), str_field(input, "file_path").to_owned()),
        "WebFetch" => (
            "Fetch".to_owned(),
            format!("{}\n{}", str_field(input, "url"), str_field(input, "prompt")),
        ),
        "NotebookEdit" => (
            "Edit notebook".to_owned(),
            format!("{}\n{}", str_field(input, "notebook_path"), str_field(input, "new_source")),
        ),
        "ExitPlanMode" => {
            kind = PromptKind::Plan;
            format = BodyFormat::Markdown;
            ("Ready to code?".to_owned(), str_field(input, "plan").to_owned())
        }
        "AskUserQuestion" => {
            kind = PromptKind::Question;
            for q in input.get("questions").and_then(Value::as_array).into_iter().flatten() {
                let options = q
                    .get("options")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, o)| PromptOption {
                        id: (i + 1).to_string(),
                        label: str_field(o, "label").to_owned(),
                        description: o
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                    .collect();
                questions.push(Question {
                    question: str_field(q, "question").to_owned(),
                    header: str_field(q, "header").to_owned(),
                    options,
                    multi_select: q.get("multiSelect").and_then(Value::as_bool).unwrap_or(false),
                });
            }
            let body = questions.iter().map(|q| q.question.as_str()).collect::<Vec<_>>().join("\n");
            ("Claude has a question".to_owned(), body)
        }
        name => {
            let pretty = serde_json::to_string_pretty(input).unwrap_or_default();
            match name.strip_prefix("mcp__").and_then(|r| r.split_once("__")) {
                Some((server, tool)) => {
                    ("Tool use".to_owned(), format!("{server} - {tool}\n{pretty}"))
                }
                None => (format!("Tool use: {name}"), pretty),
            }
        }
    };
    let options = match kind {
        PromptKind::Plan => vec![
            PromptOption::new(OPTION_PLAN_AUTO, "Yes, auto-accept edits"),
            PromptOption::new(OPTION_APPROVE, "Yes, manually approve edits"),
            PromptOption::new(OPTION_REJECT, "No, keep planning"),
        ],
        PromptKind::Question => vec![PromptOption::new(OPTION_REJECT, "Decline to answer")],
        _ => {
            let mut v = vec![PromptOption::new(OPTION_APPROVE, "Yes")];
            if !p.permission_suggestions.is_empty() {
                v.push(PromptOption::new(
                    OPTION_ALWAYS,
                    describe_suggestions(&p.permission_suggestions),
                ));
            }
            v.push(PromptOption::new(OPTION_REJECT, "No"));
            v
        }
    };
    Prompt {
        id,
        session_id,
        source: PromptSource::Hook,
        kind,
        title,
        body,
        options,
        created_at: now,
        status: PromptStatus::Pending,
        by: None,
        tool: Some(p.tool_name.clone()),
        format,
        questions,
    }
}

fn output(decision: Value) -> Value {
    json!({ "hookSpecificOutput": { "hookEventName": "PermissionRequest", "decision": decision } })
}

fn set_mode(mode: &str) -> Value {
    json!([{ "type": "setMode", "mode": mode, "destination": "session" }])
}

/// The message sent with a plain rejection: Claude Code shows it in its transcript, so the
/// person at the workstation sees where the "no" came from.
pub const REJECTED_MESSAGE: &str = "Rejected from the phone (claude-remote)";

/// The hook's reply for an answer from the phone (shapes as verified live in
/// `tests/fixtures/claude/*/hooks/http-answers.json`).
///
/// - approve: `allow`; always: `allow` + the request's `permission_suggestions` as
///   `updatedPermissions` (what [`describe_suggestions`] put on the card);
/// - reject with a message: `deny` + the message; Claude's turn goes on with it, as after
///   Tab + text in the dialog;
/// - plain reject: `deny` + `interrupt`, which stops the turn like the dialog's own "No";
/// - AskUserQuestion: `allow` + `updatedInput` with the original `questions` and `answers`;
/// - ExitPlanMode: `allow` + `setMode`, and `updatedInput` echoing `tool_input` (2.1.329
///   ignores an `allow` without it and leaves its dialog open).
pub fn decision(p: &HookPayload, answer: &Answer) -> Result<Value, String> {
    let plan = p.tool_name == "ExitPlanMode";
    let approve_plan = |mode: &str| {
        output(json!({
            "behavior": "allow",
            "updatedInput": p.tool_input,
            "updatedPermissions": set_mode(mode),
        }))
    };
    let always =
        || output(json!({ "behavior": "allow", "updatedPermissions": p.permission_suggestions }));
    let reject = |message: Option<&String>| match message.filter(|m| !m.trim().is_empty()) {
        Some(m) => output(json!({ "behavior": "deny", "message": m })),
        None => {
            output(json!({ "behavior": "deny", "message": REJECTED_MESSAGE, "interrupt": true }))
        }
    };
    let option = match answer {
        Answer::Option { option } => Some(option.as_str()),
        _ => None,
    };
    Ok(match (answer, option) {
        (Answer::Reject { message }, _) => reject(message.as_ref()),
        (_, Some(OPTION_REJECT)) => reject(None),
        (Answer::Approve { always: false }, _) | (_, Some(OPTION_APPROVE)) if plan => {
            approve_plan("default")
        }
        (_, Some(OPTION_PLAN_AUTO)) if plan => approve_plan("acceptEdits"),
        (Answer::Approve { always: true }, _) | (_, Some(OPTION_ALWAYS)) if !plan => {
            if p.permission_suggestions.is_empty() {
                return Err("this request offers no \"don't ask again\" rule".into());
            }
            always()
        }
        (Answer::Approve { always: false }, _) | (_, Some(OPTION_APPROVE)) => {
            output(json!({ "behavior": "allow" }))
        }
        (Answer::Questions { answers }, _) => {
            let questions = p.tool_input.get("questions").cloned().unwrap_or_else(|| json!([]));
            output(
                json!({ "behavior": "allow", "updatedInput": { "questions": questions, "answers": answers } }),
            )
        }
        (_, option) => return Err(format!("{option:?} has no hook decision")),
    })
}

/// The reply that leaves the decision to Claude Code's own dialog.
pub fn no_decision() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn bash_request() -> HookPayload {
        serde_json::from_value(json!({
            "session_id": "7a0b", "hook_event_name": "PermissionRequest", "tool_name": "Bash",
            "permission_mode": "default",
            "tool_input": {"command": "npm install left-pad", "description": "Install left-pad package"},
            "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "npm install *"}],
                                        "behavior": "allow", "destination": "localSettings"}]
        }))
        .unwrap()
    }

    fn ids() -> (PromptId, SessionId) {
        (PromptId::new("p1").unwrap(), SessionId::new("s1").unwrap())
    }

    #[test]
    fn bash_request_becomes_a_tool_card_with_always() {
        let (id, sid) = ids();
        let p = prompt_for(&bash_request(), id, sid, Timestamp(5));
        assert_eq!(
            (p.kind, p.source, p.title.as_str()),
            (PromptKind::Tool, PromptSource::Hook, "Bash command")
        );
        assert_eq!(p.body, "npm install left-pad\n# Install left-pad package");
        let opts: Vec<_> = p.options.iter().map(|o| (o.id.as_str(), o.label.as_str())).collect();
        assert_eq!(
            opts,
            [
                ("approve", "Yes"),
                ("always", "Yes, and don't ask again for Bash(npm install *) in this project"),
                ("reject", "No")
            ]
        );
        let mut no_sugg = bash_request();
        no_sugg.permission_suggestions.clear();
        let (id, sid) = ids();
        assert!(prompt_for(&no_sugg, id, sid, Timestamp(5)).option("always").is_none());
    }

    #[test]
    fn answers_map_to_the_documented_decisions() {
        let req = bash_request();
        let d = decision(&req, &Answer::Approve { always: false }).unwrap();
        assert_eq!(
            d,
            json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}})
        );
        let d = decision(&req, &Answer::Approve { always: true }).unwrap();
        assert_eq!(
            d["hookSpecificOutput"]["decision"]["updatedPermissions"],
            json!(req.permission_suggestions)
        );
        let d = decision(&req, &Answer::Reject { message: Some("use yarn".into()) }).unwrap();
        assert_eq!(
            d["hookSpecificOutput"]["decision"],
            json!({"behavior": "deny", "message": "use yarn"})
        );
        let d = decision(&req, &Answer::Reject { message: None }).unwrap();
        assert_eq!(
            d["hookSpecificOutput"]["decision"],
            json!({"behavior": "deny", "message": REJECTED_MESSAGE, "interrupt": true})
        );
        assert!(decision(&req, &Answer::Option { option: "7".into() }).is_err());
        let mut plain = req.clone();
        plain.permission_suggestions.clear();
        assert!(decision(&plain, &Answer::Approve { always: true }).is_err(), "nothing to keep");
    }

    #[test]
    fn question_and_plan_decisions() {
        let q: HookPayload = serde_json::from_value(json!({
            "hook_event_name": "PermissionRequest", "tool_name": "AskUserQuestion",
            "tool_input": {"questions": [{"question": "Which database should we use?", "header": "Database",
              "options": [{"label": "Postgres", "description": "Relational, robust"}, {"label": "SQLite", "description": "Embedded, simple"}],
              "multiSelect": false}]}
        }))
        .unwrap();
        let (id, sid) = ids();
        let p = prompt_for(&q, id, sid, Timestamp(0));
        assert_eq!(p.kind, PromptKind::Question);
        assert_eq!(p.questions[0].options[1].label, "SQLite");
        let answers =
            BTreeMap::from([("Which database should we use?".to_owned(), "SQLite".to_owned())]);
        assert!(Answer::Questions { answers: answers.clone() }.validate_for(&p).is_ok());
        let d = decision(&q, &Answer::Questions { answers }).unwrap();
        let dec = &d["hookSpecificOutput"]["decision"];
        assert_eq!(dec["behavior"], "allow");
        assert_eq!(dec["updatedInput"]["questions"], q.tool_input["questions"]);
        assert_eq!(dec["updatedInput"]["answers"]["Which database should we use?"], "SQLite");

        let plan: HookPayload = serde_json::from_value(json!({
            "hook_event_name": "PermissionRequest", "tool_name": "ExitPlanMode",
            "tool_input": {"plan": "# Plan\n1. do it", "planFilePath": "/x.md"}
        }))
        .unwrap();
        let (id, sid) = ids();
        let p = prompt_for(&plan, id, sid, Timestamp(0));
        assert_eq!((p.kind, p.body.as_str()), (PromptKind::Plan, "# Plan\n1. do it"));
        let d = decision(&plan, &Answer::Option { option: OPTION_PLAN_AUTO.into() }).unwrap();
        assert_eq!(
            d["hookSpecificOutput"]["decision"]["updatedPermissions"][0]["mode"],
            "acceptEdits"
        );
        let d = decision(&plan, &Answer::Approve { always: false }).unwrap();
        assert_eq!(d["hookSpecificOutput"]["decision"]["updatedPermissions"][0]["mode"], "default");
    }

    #[test]
    fn settings_register_every_hook_and_keep_the_users() {
        let ours = settings("/opt/it's/cr", None);
        let cmd = ours["hooks"]["PermissionRequest"][0]["hooks"][0]["command"].as_str().unwrap();
        assert_eq!(cmd, r"'/opt/it'\''s/cr' hook");
        for e in STATE_EVENTS {
            assert!(ours["hooks"][e].is_array(), "{e}");
        }
        // The http form: only PermissionRequest changes, and the token is left to Claude
        // Code's interpolation of an allowed environment variable.
        let http = settings("/opt/it's/cr", Some("http://127.0.0.1:9/hook"));
        let h = &http["hooks"]["PermissionRequest"][0]["hooks"][0];
        assert_eq!(h["type"], "http");
        assert_eq!(h["url"], "http://127.0.0.1:9/hook");
        assert_eq!(h["timeout"], PERMISSION_TIMEOUT_SECS);
        assert_eq!(h["headers"][crate::hookserver::TOKEN_HEADER], "$CR_HOOK_TOKEN");
        assert_eq!(h["allowedEnvVars"], json!([ENV_HOOK_TOKEN]));
        for e in STATE_EVENTS {
            assert_eq!(http["hooks"][e], ours["hooks"][e], "{e}");
        }
        let no_file =
            |_: &str| -> std::io::Result<String> { Err(std::io::ErrorKind::NotFound.into()) };
        let args = claude_args(&["--model".into(), "x".into()], &ours, no_file).unwrap();
        assert_eq!(args[0], "--settings");
        assert_eq!(&args[2..], ["--model", "x"]);

        let user = r#"{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"say done"}]}]},"model":"m"}"#;
        let args =
            claude_args(&["--settings".into(), user.into(), "hi".into()], &ours, no_file).unwrap();
        let merged: Value = serde_json::from_str(&args[1]).unwrap();
        assert_eq!(merged["model"], "m");
        assert_eq!(
            merged["hooks"]["Stop"].as_array().unwrap().len(),
            2,
            "the user's Stop hook stays"
        );
        assert_eq!(merged["hooks"]["Stop"][0]["hooks"][0]["command"], "say done");
        assert_eq!(args[2], "hi");

        let file = |p: &str| -> std::io::Result<String> {
            assert_eq!(p, "my.json");
            Ok(r#"{"env":{"A":"1"}}"#.into())
        };
        let args = claude_args(&["--settings=my.json".into()], &ours, file).unwrap();
        let merged: Value = serde_json::from_str(&args[1]).unwrap();
        assert_eq!(merged["env"]["A"], "1");
        assert!(merged["hooks"]["PermissionRequest"].is_array());
        assert!(claude_args(&["--settings".into(), "nope.json".into()], &ours, no_file).is_err());
        assert!(claude_args(&["--settings".into(), "[1]".into()], &ours, no_file).is_err());
    }
}
