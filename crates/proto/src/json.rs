//! Writing the JSON of transcript lines fast, byte for byte as `serde_json` writes it.
//!
//! Every line of a `cat` through `cr` is written as JSON twice: by `cr` into an `events`
//! frame and by the relay into the transcript block it stores and sends. `serde_json` looks up
//! every byte of a string in its escape table, which was a fifth of `cr`'s session thread and
//! of the relay's store writer under a `cat` of a large file (`perf record`); a line of output
//! rarely needs escaping, and one that does not is copied whole here.

use crate::{Event, Numbered, Timestamp, Uplink};

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
        let mut out = EventsJson::with_capacity(text + events.len() * 96);
        for numbered in events {
            match &numbered.event {
                Event::Lines { at, lines } => {
                    // As serde writes it: one event per `lines`, never joined with the last.
                    out.end_run();
                    out.lines(numbered, *at, lines);
                }
                _ => out.event(numbered),
            }
        }
        out.finish()
    }
}

/// An `events` link message written straight from borrowed events, so `cr` sends the lines it
/// keeps for re-sending without copying each one first.
///
/// [`EventsJson::line`] joins lines into one `lines` event while they follow on in `seq` and
/// share a timestamp, as `cr` sends runs of lines that scrolled off together.
pub struct EventsJson {
    out: Vec<u8>,
    number: itoa::Buffer,
    /// Events written so far.
    count: usize,
    /// The open `lines` event: the `seq` its next line would take, and its timestamp.
    run: Option<(u64, Timestamp)>,
}

impl EventsJson {
    /// An empty message with room for about `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = Vec::with_capacity(bytes + 32);
        out.extend_from_slice(br#"{"type":"events","events":["#);
        Self { out, number: itoa::Buffer::new(), count: 0, run: None }
    }

    /// How many events are written (a `lines` event counts once).
    pub fn len(&self) -> usize {
        self.count
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends any event; an [`Event::Lines`] goes as it is, never joined with others.
    pub fn event(&mut self, numbered: &Numbered) {
        self.end_run();
        self.separate();
        let _ = serde_json::to_writer(&mut self.out, numbered);
    }

    /// Appends transcript line `seq`: to the open `lines` event if it follows on from it at
    /// the same moment, else as a new one.
    pub fn line(&mut self, seq: u64, at: Timestamp, text: &str) {
        if self.run == Some((seq, at)) {
            self.out.push(b',');
        } else {
            self.end_run();
            self.separate();
            self.out.extend_from_slice(br#"{"seq":"#);
            self.out.extend_from_slice(self.number.format(seq).as_bytes());
            self.out.extend_from_slice(br#","event":{"kind":"lines","at":"#);
            let _ = serde_json::to_writer(&mut self.out, &at);
            self.out.extend_from_slice(br#","lines":["#);
        }
        write_str(&mut self.out, text);
        self.run = Some((seq.saturating_add(1), at));
    }

    /// Appends the lines of a `lines` event numbered from `numbered.seq` through
    /// [`EventsJson::line`]; one with no lines goes as it is.
    pub fn lines(&mut self, numbered: &Numbered, at: Timestamp, lines: &[String]) {
        if lines.is_empty() {
            self.event(numbered);
        }
        for (i, line) in lines.iter().enumerate() {
            self.line(numbered.seq.saturating_add(i as u64), at, line);
        }
    }

    /// The message.
    pub fn finish(mut self) -> Vec<u8> {
        self.end_run();
        self.out.extend_from_slice(b"]}");
        self.out
    }

    fn end_run(&mut self) {
        if self.run.take().is_some() {
            self.out.extend_from_slice(b"]}}");
        }
    }

    fn separate(&mut self) {
        if self.count > 0 {
            self.out.push(b',');
        }
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Numbered { seq: 13, event: Event::Lines { at: Timestamp(0), lines: lines(2) } },
            Numbered { seq: 15, event: Event::Lines { at: Timestamp(0), lines: vec![] } },
            Numbered { seq: 16, event: Event::Ended { at, exit_code: Some(3) } },
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

    #[test]
    fn lines_join_while_they_follow_on_at_one_moment() {
        let (a, b) = (Timestamp(1_763_730_000_123), Timestamp(1_763_730_000_456));
        let mut out = EventsJson::with_capacity(0);
        assert!(out.is_empty());
        out.line(1, a, TEXTS[0]);
        out.line(2, a, TEXTS[2]);
        out.line(3, b, TEXTS[3]); // a new moment
        out.line(5, b, TEXTS[4]); // a hole in the numbers
        out.line(6, b, TEXTS[1]);
        let gap = Numbered { seq: 7, event: Event::Gap { at: b, lost: 2 } };
        out.event(&gap);
        out.line(8, b, TEXTS[0]); // after another event
        assert_eq!(out.len(), 5);
        let lines = |at, texts: &[&str]| Event::Lines {
            at,
            lines: texts.iter().map(|t| (*t).to_owned()).collect(),
        };
        let want = Uplink::Events {
            events: vec![
                Numbered { seq: 1, event: lines(a, &[TEXTS[0], TEXTS[2]]) },
                Numbered { seq: 3, event: lines(b, &[TEXTS[3]]) },
                Numbered { seq: 5, event: lines(b, &[TEXTS[4], TEXTS[1]]) },
                gap,
                Numbered { seq: 8, event: lines(b, &[TEXTS[0]]) },
            ],
        };
        assert_eq!(String::from_utf8(out.finish()).unwrap(), serde_json::to_string(&want).unwrap());
        let empty = EventsJson::with_capacity(0).finish();
        assert_eq!(empty, serde_json::to_vec(&Uplink::Events { events: vec![] }).unwrap());
    }
}
