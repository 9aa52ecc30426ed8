//! Messages of the link between `cr` and the relay: [`Uplink`] (cr → relay) and [`Downlink`]
//! (relay → cr). Framing and MACs are in [`crate::sign`]; the order of messages is described in
//! the crate documentation.

use serde::{Deserialize, Deserializer, Serialize};

use crate::tagged::{Tagged, TaggedVisitor};

use crate::{
    Answer, AnsweredBy, Input, Prompt, PromptId, PromptStatus, Screen, ScreenUpdate, SessionMeta,
    Timestamp,
};

/// Version sent in `hello`. Version 2 added [`Event::Lines`].
pub const LINK_VERSION: u32 = 2;
/// Oldest `hello` version a relay of this version still accepts; it closes links that speak
/// one outside `MIN_LINK_VERSION..=LINK_VERSION`.
pub const MIN_LINK_VERSION: u32 = 1;
/// The WebSocket path of the link.
pub const LINK_PATH: &str = "/ws";

/// cr → relay. Read in place, without serde's buffered form of tagged enums (the tag comes
/// first, as `Serialize` writes it); unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Uplink {
    /// First frame of every connection: which session this link carries.
    Hello {
        /// The sender's [`LINK_VERSION`].
        version: u32,
        /// The session, as `cr` knows it.
        session: SessionMeta,
    },
    /// Numbered events the relay must store; it acknowledges them with [`Downlink::Ack`].
    Events {
        /// In increasing `seq` order.
        events: Vec<Numbered>,
    },
    /// The full screen: after each `welcome`, and whenever the size changes.
    Screen {
        /// The screen.
        screen: Screen,
    },
    /// Rows changed since the previous `screen` or `output` frame on this connection.
    Output {
        /// The changes.
        output: ScreenUpdate,
    },
    /// Sent when nothing else was sent for a heartbeat interval, so silence means death.
    Heartbeat,
}

/// The names of [`Uplink`]'s variants.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UplinkKind {
    Hello,
    Events,
    Screen,
    Output,
    Heartbeat,
}

/// The fields of one [`Uplink`] variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelloFields {
    version: u32,
    session: SessionMeta,
}

/// The fields of one [`Uplink`] variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsFields {
    events: Vec<Numbered>,
}

/// The fields of one [`Uplink`] variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenFields {
    screen: Screen,
}

/// The fields of one [`Uplink`] variant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputFields {
    output: ScreenUpdate,
}

/// No fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl Tagged for Uplink {
    const TAG: &'static str = "type";
    const WHAT: &'static str = "an uplink message";
    type Kind = UplinkKind;

    fn fields<'de, D: Deserializer<'de>>(kind: UplinkKind, d: D) -> Result<Self, D::Error> {
        Ok(match kind {
            UplinkKind::Hello => {
                let HelloFields { version, session } = HelloFields::deserialize(d)?;
                Self::Hello { version, session }
            }
            UplinkKind::Events => Self::Events { events: EventsFields::deserialize(d)?.events },
            UplinkKind::Screen => Self::Screen { screen: ScreenFields::deserialize(d)?.screen },
            UplinkKind::Output => Self::Output { output: OutputFields::deserialize(d)?.output },
            UplinkKind::Heartbeat => {
                NoFields::deserialize(d)?;
                Self::Heartbeat
            }
        })
    }
}

impl<'de> Deserialize<'de> for Uplink {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TaggedVisitor::new())
    }
}

/// An event with its place in the session's event sequence.
///
/// `seq` starts at 1 and increases by one per event for the life of the session; it survives
/// reconnects (the relay tells `cr` in `welcome` how far it has stored) and it is the `seq`
/// of transcript lines in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numbered {
    /// Position in the session's event sequence.
    pub seq: u64,
    /// The event.
    pub event: Event,
}

impl Numbered {
    /// The highest number this event takes: its own, or for [`Event::Lines`] that of its
    /// last line.
    pub fn last_seq(&self) -> u64 {
        match &self.event {
            // Saturating: numbers near the top are nonsense, but must not wrap around.
            Event::Lines { lines, .. } => self.seq.saturating_add(lines.len().max(1) as u64 - 1),
            _ => self.seq,
        }
    }
}

/// Something that happened in the session and must not be lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A row scrolled off the top of the screen: one transcript line.
    Line {
        /// When it scrolled off.
        at: Timestamp,
        /// Its text, trailing blanks trimmed.
        line: String,
    },
    /// Rows that scrolled off together: consecutive transcript lines taking the numbers
    /// `seq`, `seq + 1`, … of the [`Numbered`] that carries them (see
    /// [`Numbered::last_seq`]). How `cr` sends runs of lines since link version 2: one
    /// timestamp and one object per run, not per line.
    Lines {
        /// When they scrolled off.
        at: Timestamp,
        /// Their texts, trailing blanks trimmed; never empty.
        lines: Vec<String>,
    },
    /// `cr`'s buffer overflowed while the relay was unreachable; `lost` events were dropped.
    /// The relay stores it as a transcript line that says so.
    Gap {
        /// When the overflow happened.
        at: Timestamp,
        /// How many events were dropped.
        lost: u64,
    },
    /// A question is waiting for an answer.
    PromptOpened {
        /// The prompt, `pending`. Boxed: every queued transcript line is an `Event` too, and
        /// should not take a prompt's room.
        prompt: Box<Prompt>,
    },
    /// A prompt was settled: answered from the phone, at the keyboard, or gone.
    PromptClosed {
        /// Which prompt.
        prompt_id: PromptId,
        /// Its final state.
        status: PromptStatus,
        /// Who settled it.
        by: AnsweredBy,
        /// When.
        at: Timestamp,
    },
    /// The command exited; the last event of a session.
    Ended {
        /// When.
        at: Timestamp,
        /// Exit code (128+N for signal N), null if unknown.
        exit_code: Option<i32>,
    },
}

