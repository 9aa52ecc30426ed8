//! Bodies of the relay's HTTP API (SPEC section 3), shared by the relay, `cr` and tests.
//!
//! Request bodies refuse unknown fields, so a typo such as `{"alway": true}` is a 400 with a
//! message instead of a silent plain approval.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Answer, AnsweredBy, DeviceId, Input, InputError, Key, Prompt, PromptId, PromptStatus, Screen,
    Session, Timestamp,
};

/// `POST /api/pair`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// The one-time code from `cr-server pair-code`.
    pub code: String,
    /// A name for the device; empty takes the name given to `pair-code`.
    #[serde(default)]
    pub name: String,
}

/// Answer to `POST /api/pair`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairResponse {
    /// The new device's id.
    pub device_id: DeviceId,
    /// The device secret: the HMAC key of the link, shown once.
    pub secret: String,
}

impl std::fmt::Debug for PairResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairResponse")
            .field("device_id", &self.device_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// `POST /api/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The one-time token from a login link's fragment.
    pub token: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginRequest { token: <redacted> }")
    }
}

/// A freshly minted phone login link (`cr-server login-link --json`, and the device route
/// behind `cr qr`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginLink {
    /// `{public_url}/login#{token}`.
    pub url: String,
    /// The one-time token (also in the URL's fragment).
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for LoginLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLink").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// `POST /api/prompts/{id}/approve`; an empty body means `always: false`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Yes, and don't ask again.
    #[serde(default)]
    pub always: bool,
}

/// `POST /api/prompts/{id}/reject`; an empty body is a plain no.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// What Claude should do instead.
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /api/prompts/{id}/answer`: exactly one of the two fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// An option id.
    #[serde(default)]
    pub option: Option<String>,
    /// Question text to chosen label.
    #[serde(default)]
    pub answers: Option<BTreeMap<String, String>>,
}

impl AnswerRequest {
    /// The answer it asks for, or a message saying what shape it should have.
    pub fn into_answer(self) -> Result<Answer, &'static str> {
        match (self.option, self.answers) {
            (Some(option), None) => Ok(Answer::Option { option }),
            (None, Some(answers)) => Ok(Answer::Questions { answers }),
            _ => Err(
                "send either {\"option\": \"<option id>\"} or {\"answers\": {\"<question>\": \"<label>\"}}",
            ),
        }
    }
}

impl From<ApproveRequest> for Answer {
    fn from(r: ApproveRequest) -> Self {
        Answer::Approve { always: r.always }
    }
}

impl From<RejectRequest> for Answer {
    fn from(r: RejectRequest) -> Self {
        Answer::Reject { message: r.message.filter(|m| !m.trim().is_empty()) }
    }
}

/// `POST /api/sessions/{id}/input`: text (with optional Enter) or keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRequest {
    /// Text to type.
    #[serde(default)]
    pub text: Option<String>,
    /// Press Enter after the text.
    #[serde(default)]
    pub submit: bool,
    /// Keys to press.
    #[serde(default)]
    pub keys: Option<Vec<Key>>,
}

impl InputRequest {
    /// The validated input.
    pub fn into_input(self) -> Result<Input, InputError> {
        let input = match (self.text, self.keys, self.submit) {
            (Some(text), None, submit) => Input::Text { text, submit },
            (None, None, true) => Input::Text { text: String::new(), submit: true },
            (None, Some(keys), false) => Input::Keys { keys },
            _ => return Err(InputError::Shape),
        };
        input.validate()?;
        Ok(input)
    }
}

/// One transcript line: a row that scrolled off the top of the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Position in the session's transcript; increases, may skip numbers.
    pub seq: u64,
    /// When `cr` saw it scroll off.
    pub at: Timestamp,
    /// The text, trailing blanks trimmed.
    pub line: String,
}

/// `GET /api/sessions/{id}`: the session, its current screen and its pending prompts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDetail {
    /// The session fields, inline.
    #[serde(flatten)]
    pub session: Session,
    /// The current screen, if `cr` ever sent one.
    pub screen: Option<Screen>,
    /// Pending prompts, oldest first.
    pub prompts: Vec<Prompt>,
}

/// Every error body: `{"error": "…"}`, saying what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
}

/// The 409 body of an answer that lost: who got there first, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerConflict {
    /// Human-readable message.
    pub error: String,
    /// The prompt.
    pub prompt_id: PromptId,
    /// Its final state.
    pub status: PromptStatus,
    /// Who settled it.
    pub by: Option<AnsweredBy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_request_needs_exactly_one_field() {
        let opt: AnswerRequest = serde_json::from_str(r#"{"option":"2"}"#).unwrap();
        assert_eq!(opt.into_answer(), Ok(Answer::Option { option: "2".into() }));
        let qa: AnswerRequest = serde_json::from_str(r#"{"answers":{"Q?":"A"}}"#).unwrap();
        assert!(matches!(qa.into_answer(), Ok(Answer::Questions { .. })));
        assert!(AnswerRequest::default().into_answer().is_err());
        let both: AnswerRequest =
            serde_json::from_str(r#"{"option":"1","answers":{"Q?":"A"}}"#).unwrap();
        assert!(both.into_answer().is_err());
        assert!(serde_json::from_str::<AnswerRequest>(r#"{"choice":"1"}"#).is_err());
    }

    #[test]
    fn approve_and_reject_bodies() {
        let a: ApproveRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(Answer::from(a), Answer::Approve { always: false });
        let a: ApproveRequest = serde_json::from_str(r#"{"always":true}"#).unwrap();
        assert_eq!(Answer::from(a), Answer::Approve { always: true });
        let err = serde_json::from_str::<ApproveRequest>(r#"{"alway":true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `alway`"), "{err}");
        let r: RejectRequest = serde_json::from_str(r#"{"message":"  "}"#).unwrap();
        assert_eq!(Answer::from(r), Answer::Reject { message: None });
    }

    #[test]
    fn input_request_shapes() {
        let parse = |s: &str| serde_json::from_str::<InputRequest>(s).unwrap().into_input();
        assert_eq!(
            parse(r#"{"text":"hi","submit":true}"#),
            Ok(Input::Text { text: "hi".into(), submit: true })
        );
        assert_eq!(parse(r#"{"keys":["esc"]}"#), Ok(Input::Keys { keys: vec![Key::Esc] }));
        assert_eq!(parse(r#"{"text":"hi","keys":["esc"]}"#), Err(InputError::Shape));
        assert_eq!(parse(r#"{"keys":["esc"],"submit":true}"#), Err(InputError::Shape));
        assert_eq!(parse("{}"), Err(InputError::Shape));
        assert_eq!(parse(r#"{"keys":[]}"#), Err(InputError::KeyCount));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let r = PairResponse { device_id: DeviceId::new("d1").unwrap(), secret: "s3cret".into() };
        assert!(!format!("{r:?}").contains("s3cret"));
        let l = LoginRequest { token: "t0ken".into() };
        assert!(!format!("{l:?}").contains("t0ken"));
    }
}
