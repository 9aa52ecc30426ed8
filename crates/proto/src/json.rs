//! Writing the JSON of transcript lines fast, byte for byte as `serde_json` writes it.
//!
//! Every line of a `cat` through `cr` is written as JSON twice: by `cr` into an `events`
//! frame and by the relay into the transcript block it stores and sends. `serde_json` looks up
//! every byte of a string in its escape table, which was a fifth of `cr`'s session thread and
//! of the relay's store writer under a `cat` of a large file (`perf record`); a line of output
//! rarely needs escaping, and one that does not is copied whole here.

use crate::{Event, Uplink};

/// Whether `text` has a byte JSON must escape. Checked without stopping early, which the
/// compiler turns into a few wide compares.
fn needs_escape(text: &str) -> bool {
    text.bytes().fold(false, |escape, b| escape | (b < 0x20) | (b == b'"') | (b == b'\\'))
}

/// Appends `text` as a JSON string, exactly as `serde_json` writes it.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text) {
        // Writing to a Vec cannot fail, and a string always serializes.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// [`write_str`] into a `String`, for JSON that is kept as text: building it as bytes would
/// cost a UTF-8 check of the whole of it at the end.
pub fn push_str(out: &mut String, text: &str) {
    if needs_escape(text) {
        out.push_str(&serde_json::to_string(text).expect("a string always serializes"));
    } else {
        out.reserve(text.len() + 2);
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

impl Uplink {
    /// The message as JSON, the same bytes as `serde_json::to_vec` gives, with the text of
    /// transcript lines written by [`write_str`].
    pub fn to_json(&self) -> Vec<u8> {
        let Self::Events { events } = self else {
            return serde_json::to_vec(self).expect("link messages always serialize");
        };
        let text: usize = events
            .iter()
            .map(|n| match &n.event {
                Event::Lines { lines, .. } => lines.iter().map(|l| l.len() + 3).sum(),
                _ => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(text + events.len() * 96 + 32);
        out.extend_from_slice(br#"{"type":"events","events":["#);
        let mut seq = itoa::Buffer::new();
        for (i, numbered) in events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let Event::Lines { at, lines } = &numbered.event else {
                let _ = serde_json::to_writer(&mut out, numbered);
                continue;
            };
            out.extend_from_slice(br#"{"seq":"#);
            out.extend_from_slice(seq.format(numbered.seq).as_bytes());
            out.extend_from_slice(br#","event":{"kind":"lines","at":"#);
            let _ = serde_json::to_writer(&mut out, at);
            out.extend_from_slice(br#","lines":["#);
            for (j, line) in lines.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_str(&mut out, line);
            }
            out.extend_from_slice(b"]}}");
        }
        out.extend_from_slice(b"]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Numbered, Timestamp};

    /// Texts that take each way through [`write_str`].
    const TEXTS: [&str; 7] = [
        "plain",
        "",
        "quote \" backslash \\ tab \t",
        "ctrl \u{1b}[31m \u{7f} \u{0}",
        "ünï ✓ 🦀",
        "\u{2028} line separator, left alone",
        "ends in a backslash \\",
    ];

    #[test]
    fn strings_are_what_serde_json_writes() {
        for text in TEXTS {
            let mut out = b"x".to_vec();
            write_str(&mut out, text);
            assert_eq!(out[1..], serde_json::to_vec(text).unwrap(), "{text:?}");
            let mut out = String::from("x");
            push_str(&mut out, text);
            assert_eq!(out[1..], serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn uplinks_are_what_serde_json_writes() {
        let lines = |n: usize| TEXTS.iter().cycle().take(n).map(|t| (*t).to_owned()).collect();
        let at = Timestamp(1_763_730_000_123);
        let events = [
            Numbered { seq: 1, event: Event::Lines { at, lines: lines(9) } },
            Numbered { seq: 10, event: Event::Line { at, line: TEXTS[2].into() } },
            Numbered { seq: 11, event: Event::Gap { at, lost: 4 } },
            Numbered { seq: 12, event: Event::Lines { at: Timestamp(0), lines: lines(1) } },
            Numbered { seq: 13, event: Event::Ended { at, exit_code: Some(3) } },
        ];
        for n in 0..=events.len() {
            let msg = Uplink::Events { events: events[..n].to_vec() };
            assert_eq!(
                String::from_utf8(msg.to_json()).unwrap(),
                serde_json::to_string(&msg).unwrap()
            );
        }
        assert_eq!(Uplink::Heartbeat.to_json(), serde_json::to_vec(&Uplink::Heartbeat).unwrap());
    }
}
