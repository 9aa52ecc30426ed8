//! The uplink queue: numbered events waiting for the relay's acknowledgement. Pure; no IO.
//!
//! Every event `cr` must not lose (transcript line, gap, prompt opened or closed, ended) gets
//! the next number of the session's sequence (docs/design.md "Event numbering") and stays here
//! until the relay acknowledges it. After a reconnect, `welcome {acked}` says what the relay
//! already stored; everything after it is sent again. The queue is bounded by bytes: when the
//! relay is away for long, the oldest transcript lines make room and are replaced by one `gap`
//! event, so the transcript says plainly that something is missing. Prompt events and the end
//! are never dropped (they are few and small, and losing one would strand a phone card).

use std::collections::VecDeque;

use cr_proto::json::EventsJson;
use cr_proto::{Event, Numbered, Timestamp};

/// Most bytes of unacknowledged events kept: about 200,000 lines, hours of a busy session's
/// transcript while the relay is away, and enough for a `cat` of a huge file to ride out the
/// relay's pauses (a checkpoint, a busy CPU) without losing lines while it is linked.
pub const UPLINK_LIMIT_BYTES: usize = 32 << 20;
/// Largest batch of events put in one `events` frame, in (estimated) bytes; well under the
/// link's 4 MiB frame limit.
pub const BATCH_LIMIT_BYTES: usize = 256 << 10;
/// Fixed cost of one event on the wire besides its text (seq, kind, timestamp, JSON syntax).
const EVENT_OVERHEAD_BYTES: usize = 80;

#[derive(Debug)]
struct Entry {
    numbered: Numbered,
    bytes: usize,
}

/// The reliable outbound queue of one session.
#[derive(Debug)]
pub struct Uplink {
    entries: VecDeque<Entry>,
    /// Bytes held in `entries`.
    bytes: usize,
    /// The number the next event takes.
    next_seq: u64,
    /// Highest seq handed to the link on the current connection (re-set at `welcome`).
    sent: u64,
    limit: usize,
}

impl Default for Uplink {
    fn default() -> Self {
        Self::with_limit(UPLINK_LIMIT_BYTES)
    }
}

/// Estimated wire size of an event, used for the byte bound.
fn estimate(event: &Event) -> usize {
    EVENT_OVERHEAD_BYTES
        + match event {
            Event::Line { line, .. } => line.len(),
            Event::Lines { lines, .. } => {
                lines.iter().map(|l| l.len() + EVENT_OVERHEAD_BYTES).sum()
            }
            Event::PromptOpened { prompt } => {
                serde_json::to_string(prompt).map_or(prompt.body.len(), |s| s.len())
            }
            Event::Gap { .. } | Event::PromptClosed { .. } | Event::Ended { .. } => 0,
        }
}

impl Uplink {
    /// A queue holding at most `limit` bytes of droppable events.
    pub fn with_limit(limit: usize) -> Self {
        Self { entries: VecDeque::new(), bytes: 0, next_seq: 1, sent: 0, limit }
    }

    /// Numbers `event`, queues it and returns its seq. May drop the oldest transcript lines.
    pub fn push(&mut self, event: Event) -> u64 {
        let numbered = Numbered { seq: self.next_seq, event };
        let seq = numbered.seq;
        self.next_seq = numbered.last_seq() + 1;
        let bytes = estimate(&numbered.event);
        self.bytes += bytes;
        self.entries.push_back(Entry { numbered, bytes });
        self.shed();
        seq
    }

