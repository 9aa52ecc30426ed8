//! `Prompt`: a question the program asks, rendered as one card on the phone.
//!
//! The same model serves both sources (a Claude Code hook, or a dialog read off the screen), so
//! the phone never needs to know where a question came from. Three option ids carry meaning of
//! their own so the page can draw Approve / Always / Reject buttons for any prompt:
//! [`OPTION_APPROVE`], [`OPTION_ALWAYS`], [`OPTION_REJECT`]. Every other id is a plain choice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{PromptId, SessionId, Timestamp};

/// Option id meaning "yes, this once".
pub const OPTION_APPROVE: &str = "approve";
/// Option id meaning "yes, and don't ask again" (Claude Code's permission suggestion).
pub const OPTION_ALWAYS: &str = "always";
/// Option id meaning "no" (a message may go with it).
pub const OPTION_REJECT: &str = "reject";

/// Longest free-text message accepted with a rejection or as input, in bytes.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;

/// Where a prompt was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptSource {
    /// Claude Code's `PermissionRequest` hook.
    Hook,
    /// A dialog or `[y/N]` question on the virtual screen.
    Screen,
}

/// What sort of question it is; decides how the page lays out the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// Permission to use a tool (run a command, edit a file, fetch a URL…).
    Tool,
    /// Approval of a plan (leave plan mode).
    Plan,
    /// One or more multiple-choice questions (AskUserQuestion); see [`Prompt::questions`].
    Question,
    /// A generic selection menu (folder trust, MCP server approval, any numbered list).
    Choice,
    /// A yes/no question (`[y/N]`, `(yes/no)`).
    Confirm,
}

/// The life of a prompt: `pending`, then exactly one final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptStatus {
    /// Nobody has answered yet.
    Pending,
    /// Approved (once or always) from the phone.
    Approved,
    /// Rejected from the phone.
    Rejected,
    /// A choice or question answer from the phone.
    Answered,
    /// Answered at the workstation's keyboard before the phone did.
    ResolvedLocally,
    /// Went away unanswered (the session ended, the program moved on, the hook timed out).
    Expired,
}

impl PromptStatus {
    /// The wire name, also used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Answered => "answered",
            Self::ResolvedLocally => "resolved_locally",
            Self::Expired => "expired",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "answered" => Self::Answered,
            "resolved_locally" => Self::ResolvedLocally,
            "expired" => Self::Expired,
            _ => return None,
        })
    }

    /// True for every state but `pending`.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

/// Who settled a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A phone (or a script with an API token) through the relay.
    Phone,
    /// The keyboard at the workstation.
    Terminal,
    /// Nobody: the relay or `cr` expired it.
    Relay,
}

impl AnsweredBy {
    /// The wire name, also used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Terminal => "terminal",
            Self::Relay => "relay",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "phone" => Self::Phone,
            "terminal" => Self::Terminal,
            "relay" => Self::Relay,
            _ => return None,
        })
    }
}

/// How the page should show [`Prompt::body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// Plain text, shown preformatted.
    #[default]
    Text,
    /// A shell command, shown monospaced.
    Command,
    /// Unified-diff lines: each starts with `+`, `-` or a space; `@@` lines separate hunks.
    Diff,
    /// Markdown source (a plan), shown as preformatted text.
    Markdown,
}

impl BodyFormat {
    fn is_text(&self) -> bool {
        *self == Self::Text
    }
}

/// One answer the user can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptOption {
    /// Stable id to answer with; `approve`, `always` and `reject` carry their own meaning.
    pub id: String,
    /// The label as the program shows it.
    pub label: String,
    /// A second line of explanation, if the program gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl PromptOption {
    /// An option without description.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self { id: id.into(), label: label.into(), description: None }
    }
}

/// One question of a `question` prompt (Claude Code's AskUserQuestion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The full question; also the key of the answer map.
    pub question: String,
    /// The short chip shown above it (`Database`).
    #[serde(default)]
    pub header: String,
    /// The choices; an answer is one of their labels (or free text, if `allow_other`).
    pub options: Vec<PromptOption>,
    /// Several labels may be picked; the answer joins them with `, `.
    #[serde(default)]
    pub multi_select: bool,
}

/// A question waiting for an answer, as sent to the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Chosen by `cr`.
    pub id: PromptId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// Hook or screen.
    pub source: PromptSource,
    /// What sort of question.
    pub kind: PromptKind,
    /// Short heading (`Bash command`, `Edit file`, `Ready to code?`).
    pub title: String,
    /// The command, diff, plan or question text.
    pub body: String,
    /// The answers to offer, in the program's order.
    pub options: Vec<PromptOption>,
    /// When it was detected.
    pub created_at: Timestamp,
    /// Current state.
    pub status: PromptStatus,
    /// Who settled it, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<AnsweredBy>,
    /// The tool it asks about (`Bash`, `Edit`…), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// How to show `body`.
    #[serde(default, skip_serializing_if = "BodyFormat::is_text")]
    pub format: BodyFormat,
    /// For `question` prompts: the questions, each with its own options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

