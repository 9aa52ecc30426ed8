//! The two forms of a transcript block: the run of transcript lines one `events` frame brought.
//!
//! - Phones get a block as the data of an SSE `lines` event: a JSON array of
//!   `{"seq","at","line"}` objects, the same bytes `serde_json` writes for them.
//! - The database keeps it packed (migration 0003): a JSON array of runs
//!   `[first_seq, at_unix_ms, ["line", ...]]`, one run per stretch of consecutive `seq` numbers
//!   that share a timestamp.
//!
//! A line's JSON string is the same in both forms. [`Block::new`] escapes it once and copies
//! it; [`expand`] copies it back without decoding it. Both build text, never bytes to be
//! checked for UTF-8 afterwards. The packed form drops about 55 bytes a
//! line (its `seq`, its timestamp and the keys): a third of a block of 95-character lines. That
//! is what the store writer spends its time on under a flood of output: copying bytes into the
//! WAL and then into the database file.

use cr_proto::{Timestamp, TranscriptLine};
use serde_json::value::RawValue;

use super::{Result, StoreError};

/// A block in both forms.
pub struct Block {
    /// The SSE `lines` event's data.
    pub json: String,
    /// What the database stores.
    pub packed: String,
}

impl Block {
    /// Both forms of `lines`, which must be in increasing `seq` order. Built as text, not
    /// bytes: turning a block's bytes into a `String` checks all of them for UTF-8 again,
    /// which was a tenth of the store writer's time under a `cat` of a large file.
    pub fn new(lines: &[TranscriptLine]) -> Self {
        let text: usize = lines.iter().map(|l| l.line.len() + 3).sum();
        let mut packed = String::with_capacity(text + 64);
        let mut json = String::with_capacity(text + lines.len() * 56 + 2);
        let mut number = itoa::Buffer::new();
        let mut stamp = String::new();
        let mut prev: Option<&TranscriptLine> = None;
        packed.push('[');
        json.push('[');
        for l in lines {
            let same_at = prev.is_some_and(|p| p.at == l.at);
            let same_run = same_at && prev.is_some_and(|p| p.seq.checked_add(1) == Some(l.seq));
            if !same_at {
                stamp = l.at.to_string();
            }
            if prev.is_some() {
                json.push(',');
                packed.push_str(if same_run { "," } else { "]]," });
            }
            if !same_run {
                packed.push('[');
                packed.push_str(number.format(l.seq));
                packed.push(',');
                packed.push_str(number.format(l.at.0));
                packed.push_str(",[");
            }
            let start = packed.len();
            cr_proto::json::push_str(&mut packed, &l.line);
            push_entry(&mut json, &mut number, l.seq, &stamp, &packed[start..]);
            prev = Some(l);
        }
        if prev.is_some() {
            packed.push_str("]]");
        }
        packed.push(']');
        json.push(']');
        Self { json, packed }
    }
}

/// `{"seq":SEQ,"at":"STAMP","line":LINE}`, with `line` already JSON.
fn push_entry(out: &mut String, number: &mut itoa::Buffer, seq: u64, stamp: &str, line: &str) {
    out.push_str(r#"{"seq":"#);
    out.push_str(number.format(seq));
    out.push_str(r#","at":""#);
    out.push_str(stamp);
    out.push_str(r#"","line":"#);
    out.push_str(line);
    out.push('}');
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("transcript block: {e}"))
}

/// The `seq` of the `i`th line of a run starting at `first`.
fn nth_seq(first: u64, i: usize) -> Result<u64> {
    first.checked_add(i as u64).ok_or_else(|| corrupt("seq out of range"))
}

/// The SSE `lines` data of a packed block.
pub(super) fn expand(packed: &str) -> Result<String> {
    let runs: Vec<(u64, i64, Vec<&RawValue>)> = serde_json::from_str(packed).map_err(corrupt)?;
    let text: usize = runs.iter().flat_map(|r| &r.2).map(|l| l.get().len() + 56).sum();
    let mut out = String::with_capacity(text + 2);
    let mut number = itoa::Buffer::new();
    out.push('[');
    for (first, at, lines) in &runs {
        let stamp = Timestamp(*at).to_string();
        for (i, line) in lines.iter().enumerate() {
            if !line.get().starts_with('"') {
                return Err(corrupt("a line is not a string"));
            }
            if out.len() > 1 {
                out.push(',');
            }
            push_entry(&mut out, &mut number, nth_seq(*first, i)?, &stamp, line.get());
        }
    }
    out.push(']');
    Ok(out)
}

/// The lines of a packed block.
pub(super) fn parse(packed: &str) -> Result<Vec<TranscriptLine>> {
    let runs: Vec<(u64, i64, Vec<String>)> = serde_json::from_str(packed).map_err(corrupt)?;
    let mut out = Vec::with_capacity(runs.iter().map(|r| r.2.len()).sum());
    for (first, at, lines) in runs {
        for (i, line) in lines.into_iter().enumerate() {
            out.push(TranscriptLine { seq: nth_seq(first, i)?, at: Timestamp(at), line });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in several runs: a new timestamp, a gap in `seq`, and texts that need escaping.
    fn lines() -> Vec<TranscriptLine> {
        let texts =
            ["plain", "", "quote \" backslash \\ tab \t", "ctrl \u{1b}[31m \u{7f}", "ünï ✓ 🦀"];
        let seqs = [1, 2, 3, 9, 10, 11, 12];
        let ats = [0, 0, 1_234, 1_234, 1_234, 1_234, 5_000];
        seqs.iter()
            .zip(ats)
            .enumerate()
            .map(|(i, (&seq, at))| TranscriptLine {
                seq,
                at: Timestamp(1_763_730_000_000 + at),
                line: texts[i % texts.len()].to_owned(),
            })
            .collect()
    }

    #[test]
    fn both_forms_hold_the_lines() {
        let lines = lines();
        for n in 0..=lines.len() {
            let block = Block::new(&lines[..n]);
            assert_eq!(block.json, serde_json::to_string(&lines[..n]).unwrap());
            assert_eq!(parse(&block.packed).unwrap(), lines[..n]);
            assert_eq!(expand(&block.packed).unwrap(), block.json);
        }
    }

    #[test]
    fn runs_share_a_timestamp_and_follow_on_in_seq() {
        let block = Block::new(&lines());
        let at = |ms: i64| 1_763_730_000_000 + ms;
        let want = serde_json::json!([
            [1, at(0), ["plain", ""]],
            [3, at(1_234), ["quote \" backslash \\ tab \t"]],
            [9, at(1_234), ["ctrl \u{1b}[31m \u{7f}", "ünï ✓ 🦀", "plain"]],
            [12, at(5_000), [""]],
        ]);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&block.packed).unwrap(), want);
        assert!(block.packed.len() * 2 < block.json.len(), "{}", block.packed);
    }

    #[test]
    fn damaged_blocks_are_reported() {
        for bad in ["", "[[1,2]]", r#"[[1,2,[3]]]"#, r#"[[18446744073709551615,0,["a","b"]]]"#] {
            assert!(matches!(expand(bad), Err(StoreError::Corrupt(_))), "{bad}");
            assert!(matches!(parse(bad), Err(StoreError::Corrupt(_))), "{bad}");
        }
    }
}
