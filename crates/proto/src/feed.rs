//! The feed: server-sent events from the relay to phones (`GET /events`).
//!
//! Event names are the SPEC's; data is JSON. `session_*` carry a [`crate::Session`], `prompt`
//! a [`crate::Prompt`], `prompt_response` a [`PromptResponse`]. On the session stream
//! (`?session=ID`), `screen` carries a [`crate::Screen`], `output` a [`crate::ScreenUpdate`]
//! and `lines` an array of [`crate::TranscriptLine`].

use serde::{Deserialize, Serialize};

use crate::{AnsweredBy, PromptId, PromptStatus};

/// A session appeared.
pub const SESSION_START: &str = "session_start";
/// A session's status or pending count changed.
pub const SESSION_UPDATE: &str = "session_update";
/// A session ended.
pub const SESSION_END: &str = "session_end";
/// A new prompt.
pub const PROMPT: &str = "prompt";
/// A prompt was settled.
pub const PROMPT_RESPONSE: &str = "prompt_response";
/// Full screen snapshot (session stream only).
pub const SCREEN: &str = "screen";
/// Changed rows (session stream only).
pub const OUTPUT: &str = "output";
/// Transcript lines appended (session stream only).
pub const LINES: &str = "lines";

/// Data of a `prompt_response` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptResponse {
    /// The prompt.
    pub prompt_id: PromptId,
    /// Its final state.
    pub status: PromptStatus,
    /// Who settled it.
    pub by: AnsweredBy,
}
