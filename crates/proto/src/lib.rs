//! The vocabulary `cr`, the relay and the phone share: sessions, screens, prompts, answers,
//! feed events, and the authenticated link between `cr` and the relay. No IO lives here.
//!
//! # Module map
//!
//! - [`ids`]: `SessionId`, `PromptId`, `DeviceId`, validated at the edge.
//! - [`time`]: `Timestamp`, unix milliseconds written as RFC 3339.
//! - [`session`]: `Session` and its status.
//! - [`screen`]: `Screen` snapshots and `ScreenUpdate` row diffs.
//! - [`prompt`]: `Prompt`, its options, and the `Answer` that settles it.
//! - [`input`]: text and keys from the phone.
//! - [`api`]: HTTP request and response bodies.
//! - [`feed`]: server-sent event names and payloads.
//! - [`link`]: `Uplink` / `Downlink` messages.
//! - [`sign`]: handshake signature and per-frame MAC.
//!
//! # The link
//!
//! `cr` opens a WebSocket to `GET /ws`. The upgrade request carries four headers:
//!
//! | header | value |
//! |---|---|
//! | `X-CR-Device` | the device id from pairing |
//! | `X-CR-Timestamp` | unix seconds |
//! | `X-CR-Nonce` | 128 random bits, 32 lowercase hex digits |
//! | `X-CR-Signature` | lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of the device secret, over `"cr-link-v1\n{device}\n{timestamp}\n{nonce}"` |
//!
//! The relay answers 401 without upgrading if the device is unknown or revoked, the signature is
//! wrong, the timestamp is more than 120 s from its clock, or the nonce was seen before.
//!
//! ## Frames
//!
//! After the upgrade every message, both ways, is one binary WebSocket message:
//!
//! ```text
//! offset  size  field
//! 0       8     seq      u64 big-endian; 0 for the first frame of each direction, +1 per frame
//! 8       32    tag      HMAC-SHA256(key_dir, seq ‖ payload)
//! 40      n     payload  UTF-8 JSON of one Uplink (cr → relay) or Downlink (relay → cr)
//! ```
//!
//! `key_dir` is `HMAC-SHA256(secret, "cr-link-v1 uplink\n{device}\n{timestamp}\n{nonce}")` for
//! frames from `cr`, and the same with `downlink` for frames from the relay, using the
//! handshake's values ([`sign::LinkKeys`]). Because the nonce is never reused, every connection
//! has its own keys; because the tag covers the sequence number and the receiver accepts only
//! the next one, a frame cannot be forged, altered, replayed, reordered, dropped unnoticed,
//! reflected to the other direction or moved to another connection, even over plain `ws://`.
//! Any bad frame closes the link. Text frames and frames over 4 MiB are bad frames. WebSocket
//! ping/pong frames carry no data and are not trusted for anything but keeping proxies awake;
//! liveness comes from authenticated `heartbeat` messages.
//!
//! What the MAC does **not** give: secrecy (use `wss://` behind TLS to hide screen contents) and
//! protection against an attacker who holds the device secret.
//!
//! ## Conversation
//!
//! ```text
//! cr                                   relay
//! hello {version, session}        →                     first frame, always
//!                                 ←    welcome {acked}   highest event seq stored
//! screen {…}                      →                     full snapshot after every welcome
//! events [{seq, event}…]          →                     re-sent from acked+1, then new ones
//!                                 ←    ack {seq}         after the events are committed to disk
//! output {…} | screen {…}         →                     whenever the screen changes
//!                                 ←    answer {prompt_id, answer} | input {…}
//! events [{prompt_closed …}]      →                     how cr settled the prompt
//! heartbeat                      ↔                      after 2 s of silence; 3 missed = dead
//! ```
//!
//! Events (transcript lines, prompts opened and closed, the end of the command) are numbered
//! per session from 1. The numbering survives reconnects, and the relay keeps the highest
//! stored number, so after any drop — of the network, of `cr`'s link or of the relay process —
//! `cr` re-sends exactly what is not yet stored and the relay ignores what it already has.
//! A run of transcript lines that scrolled off together travels as one `lines` event whose
//! lines take consecutive numbers from its `seq` (link version 2), so a fast stream costs one
//! small object per run rather than per line.
//! The screen is state, not a log: it is re-sent whole after every `welcome`.
//!
//! ## Unknown messages
//!
//! Both enums refuse unknown types and unknown fields. The relay closes a link that sends one
//! (a newer `cr` must check the relay's version first); `cr` logs and skips an unknown downlink
//! message so an older `cr` keeps working against a newer relay.

pub mod api;
pub mod feed;
pub mod ids;
pub mod input;
pub mod json;
pub mod link;
pub mod prompt;
pub mod screen;
pub mod session;
pub mod sign;
mod tagged;
pub mod time;

pub use api::{
    AnswerConflict, AnswerRequest, ApproveRequest, ErrorBody, InputRequest, LoginLink,
    LoginRequest, PairRequest, PairResponse, RejectRequest, SessionDetail, TranscriptLine,
};
pub use feed::PromptResponse;
pub use ids::{DeviceId, IdError, PromptId, SessionId, validate_id};
pub use input::{Input, InputError, Key};
pub use link::{Downlink, Event, LINK_PATH, LINK_VERSION, MIN_LINK_VERSION, Numbered, Uplink};
pub use prompt::{
    Answer, AnswerError, AnsweredBy, BodyFormat, MAX_MESSAGE_LEN, OPTION_ALWAYS, OPTION_APPROVE,
    OPTION_REJECT, Prompt, PromptKind, PromptOption, PromptSource, PromptStatus, Question,
};
pub use screen::{Color, Cursor, Row, RowChange, Screen, ScreenError, ScreenUpdate, Span};
pub use session::{Session, SessionMeta, SessionStatus};
pub use time::Timestamp;
