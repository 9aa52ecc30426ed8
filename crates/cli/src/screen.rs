//! The virtual screen: a `vt100` emulator fed the same bytes as the local terminal, turned into
//! `cr_proto::Screen` snapshots, plus the transcript lines that leave the top. Pure; no IO.
//!
//! Transcript lines come from two places. On the main screen the emulator reports every row
//! that scrolls off the top (its `on_scroll` callback, with no scrollback kept: the relay keeps
//! the history). On the alternate screen nothing scrolls off the top in the terminal's sense:
//! full-screen programs (Claude Code 2.1.329 by default) redraw rows at absolute positions, so
//! [`ShiftTracker`] compares settled frames and emits the rows that moved out of view when the
//! content shifted up.

use std::num::NonZeroU16;

use cr_proto::{Color, Cursor, Row, Screen, Span};

/// Smallest size the emulator accepts; a terminal that reports 0×0 gets this.
const MIN_DIM: NonZeroU16 = NonZeroU16::MIN;
/// Rows of a shifted region that must reappear higher up before a shift is believed; two
/// matching rows of real text rule out coincidences such as repeated blank or rule rows.
const MIN_SHIFT_MATCH: usize = 2;

fn dim(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(MIN_DIM)
}

/// What the emulator's callbacks collect between frames.
#[derive(Default)]
struct Collector {
    title: String,
    scrolled: Vec<String>,
}

impl vt100::Callbacks for Collector {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = String::from_utf8_lossy(title).into_owned();
    }

    fn on_scroll(&mut self, contents: vt100::capture::RowContents<'_>, alternate: bool) {
        if alternate {
            return; // full-screen programs scroll regions of their own; see ShiftTracker
        }
        let mut formatted = String::new();
        let mut state = vt100::capture::BasicFormattedCaptureState::new();
        if contents.write_formatted_basic(&mut formatted, &mut state).is_ok() {
            let plain: String = vt100::capture::basic_formatted_to_plain(&formatted).collect();
            self.scrolled.push(plain.trim_end().to_owned());
        }
    }
}

/// The emulator of one session.
pub struct VirtualScreen {
    parser: vt100::Parser<Collector>,
}

impl std::fmt::Debug for VirtualScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        write!(f, "VirtualScreen({rows}x{cols})")
    }
}

impl VirtualScreen {
    /// A blank screen of this size.
    pub fn new(rows: u16, cols: u16) -> Self {
        Self {
            parser: vt100::Parser::new_with_callbacks(
                dim(rows),
                dim(cols),
                0,
                Collector::default(),
            ),
        }
    }

    /// Feeds program output.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// Resizes like a terminal does; rows pushed off the top become transcript lines.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.set_size(dim(rows), dim(cols));
    }

    /// Starts over blank at the same size, keeping the title (after output was skipped).
    pub fn reset(&mut self) {
        let (rows, cols) = self.parser.screen().size();
        let title = std::mem::take(&mut self.parser.callbacks_mut().title);
        self.parser = vt100::Parser::new_with_callbacks(
            rows,
            cols,
            0,
            Collector { title, ..Default::default() },
        );
    }

    /// (rows, cols).
    pub fn size(&self) -> (u16, u16) {
        let (r, c) = self.parser.screen().size();
        (r.get(), c.get())
    }

    /// True while the program uses the alternate screen.
    pub fn alternate(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// True when the program enabled bracketed paste (mode 2004).
    pub fn bracketed_paste(&self) -> bool {
        self.parser.screen().bracketed_paste()
    }

    /// True when arrows must be sent in application mode (`ESC O A`).
    pub fn application_cursor(&self) -> bool {
        self.parser.screen().application_cursor()
    }

    /// Rows that scrolled off the top of the main screen since the last call.
    pub fn take_scrolled(&mut self) -> Vec<String> {
        std::mem::take(&mut self.parser.callbacks_mut().scrolled)
    }

    /// The screen as the phone sees it.
    pub fn snapshot(&self) -> Screen {
        let s = self.parser.screen();
        let (rows, cols) = self.size();
        let (crow, ccol) = s.cursor_position();
        let lines = (0..rows).map(|r| row(s, r, cols)).collect();
        Screen {
            rows,
            cols,
            cursor: Cursor { row: crow, col: ccol, visible: !s.hide_cursor() },
            title: self.parser.callbacks().title.clone(),
            alternate: s.alternate_screen(),
            lines,
        }
    }
}

fn color(c: vt100::Color) -> Option<Color> {
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) => Some(Color::Idx(i)),
        vt100::Color::Rgb(r, g, b) => Some(Color::Rgb(r, g, b)),
    }
}

fn row(s: &vt100::Screen, r: u16, cols: u16) -> Row {
    let mut spans: Vec<Span> = Vec::new();
    for c in 0..cols {
        let Some(cell) = s.cell(r, c) else { break };
        if cell.is_wide_continuation() {
            continue;
        }
        let style = Span {
            text: String::new(),
            fg: color(cell.fgcolor()),
            bg: color(cell.bgcolor()),
            bold: cell.bold(),
            dim: cell.dim(),
            italic: cell.italic(),
            underline: cell.underline(),
            inverse: cell.inverse(),
        };
        let text = if cell.has_contents() { cell.contents() } else { " " };
        match spans.last_mut() {
            Some(last) if last.same_style(&style) => last.text.push_str(text),
            _ => spans.push(Span { text: text.to_owned(), ..style }),
        }
    }
    // Trailing blanks without a background are not content.
    while let Some(last) = spans.last_mut() {
        if last.bg.is_some() || last.inverse {
            break;
        }
        let kept = last.text.trim_end_matches(' ').len();
        last.text.truncate(kept);
        if !last.text.is_empty() {
            break;
        }
        spans.pop();
    }
    Row(spans)
}

