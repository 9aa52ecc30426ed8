//! The measurements, one module per row group of the issue, and what they share.

pub mod fanout;
pub mod footprint;
pub mod keystroke;
pub mod output;
pub mod question;
pub mod scale;
pub mod store;
pub mod throughput;

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use cr_proto::feed;
use cr_proto::{Screen, ScreenUpdate};

use crate::sse::SseEvent;

/// The terminal every scenario's `cr` runs in (rows, cols): a large modern terminal window.
pub const TERM_SIZE: (u16, u16) = (50, 200);

/// Words for generated text.
const WORDS: &[&str] = &[
    "the",
    "relay",
    "stores",
    "every",
    "line",
    "of",
    "output",
    "while",
    "phone",
    "watches",
    "compiling",
    "crate",
    "warning",
    "unused",
    "variable",
    "in",
    "function",
    "test",
    "passed",
    "failed",
    "request",
    "took",
    "ms",
    "at",
    "module",
    "path",
    "src/lib.rs",
    "error",
    "value",
    "returned",
    "from",
    "session",
    "screen",
    "with",
    "and",
    "a",
    "to",
    "for",
    "is",
    "on",
];

/// Numbered lines of text (`%08d` then words), 40 to 150 characters long so none wraps in
/// [`TERM_SIZE`]; deterministic, so every run reads the same text.
#[derive(Debug, Clone)]
pub struct Lines {
    n: u64,
    state: u64,
}

impl Default for Lines {
    fn default() -> Self {
        Self { n: 0, state: 0x9e37_79b9_7f4a_7c15 }
    }
}

impl Lines {
    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33
    }
}

impl Iterator for Lines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.n += 1;
        let mut line = format!("{:08}", self.n);
        let len = 40 + (self.next_random() % 111) as usize;
        while line.len() < len {
            line.push(' ');
            line.push_str(WORDS[(self.next_random() % WORDS.len() as u64) as usize]);
        }
        line.truncate(len);
        Some(line)
    }
}

/// Writes a text file of about `bytes` bytes of [`Lines`]; returns how many lines.
pub fn text_file(path: &Path, bytes: u64) -> Result<u64> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let (mut written, mut n) = (0u64, 0u64);
    for line in Lines::default() {
        if written >= bytes {
            break;
        }
        n += 1;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        written += line.len() as u64 + 1;
    }
    out.flush()?;
    Ok(n)
}

/// The highest `tick NNNNNN` in an event's data.
pub fn max_tick(data: &[u8]) -> Option<u64> {
    const TAG: &[u8] = b"tick ";
    memchr::memmem::find_iter(data, TAG)
        .filter_map(|at| {
            let digits = &data[at + TAG.len()..];
            let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
            std::str::from_utf8(&digits[..len]).ok()?.parse::<u64>().ok()
        })
        .max()
}

/// The screen as a phone has it, built from `screen` and `output` events.
#[derive(Debug, Default)]
pub struct PhoneScreen {
    /// The current screen, once a `screen` came.
    pub screen: Option<Screen>,
}

impl PhoneScreen {
    /// Applies a `screen` or `output` event; true if it was one.
    pub fn apply(&mut self, ev: &SseEvent) -> Result<bool> {
        match ev.name.as_str() {
            feed::SCREEN => {
                self.screen = Some(serde_json::from_slice(&ev.data).context("screen event")?);
                Ok(true)
            }
            feed::OUTPUT => {
                let update: ScreenUpdate =
                    serde_json::from_slice(&ev.data).context("output event")?;
                if let Some(s) = &mut self.screen {
                    s.apply(&update).context("applying an output event")?;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The rows' text.
    pub fn rows(&self) -> Vec<String> {
        self.screen.as_ref().map_or_else(Vec::new, |s| s.lines.iter().map(|r| r.text()).collect())
    }
}

/// Milliseconds, three significant figures.
pub fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

/// A difference in milliseconds with its sign (`+0.12 ms`, `-0.03 ms`).
pub fn signed_ms(x: f64) -> String {
    if x < 0.0 { format!("-{}", ms(-x)) } else { format!("+{}", ms(x)) }
}

/// A ratio like `1.05×`.
pub fn ratio(x: f64) -> String {
    format!("{x:.2}×")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_found_in_json() {
        assert_eq!(max_tick(br#"[{"text":"tick 000012 x"},{"text":"tick 000013 y"}]"#), Some(13));
        assert_eq!(max_tick(b"no ticks here, tick x"), None);
    }

    #[test]
    fn text_files_have_numbered_lines_that_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let n = text_file(&path, 100_000).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count() as u64, n);
        assert!(text.lines().all(|l| (40..=150).contains(&l.len())));
        assert!(text.lines().last().unwrap().starts_with(&format!("{n:08}")));
        assert!(text.len() >= 100_000 && text.len() < 100_200);
    }
}