impl Prompt {
    /// The option with this id.
    pub fn option(&self, id: &str) -> Option<&PromptOption> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// An answer to a prompt, from the phone to `cr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// Yes; `always` picks the "don't ask again" option.
    Approve {
        /// Pick [`OPTION_ALWAYS`] instead of [`OPTION_APPROVE`].
        #[serde(default)]
        always: bool,
    },
    /// No, optionally telling Claude what to do instead.
    Reject {
        /// Text for Claude; empty or absent means a plain no.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Pick one option by id.
    Option {
        /// One of [`Prompt::options`]' ids.
        option: String,
    },
    /// Answers to a `question` prompt, keyed by the full question text.
    Questions {
        /// Question text to the chosen label (several labels joined with `, `).
        answers: BTreeMap<String, String>,
    },
}

/// Why an answer does not fit a prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// `approve` on a prompt without an approve option.
    #[error("this prompt cannot be approved; pick one of its options: {0}")]
    NoApprove(String),
    /// `always` on a prompt without a don't-ask-again option.
    #[error("this prompt has no \"always\" option; pick one of: {0}")]
    NoAlways(String),
    /// `reject` on a prompt without a reject option.
    #[error("this prompt cannot be rejected; pick one of its options: {0}")]
    NoReject(String),
    /// An option id the prompt does not have.
    #[error("unknown option {0:?}; pick one of: {1}")]
    UnknownOption(String, String),
    /// `answers` given for a prompt that is not a question, or naming a question it lacks.
    #[error("{0}")]
    BadAnswers(String),
    /// The rejection message is longer than [`MAX_MESSAGE_LEN`].
    #[error("the message is longer than {MAX_MESSAGE_LEN} bytes")]
    MessageTooLong,
}