    /// Drops runs of the oldest lines (and earlier gaps) until the queue fits, replacing each
    /// run with one gap that carries the number of the last event it replaced.
    fn shed(&mut self) {
        let mut from = 0;
        while self.bytes > self.limit {
            let Some(start) = (from..self.entries.len()).find(|&i| droppable(&self.entries[i]))
            else {
                return; // only prompts and the end are left: those are kept whatever they cost
            };
            let mut end = start;
            let mut lost = 0;
            let mut freed = 0;
            let mut at = Timestamp(0);
            while end < self.entries.len() && droppable(&self.entries[end]) {
                let e = &self.entries[end];
                lost += match &e.numbered.event {
                    Event::Gap { lost, .. } => *lost,
                    Event::Lines { lines, .. } => lines.len().max(1) as u64,
                    _ => 1,
                };
                if let Event::Line { at: t, .. }
                | Event::Lines { at: t, .. }
                | Event::Gap { at: t, .. } = e.numbered.event
                {
                    at = t;
                }
                freed += e.bytes;
                end += 1;
                if self.bytes - freed + EVENT_OVERHEAD_BYTES <= self.limit {
                    break;
                }
            }
            let last_seq = self.entries[end - 1].numbered.last_seq();
            let gap = Event::Gap { at, lost };
            let gap_bytes = estimate(&gap);
            if end - start == 1 && matches!(self.entries[start].numbered.event, Event::Gap { .. }) {
                // A lone gap frees nothing; look further on.
                from = start + 1;
                continue;
            }
            self.entries.drain(start..end);
            self.entries.insert(
                start,
                Entry { numbered: Numbered { seq: last_seq, event: gap }, bytes: gap_bytes },
            );
            self.bytes = self.bytes - freed + gap_bytes;
            from = start;
        }
    }

    /// The relay's `welcome`: forget what it stored; send the rest again from the start.
    pub fn welcome(&mut self, acked: u64) {
        self.ack(acked);
        self.sent = acked;
    }

    /// The relay stored everything up to `seq`.
    pub fn ack(&mut self, seq: u64) {
        while self.entries.front().is_some_and(|e| e.numbered.last_seq() <= seq) {
            let e = self.entries.pop_front().expect("front exists");
            self.bytes -= e.bytes;
        }
    }

    /// The next events not yet sent on this connection as one `events` message, and the seq of
    /// the last of them; `None` when all are sent. At most about [`BATCH_LIMIT_BYTES`] (always
    /// at least one event), with runs of lines of one moment joined into `lines` events.
    /// Written straight from the queue: the lines are not copied before they are encoded. Call
    /// [`Uplink::mark_sent`] once it is handed to the link.
    pub fn unsent_json(&self) -> Option<(Vec<u8>, u64)> {
        // Entries are in increasing seq order: skip the sent ones without walking them (a
        // busy session keeps tens of thousands waiting for their acknowledgement).
        let first = self.entries.partition_point(|e| e.numbered.last_seq() <= self.sent);
        let mut end = first;
        let mut bytes = 0;
        for e in self.entries.range(first..) {
            if end > first && bytes + e.bytes > BATCH_LIMIT_BYTES {
                break;
            }
            bytes += e.bytes;
            end += 1;
        }
        let batch = self.entries.range(first..end);
        let mut out = EventsJson::with_capacity(bytes);
        let mut last = None;
        for e in batch {
            match &e.numbered.event {
                Event::Line { at, line } => out.line(e.numbered.seq, *at, line),
                Event::Lines { at, lines } => out.lines(&e.numbered, *at, lines),
                _ => out.event(&e.numbered),
            }
            last = Some(e.numbered.last_seq());
        }
        last.map(|last| (out.finish(), last))
    }

    /// The link took every event up to `seq`.
    pub fn mark_sent(&mut self, seq: u64) {
        self.sent = self.sent.max(seq);
    }

    /// True when some event has not been handed to the link on this connection.
    pub fn has_unsent(&self) -> bool {
        self.entries.back().is_some_and(|e| e.numbered.last_seq() > self.sent)
    }

    /// True when nothing is waiting for an acknowledgement.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when `seq` has been acknowledged (or dropped into an acknowledged gap).
    pub fn is_acked(&self, seq: u64) -> bool {
        self.entries.front().is_none_or(|e| e.numbered.seq > seq)
    }