/// Finds rows that left the top of a full-screen program's view between two settled frames.
///
/// A scroll region shifted up by `k` rows shows, in the new frame, rows of the old frame `k`
/// rows higher. The old rows above the matched run left the view and become transcript lines.
/// A shift down (the user scrolled back) is remembered as debt, so scrolling forward again over
/// the same rows emits nothing twice.
#[derive(Debug, Default)]
pub struct ShiftTracker {
    prev: Vec<String>,
    debt: usize,
}

fn strong(line: &str) -> bool {
    line.chars().any(char::is_alphanumeric)
}

/// The longest run of `new[i] == old[i + k]` over strong rows: (start in new, length).
fn best_run(old: &[String], new: &[String], k: usize) -> (usize, usize) {
    let mut best = (0, 0);
    let mut start = 0;
    let mut len = 0;
    let mut strong_rows = 0;
    for i in 0..new.len().saturating_sub(k).min(old.len().saturating_sub(k)) {
        if new[i] == old[i + k] && !new[i].trim().is_empty() {
            if len == 0 {
                start = i;
                strong_rows = 0;
            }
            len += 1;
            strong_rows += usize::from(strong(&new[i]));
            if strong_rows >= MIN_SHIFT_MATCH && len > best.1 {
                best = (start, len);
            }
        } else {
            len = 0;
        }
    }
    best
}

impl ShiftTracker {
    /// Forgets the previous frame (the program left or entered the alternate screen).
    pub fn reset(&mut self) {
        self.prev.clear();
        self.debt = 0;
    }

    /// Takes a settled frame's rows; returns the rows that left the top since the last one.
    pub fn observe(&mut self, rows: Vec<String>) -> Vec<String> {
        let old = std::mem::replace(&mut self.prev, rows);
        let new = &self.prev;
        if old.len() != new.len() || old == *new {
            return Vec::new();
        }
        let mut up = (0, 0, 0); // (k, start, len)
        let mut down = (0, 0); // (k, len)
        for k in 1..new.len() {
            let (start, len) = best_run(&old, new, k);
            if len > up.2 {
                up = (k, start, len);
            }
            let (_, len) = best_run(new, &old, k);
            if len > down.1 {
                down = (k, len);
            }
        }
        if down.1 > up.2 {
            self.debt += down.0;
            return Vec::new();
        }
        let (k, start, len) = up;
        if len == 0 {
            return Vec::new();
        }
        // Old rows start..start+k sat above the run and are gone from view.
        let paid = self.debt.min(k);
        self.debt -= paid;
        old[start + paid..start + k].iter().filter(|l| !l.trim().is_empty()).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_has_text_styles_cursor_and_title() {
        let mut v = VirtualScreen::new(4, 20);
        v.feed(b"\x1b]0;my title\x07\x1b[1;31mred\x1b[0m plain\r\nline2 \xe2\x9c");
        v.feed(b"\x93");
        let s = v.snapshot();
        assert_eq!(s.title, "my title");
        assert_eq!(s.lines[0].text(), "red plain");
        assert_eq!(s.lines[0].0[0].fg, Some(Color::Idx(1)));
        assert!(s.lines[0].0[0].bold);
        assert_eq!(s.lines[1].text(), "line2 ✓");
        assert_eq!(s.cursor, Cursor { row: 1, col: 7, visible: true });
        assert!(s.check().is_ok());
        assert_eq!(s.lines[3], Row::default(), "blank rows have no spans");
    }

    #[test]
    fn main_screen_rows_scrolling_off_become_lines() {
        let mut v = VirtualScreen::new(3, 20);
        for i in 1..=5 {
            v.feed(format!("row {i}\r\n").as_bytes());
        }
        assert_eq!(v.take_scrolled(), ["row 1", "row 2", "row 3"]);
        assert!(v.take_scrolled().is_empty());
        // Shrinking pushes rows off the top as well.
        v.resize(2, 20);
        assert_eq!(v.take_scrolled(), ["row 4"]);
        // Nothing scrolls out of the alternate screen.
        v.feed(b"\x1b[?1049h");
        assert!(v.alternate());
        for i in 0..5 {
            v.feed(format!("alt {i}\r\n").as_bytes());
        }
        assert!(v.take_scrolled().is_empty());
    }

    fn frame(rows: &[&str]) -> Vec<String> {
        rows.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn shift_tracker_emits_rows_that_left_once() {
        let mut t = ShiftTracker::default();
        assert!(t.observe(frame(&["H", "a1", "a2", "a3", "a4", "── input ──", "> "])).is_empty());
        // Region below the fixed header moved up by 2.
        let out = t.observe(frame(&["H", "a3", "a4", "a5", "a6", "── input ──", "> "]));
        assert_eq!(out, ["a1", "a2"]);
        // A redraw of the same content emits nothing.
        assert!(t.observe(frame(&["H", "a3", "a4", "a5", "a6", "── input ──", "> "])).is_empty());
        // Scrolled back by one, then forward by two: only a7 is new.
        assert!(t.observe(frame(&["H", "a2", "a3", "a4", "a5", "── input ──", "> "])).is_empty());
        let out = t.observe(frame(&["H", "a4", "a5", "a6", "a7", "── input ──", "> "]));
        assert_eq!(out, ["a3"]);
        // An unrelated screen (a new dialog) is no shift.
        assert!(t.observe(frame(&["x", "y", "z", "w", "v", "u", "t"])).is_empty());
    }
}
