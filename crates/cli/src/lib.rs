//! `cr`: runs a command in a PTY so the terminal works exactly as before, keeps a virtual
//! screen of it, and links it to a claude-remote relay so a phone can watch and answer.
//!
//! # Module map
//!
//! Out, along the data flow: `pty → screen → prompt → uplink → link`
//!
//! - [`pty`]: the child in a PTY; the reader thread mirrors output to the terminal first.
//! - [`screen`]: the `vt100` emulator, snapshots and diffs, transcript lines.
//! - [`detect`]: a screen → the question it asks, frame by frame (pure).
//! - [`prompt`]: open prompts against the settled screen: open, join, close, answer (pure).
//! - [`hooks`]: Claude Code hook settings, hook prompts, decision JSON (pure).
//! - [`claude`]: which Claude Code a command starts, so which hooks it can run.
//! - [`uplink`]: the numbered, acknowledged, bounded event queue (pure).
//! - [`link`]: the WebSocket to the relay: handshake, MAC'd frames, heartbeats, backoff.
//!
//! Back: `link → downlink → keys → pty`
//!
//! - [`downlink`]: open prompts; may this answer be applied now? (pure)
//! - [`keys`]: answers and phone input → verified keystrokes (pure).
//! - [`hookserver`]: the loopback server hook calls come in through, and `cr hook`.
//!
//! Around them: [`session`] (the one `select!` loop that owns a run), [`term`] (raw mode,
//! stdin, window size), [`config`] (flags, `CR_*`, the config file), [`net`] (URLs, TCP/TLS,
//! HTTP requests), [`device`] (`cr pair`, `cr qr`) and [`logfile`] (the log file's own
//! writer thread).

pub mod claude;
pub mod config;
pub mod detect;
pub mod device;
pub mod downlink;
pub mod hooks;
pub mod hookserver;
pub mod keys;
pub mod link;
pub mod logfile;
pub mod net;
pub mod prompt;
pub mod pty;
pub mod screen;
pub mod session;
pub mod stream;
pub mod term;
pub mod uplink;

/// The current time.
pub fn now() -> cr_proto::Timestamp {
    cr_proto::Timestamp::now()
}