    /// Bytes held (estimated).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

fn droppable(e: &Entry) -> bool {
    matches!(e.numbered.event, Event::Line { .. } | Event::Lines { .. } | Event::Gap { .. })
}

#[cfg(test)]
mod tests {
    use cr_proto::{AnsweredBy, PromptId, PromptStatus};

    use super::*;

    fn line(i: usize) -> Event {
        Event::Line { at: Timestamp(i as i64), line: format!("line {i:04} {}", "x".repeat(100)) }
    }

    fn closed(id: &str) -> Event {
        Event::PromptClosed {
            prompt_id: PromptId::new(id).unwrap(),
            status: PromptStatus::Approved,
            by: AnsweredBy::Phone,
            at: Timestamp(0),
        }
    }

    /// What [`Uplink::unsent_json`] gives, read back; checks the seq it says is the last.
    fn unsent(q: &Uplink) -> Vec<Numbered> {
        let Some((json, last)) = q.unsent_json() else { return Vec::new() };
        let cr_proto::Uplink::Events { events } = serde_json::from_slice(&json).unwrap() else {
            panic!("not an events message: {}", String::from_utf8_lossy(&json));
        };
        assert_eq!(events.last().map(Numbered::last_seq), Some(last));
        events
    }

    /// Every number the events take (a `lines` event one per line).
    fn seqs(v: &[Numbered]) -> Vec<u64> {
        v.iter().flat_map(|n| n.seq..=n.last_seq()).collect()
    }

    #[test]
    fn numbers_from_one_and_resends_after_welcome() {
        let mut q = Uplink::default();
        assert_eq!(q.push(line(1)), 1);
        assert_eq!(q.push(line(2)), 2);
        assert_eq!(q.push(closed("p1")), 3);
        let batch = unsent(&q);
        assert_eq!(seqs(&batch), [1, 2, 3]);
        assert!(q.has_unsent());
        q.mark_sent(3);
        assert!(unsent(&q).is_empty(), "sent events are not sent twice on one connection");
        assert!(!q.has_unsent());
        q.ack(1);
        // The link dropped; the relay stored up to 2 before it did.
        q.welcome(2);
        assert!(q.has_unsent(), "a new connection sends what the relay has not stored");
        assert_eq!(seqs(&unsent(&q)), [3]);
        q.push(line(4));
        assert_eq!(seqs(&unsent(&q)), [3, 4]);
        q.ack(4);
        assert!(q.is_empty() && q.is_acked(4) && q.bytes() == 0);
    }

    #[test]
    fn welcome_with_nothing_stored_resends_everything() {
        let mut q = Uplink::default();
        for i in 0..5 {
            q.push(line(i));
        }
        q.mark_sent(5);
        q.welcome(0);
        assert_eq!(seqs(&unsent(&q)), [1, 2, 3, 4, 5]);
        assert!(!q.is_acked(1));
    }

    #[test]
    fn batches_are_bounded_but_never_empty() {
        let mut q = Uplink::default();
        q.push(Event::Line { at: Timestamp(0), line: "y".repeat(BATCH_LIMIT_BYTES * 2) });
        q.push(line(2));
        assert_eq!(seqs(&unsent(&q)), [1], "one oversized event still goes alone");
        q.mark_sent(1);
        assert_eq!(seqs(&unsent(&q)), [2]);
        let mut q = Uplink::default();
        for i in 0..10_000 {
            q.push(line(i));
        }
        let batch = unsent(&q);
        assert!(batch.len() > 100 && batch.len() < 10_000, "{}", batch.len());
    }