impl Answer {
    /// Checks the answer against what the prompt offers, so a bad answer is refused with a
    /// clear message before it travels anywhere.
    pub fn validate_for(&self, prompt: &Prompt) -> Result<(), AnswerError> {
        let ids =
            || prompt.options.iter().map(|o| format!("{:?}", o.id)).collect::<Vec<_>>().join(", ");
        match self {
            Answer::Approve { always: false } if prompt.option(OPTION_APPROVE).is_none() => {
                Err(AnswerError::NoApprove(ids()))
            }
            Answer::Approve { always: true } if prompt.option(OPTION_ALWAYS).is_none() => {
                Err(AnswerError::NoAlways(ids()))
            }
            Answer::Reject { .. } if prompt.option(OPTION_REJECT).is_none() => {
                Err(AnswerError::NoReject(ids()))
            }
            Answer::Reject { message: Some(m) } if m.len() > MAX_MESSAGE_LEN => {
                Err(AnswerError::MessageTooLong)
            }
            Answer::Option { option } if prompt.option(option).is_none() => {
                Err(AnswerError::UnknownOption(option.clone(), ids()))
            }
            Answer::Questions { answers } => {
                if prompt.questions.is_empty() {
                    return Err(AnswerError::BadAnswers(format!(
                        "this prompt has no questions; answer with {{\"option\": …}}, one of: {}",
                        ids()
                    )));
                }
                if answers.is_empty() {
                    return Err(AnswerError::BadAnswers("\"answers\" is empty".into()));
                }
                for (q, a) in answers {
                    if !prompt.questions.iter().any(|x| &x.question == q) {
                        return Err(AnswerError::BadAnswers(format!(
                            "no question {q:?} in this prompt"
                        )));
                    }
                    if a.len() > MAX_MESSAGE_LEN {
                        return Err(AnswerError::MessageTooLong);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The final status this answer gives a prompt.
    pub fn status(&self) -> PromptStatus {
        match self {
            Answer::Approve { .. } => PromptStatus::Approved,
            Answer::Reject { .. } => PromptStatus::Rejected,
            Answer::Option { option } if option == OPTION_APPROVE || option == OPTION_ALWAYS => {
                PromptStatus::Approved
            }
            Answer::Option { option } if option == OPTION_REJECT => PromptStatus::Rejected,
            Answer::Option { .. } | Answer::Questions { .. } => PromptStatus::Answered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool_prompt(options: &[(&str, &str)]) -> Prompt {
        Prompt {
            id: PromptId::new("p1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            source: PromptSource::Hook,
            kind: PromptKind::Tool,
            title: "Bash command".into(),
            body: "rm -rf build".into(),
            options: options.iter().map(|(id, l)| PromptOption::new(*id, *l)).collect(),
            created_at: Timestamp(0),
            status: PromptStatus::Pending,
            by: None,
            tool: Some("Bash".into()),
            format: BodyFormat::Command,
            questions: vec![],
        }
    }

    #[test]
    fn status_and_by_names_round_trip() {
        use PromptStatus::*;
        for s in [Pending, Approved, Rejected, Answered, ResolvedLocally, Expired] {
            assert_eq!(PromptStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
            assert_eq!(s.is_final(), s != Pending);
        }
        for b in [AnsweredBy::Phone, AnsweredBy::Terminal, AnsweredBy::Relay] {
            assert_eq!(AnsweredBy::parse(b.as_str()), Some(b));
        }
    }

    #[test]
    fn answers_are_checked_against_the_options() {
        let p = tool_prompt(&[("approve", "Yes"), ("reject", "No")]);
        assert!(Answer::Approve { always: false }.validate_for(&p).is_ok());
        assert!(matches!(
            Answer::Approve { always: true }.validate_for(&p),
            Err(AnswerError::NoAlways(ids)) if ids == "\"approve\", \"reject\""
        ));
        assert!(
            Answer::Reject { message: Some("use cargo clean".into()) }.validate_for(&p).is_ok()
        );
        assert_eq!(
            Answer::Reject { message: Some("x".repeat(MAX_MESSAGE_LEN + 1)) }.validate_for(&p),
            Err(AnswerError::MessageTooLong)
        );
        assert!(matches!(
            Answer::Option { option: "3".into() }.validate_for(&p),
            Err(AnswerError::UnknownOption(o, _)) if o == "3"
        ));
        assert!(matches!(
            Answer::Questions { answers: BTreeMap::new() }.validate_for(&p),
            Err(AnswerError::BadAnswers(_))
        ));
        let choice = tool_prompt(&[("1", "Use this MCP server"), ("2", "Continue without")]);
        assert!(matches!(
            Answer::Approve { always: false }.validate_for(&choice),
            Err(AnswerError::NoApprove(_))
        ));
        assert!(matches!(
            Answer::Reject { message: None }.validate_for(&choice),
            Err(AnswerError::NoReject(_))
        ));
    }

    #[test]
    fn question_answers_must_name_real_questions() {
        let mut p = tool_prompt(&[]);
        p.kind = PromptKind::Question;
        p.questions = vec![Question {
            question: "Which database should we use?".into(),
            header: "Database".into(),
            options: vec![PromptOption::new("1", "Postgres"), PromptOption::new("2", "SQLite")],
            multi_select: false,
        }];
        let good = BTreeMap::from([("Which database should we use?".into(), "SQLite".into())]);
        assert!(Answer::Questions { answers: good }.validate_for(&p).is_ok());
        let bad = BTreeMap::from([("Which editor?".into(), "vim".into())]);
        assert!(Answer::Questions { answers: bad }.validate_for(&p).is_err());
    }

    #[test]
    fn answer_status() {
        assert_eq!(Answer::Approve { always: true }.status(), PromptStatus::Approved);
        assert_eq!(Answer::Reject { message: None }.status(), PromptStatus::Rejected);
        assert_eq!(Answer::Option { option: "always".into() }.status(), PromptStatus::Approved);
        assert_eq!(Answer::Option { option: "reject".into() }.status(), PromptStatus::Rejected);
        assert_eq!(Answer::Option { option: "2".into() }.status(), PromptStatus::Answered);
    }

    #[test]
    fn prompt_json_has_the_spec_keys_and_skips_empty_extras() {
        let p = tool_prompt(&[("approve", "Yes")]);
        let v = serde_json::to_value(&p).unwrap();
        for key in [
            "id",
            "session_id",
            "source",
            "kind",
            "title",
            "body",
            "options",
            "created_at",
            "status",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["options"][0], serde_json::json!({"id": "approve", "label": "Yes"}));
        assert!(v.get("questions").is_none() && v.get("by").is_none());
        assert_eq!(v["format"], "command");
        assert_eq!(serde_json::from_value::<Prompt>(v).unwrap(), p);
    }

    #[test]
    fn answer_wire_form() {
        let a: Answer = serde_json::from_str(r#"{"type":"reject","message":"no"}"#).unwrap();
        assert_eq!(a, Answer::Reject { message: Some("no".into()) });
        assert!(serde_json::from_str::<Answer>(r#"{"type":"approve","alway":true}"#).is_err());
    }
}