/// relay → cr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Downlink {
    /// Answer to `hello`: the highest event `seq` the relay has stored for the session
    /// (0 if none). `cr` drops what is stored and re-sends the rest.
    Welcome {
        /// Highest stored seq.
        acked: u64,
    },
    /// Every event up to and including `seq` is stored.
    Ack {
        /// Highest stored seq.
        seq: u64,
    },
    /// The phone's answer to a prompt. `cr` settles the prompt with a `prompt_closed` event:
    /// the answer's status and `by: phone` if it applied it, or the state that won if the
    /// prompt was already settled.
    Answer {
        /// Which prompt.
        prompt_id: PromptId,
        /// The answer, already validated against the prompt's options.
        answer: Answer,
    },
    /// Text or keys to type into the session.
    Input {
        /// What to type.
        input: Input,
    },
    /// Sent when nothing else was sent for a heartbeat interval.
    Heartbeat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    #[test]
    fn wire_shapes() {
        let hello = Uplink::Hello {
            version: LINK_VERSION,
            session: SessionMeta {
                id: SessionId::new("s1").unwrap(),
                name: "proj".into(),
                command: "claude".into(),
                cwd: "/p".into(),
                started_at: Timestamp(0),
            },
        };
        let v = serde_json::to_value(&hello).unwrap();
        assert_eq!(v["type"], "hello");
        assert_eq!(v["session"]["id"], "s1");

        let ev = Uplink::Events {
            events: vec![Numbered {
                seq: 7,
                event: Event::Line { at: Timestamp(0), line: "hi".into() },
            }],
        };
        let json = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            json,
            r#"{"type":"events","events":[{"seq":7,"event":{"kind":"line","at":"1970-01-01T00:00:00.000Z","line":"hi"}}]}"#
        );
        assert_eq!(serde_json::from_str::<Uplink>(&json).unwrap(), ev);

        let d: Downlink = serde_json::from_str(r#"{"type":"ack","seq":9}"#).unwrap();
        assert_eq!(d, Downlink::Ack { seq: 9 });
        assert!(serde_json::from_str::<Downlink>(r#"{"type":"launch_missiles"}"#).is_err());
        assert!(serde_json::from_str::<Uplink>(r#"{"type":"events","events":[],"x":1}"#).is_err());
    }

    #[test]
    fn uplinks_read_in_place_or_gathered_alike() {
        let line = crate::Row(vec![crate::Span { text: "hi".into(), ..Default::default() }]);
        let output = Uplink::Output {
            output: ScreenUpdate {
                changes: vec![crate::screen::RowChange { row: 3, line }],
                cursor: crate::Cursor { row: 3, col: 2, visible: true },
                ..Default::default()
            },
        };
        let json = serde_json::to_string(&output).unwrap();
        assert!(json.starts_with(r#"{"type":"output","#), "{json}");
        assert_eq!(serde_json::from_str::<Uplink>(&json).unwrap(), output);
        // The tag anywhere else: the same message.
        let fields = &json[r#"{"type":"output","#.len()..json.len() - 1];
        let moved = format!(r#"{{{fields},"type":"output"}}"#);
        assert_eq!(serde_json::from_str::<Uplink>(&moved).unwrap(), output);
        let v = serde_json::to_value(&output).unwrap();
        assert_eq!(serde_json::from_value::<Uplink>(v).unwrap(), output);
        for (bad, why) in [
            (r#"{"type":"heartbeat","x":1}"#, "unknown field `x`"),
            (r#"{"x":1,"type":"heartbeat"}"#, "unknown field `x`"),
            (r#"{"type":"output"}"#, "missing field `output`"),
            (r#"{"type":"nope"}"#, "unknown variant `nope`"),
            (r#"{"events":[]}"#, "missing field `type`"),
            (r#"{}"#, "missing field `type`"),
            (r#"[]"#, "an uplink message"),
            (r#"{"type":"heartbeat","type":"heartbeat"}"#, "unknown field `type`"),
        ] {
            let err = serde_json::from_str::<Uplink>(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(
            serde_json::from_str::<Uplink>(r#"{"type":"heartbeat"}"#).unwrap(),
            Uplink::Heartbeat
        );
    }

    #[test]
    fn a_lines_event_takes_a_number_per_line_and_never_wraps() {
        let run = |seq, n: usize| Numbered {
            seq,
            event: Event::Lines { at: Timestamp(0), lines: vec!["x".into(); n] },
        };
        assert_eq!(run(7, 3).last_seq(), 9);
        assert_eq!(run(7, 1).last_seq(), 7);
        assert_eq!(run(7, 0).last_seq(), 7, "an empty run still holds its own number");
        assert_eq!(run(u64::MAX - 1, 5).last_seq(), u64::MAX);
        let line = Numbered { seq: 4, event: Event::Line { at: Timestamp(0), line: "y".into() } };
        assert_eq!(line.last_seq(), 4);
    }
}