    #[test]
    fn overflow_drops_oldest_lines_into_one_gap_and_keeps_prompts() {
        let mut q = Uplink::with_limit(20 * (EVENT_OVERHEAD_BYTES + 110));
        q.push(line(0));
        q.push(closed("keep")); // seq 2: must survive
        for i in 3..=200 {
            q.push(line(i));
        }
        assert!(q.bytes() <= 20 * (EVENT_OVERHEAD_BYTES + 110));
        let all = unsent(&q);
        let kept: Vec<_> = all.iter().map(|n| (n.seq, &n.event)).collect();
        // First a gap for line 1 (seq 1), then the prompt event, then a gap, then the newest lines.
        assert!(matches!(kept[0], (1, Event::Gap { lost: 1, .. })), "{kept:?}");
        assert!(matches!(kept[1], (2, Event::PromptClosed { .. })));
        let Event::Gap { lost, .. } = kept[2].1 else { panic!("{kept:?}") };
        let first_line = kept[3].0;
        assert_eq!(kept[2].0, first_line - 1, "the gap takes the number of the last dropped");
        assert_eq!(*lost, first_line - 3, "every dropped line is counted");
        assert_eq!(all.last().unwrap().seq, 200);
        // Numbers still increase.
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        // Counting survives repeated overflow: gaps merge.
        for i in 201..=400 {
            q.push(line(i));
        }
        let all = unsent(&q);
        let lost: u64 =
            all.iter().map(|n| if let Event::Gap { lost, .. } = n.event { lost } else { 0 }).sum();
        let lines: u64 = all
            .iter()
            .map(|n| if let Event::Lines { lines, .. } = &n.event { lines.len() as u64 } else { 0 })
            .sum();
        assert_eq!(lost + lines, 399, "399 lines pushed: each is either kept or counted lost");
        assert_eq!(all.iter().filter(|n| matches!(n.event, Event::Gap { .. })).count(), 2);
    }

    #[test]
    fn prompt_events_are_kept_even_past_the_limit() {
        let mut q = Uplink::with_limit(10);
        for i in 0..50 {
            q.push(closed(&format!("p{i}")));
        }
        assert_eq!(unsent(&q).len(), 50);
    }

    #[test]
    fn lines_of_one_moment_travel_as_one_event() {
        let mut q = Uplink::default();
        let at = |t| Timestamp(t);
        let l = |t, s: &str| Event::Line { at: at(t), line: s.into() };
        for e in [l(1, "a"), l(1, "b"), l(1, "c"), l(2, "d"), closed("p1"), l(2, "e"), l(2, "f")] {
            q.push(e);
        }
        let batch = unsent(&q);
        let lines = |at_ms, v: &[&str]| Event::Lines {
            at: at(at_ms),
            lines: v.iter().map(|s| (*s).to_owned()).collect(),
        };
        let want = vec![
            Numbered { seq: 1, event: lines(1, &["a", "b", "c"]) },
            Numbered { seq: 4, event: lines(2, &["d"]) },
            Numbered { seq: 5, event: closed("p1") },
            Numbered { seq: 6, event: lines(2, &["e", "f"]) },
        ];
        assert_eq!(batch, want, "runs split where the moment changes and at other events");
        assert_eq!(seqs(&batch), [1, 2, 3, 4, 5, 6, 7]);
        q.mark_sent(batch.last().unwrap().last_seq());
        assert!(unsent(&q).is_empty());

        // A `lines` event queued as such takes one number per line, and is shed, acked and
        // re-sent whole.
        q.push(lines(3, &["g", "h", "i"]));
        let seq = q.push(l(3, "j"));
        assert_eq!(seq, 11, "the three lines took 8, 9 and 10");
        assert_eq!(unsent(&q), [Numbered { seq: 8, event: lines(3, &["g", "h", "i", "j"]) }]);
        q.ack(10);
        assert_eq!(seqs(&unsent(&q)), [11]);
        assert!(q.is_acked(10) && !q.is_acked(11));
    }

    #[test]
    fn a_queued_line_costs_about_its_estimate() {
        // The byte bound is only a memory bound if an entry's own size (a line's text aside)
        // fits in the fixed cost the estimate charges; a large variant inline would double it.
        assert!(
            std::mem::size_of::<Entry>() <= EVENT_OVERHEAD_BYTES,
            "{} bytes per entry",
            std::mem::size_of::<Entry>()
        );
    }
}
