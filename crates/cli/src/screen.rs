//! The virtual screen: a `vt100` emulator fed the same bytes as the local terminal, turned into
//! `cr_proto::Screen` snapshots, plus the transcript lines that leave the top. Pure; no IO.
//!
//! Transcript lines come from two places. On the main screen the emulator reports every row
//! that scrolls off the top (its `on_scroll` callback, with no scrollback kept: the relay keeps
//! the history). On the alternate screen nothing scrolls off the top in the terminal's sense:
//! full-screen programs (Claude Code 2.1.329 by default) redraw rows at absolute positions, so
//! [`ShiftTracker`] compares consecutive frames and emits the rows that moved out of view when the
//! content shifted up.

use crate::pty::JOIN_BYTES;
use std::collections::HashMap;
use std::num::NonZeroU16;

use cr_proto::{Color, Cursor, Row, Screen, Span};

use crate::stream::{self, EscapeTracker};

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
    /// Rows the main screen scrolled up by since the emulator was made: how far the rows of
    /// the last snapshot moved.
    scrolls: u64,
    /// Scratch space a scrolled row's text is written into before it is copied out at its
    /// exact length; reused so a fast stream costs one allocation per transcript line.
    scratch: String,
}

/// Keeps the text of what vt100's basic formatter writes and drops its SGR sequences
/// (`ESC [ … m`, the only escapes that format produces) as they stream by, so a scrolled row
/// becomes plain text without an intermediate formatted copy.
struct PlainText<'a> {
    out: &'a mut String,
    in_escape: bool,
}

impl std::fmt::Write for PlainText<'_> {
    fn write_str(&mut self, mut s: &str) -> std::fmt::Result {
        // Nearly every call is one cell's text: take it whole when it holds no escape.
        if !self.in_escape && !s.as_bytes().contains(&0x1b) {
            self.out.push_str(s);
            return Ok(());
        }
        loop {
            if self.in_escape {
                let Some(end) = s.find('m') else { return Ok(()) };
                s = &s[end + 1..];
                self.in_escape = false;
            }
            match s.find('\x1b') {
                Some(esc) => {
                    self.out.push_str(&s[..esc]);
                    s = &s[esc + 1..];
                    self.in_escape = true;
                }
                None => {
                    self.out.push_str(s);
                    return Ok(());
                }
            }
        }
    }

    fn write_char(&mut self, c: char) -> std::fmt::Result {
        match (self.in_escape, c) {
            (true, 'm') => self.in_escape = false,
            (true, _) => {}
            (false, '\x1b') => self.in_escape = true,
            (false, c) => self.out.push(c),
        }
        Ok(())
    }
}

impl vt100::Callbacks for Collector {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = String::from_utf8_lossy(title).into_owned();
    }

    fn on_scroll(&mut self, contents: vt100::capture::RowContents<'_>, alternate: bool) {
        if alternate {
            return; // full-screen programs scroll regions of their own; see ShiftTracker
        }
        self.scrolls += 1;
        self.scratch.clear();
        let mut plain = PlainText { out: &mut self.scratch, in_escape: false };
        let mut state = vt100::capture::BasicFormattedCaptureState::new();
        if contents.write_formatted_basic(&mut plain, &mut state).is_ok() {
            self.scrolled.push(self.scratch.trim_end().to_owned());
        }
    }
}

/// The emulator of one session.
pub struct VirtualScreen {
    parser: vt100::Parser<Collector>,
    /// Where the parser stands between sequences, for the plain-lines shortcut.
    tracker: EscapeTracker,
    /// Skip emulating plain lines that would only scroll through (always, except in tests
    /// that compare against the emulator alone).
    shortcut: bool,
    /// Scratch: line starts of a plain run.
    starts: Vec<usize>,
    /// Lines the shortcut took past the emulator (for tests).
    #[cfg(test)]
    skipped: usize,
    /// The last snapshot built and the scroll count it was built at. A frame, the detector
    /// and the typist often look at the same screen in a row, and the next snapshot reuses
    /// its rows.
    last: Option<(Screen, u64)>,
    /// What output changed since `last` was built.
    touched: Touched,
    /// The rows of the last snapshot built by rendering, by their rendering (see
    /// [`Self::build_snapshot`]).
    row_cache: HashMap<String, Row>,
    /// Snapshots that reused untouched rows (for tests).
    #[cfg(test)]
    reused: usize,
    /// Output taken by [`Self::feed_later`] and not emulated yet. Every method that reads
    /// the screen emulates it first, so none sees the screen behind its output.
    pending: Vec<u8>,
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
            tracker: EscapeTracker::default(),
            shortcut: true,
            starts: Vec::new(),
            #[cfg(test)]
            skipped: 0,
            last: None,
            touched: Touched::Unknown,
            row_cache: HashMap::new(),
            #[cfg(test)]
            reused: 0,
            pending: Vec::new(),
        }
    }

    /// Takes program output to emulate when the screen is next read (or once
    /// [`JOIN_BYTES`] are waiting). A stream fed in large pieces costs much less than
    /// chunk by chunk: the lines that only scroll through skip the emulator (see
    /// [`Self::feed`]).
    pub fn feed_later(&mut self, bytes: Vec<u8>) {
        if self.pending.is_empty() {
            self.pending = bytes;
        } else {
            self.pending.extend_from_slice(&bytes);
        }
        if self.pending.len() >= JOIN_BYTES {
            self.catch_up();
        }
    }

    /// Emulates the output [`Self::feed_later`] took.
    fn catch_up(&mut self) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.emulate(&pending);
        }
    }

    /// Feeds program output.
    ///
    /// A run of plain text lines (what `cat` of a log prints) longer than the screen is not
    /// emulated line by line: on the main screen, with the cursor at the start of a blank last
    /// row and no scroll region, each such line is written on the last row and scrolls up, so
    /// the screen afterwards holds the run's last `rows - 1` lines and everything before them
    /// leaves the top in order. Only those last lines go through the emulator (which also
    /// scrolls out the rows the screen held); the rest become transcript lines directly.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.catch_up();
        self.emulate(bytes);
    }

    fn emulate(&mut self, bytes: &[u8]) {
        if !self.shortcut {
            self.process(bytes);
            self.tracker.scan(bytes, self.parser.screen().size().0.get());
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            if let Some(run) = self.plain_run(rest) {
                rest = &rest[run..];
                continue;
            }
            // Through the emulator up to the next line end, where a run may start; all of it
            // when no run can follow (the alternate screen scrolls nothing out).
            let end = if self.parser.screen().alternate_screen() {
                rest.len()
            } else {
                memchr::memchr(b'\n', rest).map_or(rest.len(), |nl| nl + 1)
            };
            let (now, later) = rest.split_at(end);
            self.process(now);
            self.tracker.scan(now, self.parser.screen().size().0.get());
            rest = later;
        }
    }

    /// Takes the run of plain lines at the start of `bytes` the shortcut, when it applies
    /// here; returns how many bytes it consumed.
    fn plain_run(&mut self, bytes: &[u8]) -> Option<usize> {
        let screen = self.parser.screen();
        let (rows, cols) = (screen.size().0.get(), screen.size().1.get());
        if !self.tracker.plain_ok()
            || screen.alternate_screen()
            || screen.cursor_position() != (rows - 1, 0)
        {
            return None;
        }
        let run = stream::plain_lines(bytes, cols, &mut self.starts);
        if run == 0 {
            return None;
        }
        let keep = usize::from(rows - 1);
        let skip = self.starts.len().saturating_sub(keep);
        if skip == 0
            || (0..cols).any(|c| screen.cell(rows - 1, c).is_some_and(vt100::Cell::has_contents))
        {
            // Too short to skip anything: emulated whole (plain text moves no parser state).
            self.process(&bytes[..run]);
            return Some(run);
        }
        let tail_at = self.starts.get(skip).copied().unwrap_or(run);
        // The skipped lines never reach the emulator's scroll count.
        self.touched = Touched::Unknown;
        self.parser.process(&bytes[tail_at..run]);
        let scrolled = &mut self.parser.callbacks_mut().scrolled;
        // Printable ASCII (plain_lines checked), so every line end is a char boundary.
        let text = std::str::from_utf8(&bytes[..tail_at]).unwrap_or_default();
        for (i, &start) in self.starts[..skip].iter().enumerate() {
            let end = self.starts.get(i + 1).copied().unwrap_or(run) - 2; // without \r\n
            scrolled.push(text.get(start..end).unwrap_or_default().trim_end().to_owned());
        }
        #[cfg(test)]
        {
            self.skipped += skip;
        }
        Some(run)
    }

    /// Resizes like a terminal does; rows pushed off the top become transcript lines.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.catch_up(); // that output was written for the old size
        self.touched = Touched::Unknown;
        self.parser.set_size(dim(rows), dim(cols));
    }

    /// Starts over blank at the same size, keeping the title (after output was skipped).
    pub fn reset(&mut self) {
        let (rows, cols) = self.parser.screen().size();
        let title = std::mem::take(&mut self.parser.callbacks_mut().title);
        self.touched = Touched::Unknown;
        self.pending.clear();
        self.parser = vt100::Parser::new_with_callbacks(
            rows,
            cols,
            0,
            Collector { title, ..Default::default() },
        );
        self.tracker.reset();
    }

    /// (rows, cols).
    pub fn size(&self) -> (u16, u16) {
        let (r, c) = self.parser.screen().size();
        (r.get(), c.get())
    }

    /// True while the program uses the alternate screen.
    pub fn alternate(&mut self) -> bool {
        self.catch_up();
        self.parser.screen().alternate_screen()
    }

    /// True when the program enabled bracketed paste (mode 2004).
    pub fn bracketed_paste(&mut self) -> bool {
        self.catch_up();
        self.parser.screen().bracketed_paste()
    }

    /// True when arrows must be sent in application mode (`ESC O A`).
    pub fn application_cursor(&mut self) -> bool {
        self.catch_up();
        self.parser.screen().application_cursor()
    }

    /// Rows that scrolled off the top of the main screen since the last call.
    pub fn take_scrolled(&mut self) -> Vec<String> {
        self.catch_up();
        std::mem::take(&mut self.parser.callbacks_mut().scrolled)
    }

    /// The screen as the phone sees it.
    pub fn snapshot(&mut self) -> Screen {
        self.catch_up();
        match &self.last {
            Some((screen, _)) if self.touched == Touched::Nothing => screen.clone(),
            _ => {
                let screen = self.build_snapshot();
                self.last = Some((screen.clone(), self.parser.callbacks().scrolls));
                self.touched = Touched::Nothing;
                screen
            }
        }
    }

    /// Feeds the emulator and notes which rows the bytes can have changed.
    fn process(&mut self, bytes: &[u8]) {
        let screen = self.parser.screen();
        let known = self.touched != Touched::Unknown
            && self.tracker.plain_ok()
            && !screen.alternate_screen()
            && stream::writes_at_cursor(bytes);
        let before = self.cursor_line();
        self.parser.process(bytes);
        self.touched =
            if known { self.touched.and(before, self.cursor_line()) } else { Touched::Unknown };
    }

    /// The cursor's row counted from the top of everything the main screen has shown, so
    /// scrolling does not change which line it names.
    fn cursor_line(&self) -> u64 {
        u64::from(self.parser.screen().cursor_position().0) + self.parser.callbacks().scrolls
    }

    /// Builds the snapshot.
    ///
    /// After output that only wrote at the cursor (text, line ends and styles on the main
    /// screen), only the rows the cursor went through are read from the emulator; the others
    /// are the last snapshot's rows, moved up by the rows that scrolled since.
    ///
    /// Otherwise every row is rendered. Reading a row cell by cell through vt100's accessors
    /// costs about 17 ns a cell (0.2 ms for a 50x200 screen), while its own row rendering
    /// walks the cells directly; so a row whose rendering the last rendered snapshot had
    /// (unchanged, or moved by a full-screen program) is copied from it. The rendering covers
    /// text and every attribute, so equal renderings are equal rows.
    fn build_snapshot(&mut self) -> Screen {
        let s = self.parser.screen();
        let (rows, cols) = self.size();
        let (crow, ccol) = s.cursor_position();
        let lines = match (self.touched, &self.last) {
            (Touched::Rows { first, last }, Some((old, at)))
                if (old.rows, old.cols) == (rows, cols)
                    && !old.alternate
                    && *at <= self.parser.callbacks().scrolls =>
            {
                #[cfg(test)]
                {
                    self.reused += 1;
                }
                let scrolls = self.parser.callbacks().scrolls;
                let moved = scrolls - at;
                (0..rows)
                    .map(|r| {
                        let line = scrolls + u64::from(r);
                        let was = usize::try_from(moved + u64::from(r))
                            .ok()
                            .and_then(|i| old.lines.get(i));
                        match was {
                            Some(known) if !(first..=last).contains(&line) => known.clone(),
                            _ => row(s, r, cols),
                        }
                    })
                    .collect()
            }
            _ => {
                let mut next = HashMap::with_capacity(usize::from(rows));
                let lines = s
                    .rows_formatted(0, cols)
                    .zip(0..rows)
                    .map(|(key, r)| {
                        let built = match self.row_cache.get(&key).or_else(|| next.get(&key)) {
                            Some(known) => known.clone(),
                            None => row(s, r, cols),
                        };
                        next.insert(key, built.clone());
                        built
                    })
                    .collect();
                self.row_cache = next;
                lines
            }
        };
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

/// What output changed on the screen since the last snapshot was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touched {
    /// Nothing.
    Nothing,
    /// Only lines `first..=last` (see [`VirtualScreen::cursor_line`]); the rest only scrolled.
    Rows { first: u64, last: u64 },
    /// Anything.
    Unknown,
}

impl Touched {
    /// Adds output that wrote from line `from` to line `to`.
    fn and(self, from: u64, to: u64) -> Self {
        let (from, to) = (from.min(to), from.max(to));
        match self {
            Self::Nothing => Self::Rows { first: from, last: to },
            Self::Rows { first, last } => Self::Rows { first: first.min(from), last: last.max(to) },
            Self::Unknown => Self::Unknown,
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
    // Blank cells of the default look are only counted: most of a row is such blanks after
    // its text, and they matter only if something follows them.
    let mut blanks = 0;
    for c in 0..cols {
        let Some(cell) = s.cell(r, c) else { break };
        if cell.is_wide_continuation() {
            continue;
        }
        let text = if cell.has_contents() { cell.contents() } else { " " };
        let (fg, bg) = (cell.fgcolor(), cell.bgcolor());
        let (bold, dim, italic) = (cell.bold(), cell.dim(), cell.italic());
        let (underline, inverse) = (cell.underline(), cell.inverse());
        let plain = fg == vt100::Color::Default
            && bg == vt100::Color::Default
            && !(bold || dim || italic || underline || inverse);
        if plain && text == " " {
            blanks += 1;
            continue;
        }
        if blanks > 0 {
            match spans.last_mut() {
                Some(last) if last.same_style(&Span::default()) => {}
                _ => spans.push(Span::default()),
            }
            let last = spans.last_mut().expect("just ensured");
            last.text.extend(std::iter::repeat_n(' ', blanks));
            blanks = 0;
        }
        let style = Span {
            text: String::new(),
            fg: color(fg),
            bg: color(bg),
            bold,
            dim,
            italic,
            underline,
            inverse,
        };
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

/// Finds rows that left the top of a full-screen program's view between two consecutive frames.
///
/// A scroll region shifted up by `k` rows shows, in the new frame, rows of the old frame `k`
/// rows higher. The old rows above the matched run left the view and become transcript lines.
/// Rows come back into view when the view moves down (the user scrolled back; Claude Code
/// 2.1.329 re-anchors its view when a dialog closes) and leave again later: a row that leaves
/// is not emitted again if it continues what was emitted last, so no row is sent twice for
/// being redrawn.
#[derive(Debug, Default)]
pub struct ShiftTracker {
    prev: Vec<String>,
    /// The latest rows emitted, oldest first (at most [`RECENT_ROWS`]).
    recent: std::collections::VecDeque<String>,
}

/// Emitted rows remembered for recognising rows that scroll out of view a second time: a few
/// screens' worth (a row can only come back while it is near the top of the view).
const RECENT_ROWS: usize = 256;
/// How far back among the emitted rows a row that left again may be found when it is not the
/// very latest: about two screens.
const RETURN_WINDOW_ROWS: usize = 64;

fn strong(line: &str) -> bool {
    line.chars().any(char::is_alphanumeric)
}

/// A run of `new[i] == old[i + k]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Run {
    /// Rows of text in it: what makes a match believable.
    strong: usize,
    /// Rows in it, blank ones included.
    len: usize,
    /// Where it starts in `new`.
    start: usize,
}

/// The best run of `new[i] == old[i + k]`. Blank rows continue a run (Claude Code separates its
/// entries with them) but only rows of text make it count: the run with the most of those
/// wins, and it needs [`MIN_SHIFT_MATCH`] of them.
fn best_run(old: &[String], new: &[String], k: usize) -> Option<Run> {
    let mut best: Option<Run> = None;
    let mut run = Run::default();
    for i in 0..new.len().saturating_sub(k).min(old.len().saturating_sub(k)) {
        if new[i] == old[i + k] {
            if run.len == 0 {
                run = Run { strong: 0, len: 0, start: i };
            }
            run.len += 1;
            run.strong += usize::from(strong(&new[i]));
            if run.strong >= MIN_SHIFT_MATCH
                && best.is_none_or(|b| (run.strong, run.len) > (b.strong, b.len))
            {
                best = Some(run);
            }
        } else {
            run.len = 0;
        }
    }
    best
}

impl ShiftTracker {
    /// Forgets the previous frame (the program left or entered the alternate screen).
    pub fn reset(&mut self) {
        self.prev.clear();
    }

    /// Takes a frame's rows; returns the rows that left the top since the last one.
    pub fn observe(&mut self, rows: Vec<String>) -> Vec<String> {
        let old = std::mem::replace(&mut self.prev, rows);
        let new = &self.prev;
        if old.len() != new.len() || old == *new {
            return Vec::new();
        }
        let mut up: Option<(usize, Run)> = None;
        let mut down: Option<Run> = None;
        let key = |r: &Run| (r.strong, r.len);
        for k in 1..new.len() {
            if let Some(run) = best_run(&old, new, k)
                && up.is_none_or(|(_, b)| key(&run) > key(&b))
            {
                up = Some((k, run));
            }
            if let Some(run) = best_run(new, &old, k)
                && down.is_none_or(|b| key(&run) > key(&b))
            {
                down = Some(run);
            }
        }
        let Some((k, run)) = up else { return Vec::new() };
        if down.is_some_and(|d| key(&d) > key(&run)) {
            return Vec::new(); // the view moved down: rows came back, none left
        }
        // Old rows start..start+k sat above the run and are gone from view.
        let left: Vec<String> = old[run.start..run.start + k]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .cloned()
            .collect();
        let again = self.already_emitted(&left);
        let out = left[again..].to_vec();
        for row in &out {
            if self.recent.len() == RECENT_ROWS {
                self.recent.pop_front();
            }
            self.recent.push_back(row.clone());
        }
        out
    }

    /// How many of the first `left` rows were emitted before, in this order, among the latest
    /// rows emitted: they came back into view and left again.
    fn already_emitted(&self, left: &[String]) -> usize {
        let recent: Vec<&String> = self.recent.iter().collect();
        let mut best = 0;
        for from in 0..recent.len() {
            let n = left.iter().zip(&recent[from..]).take_while(|(a, b)| a == *b).count();
            // Rows that came back are the last ones that had left: a match reaches the end of
            // what was emitted, or is all of `left` and among the last few screens' rows.
            let tail = from + n == recent.len();
            let whole = n == left.len() && from + n + RETURN_WINDOW_ROWS >= recent.len();
            if (tail || whole) && n > best {
                best = n;
            }
        }
        best
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

    /// Rows read cell by cell, without the row cache.
    fn uncached_rows(v: &VirtualScreen) -> Vec<Row> {
        let (rows, cols) = v.size();
        (0..rows).map(|r| row(v.parser.screen(), r, cols)).collect()
    }

    #[test]
    fn cached_rows_match_rows_read_cell_by_cell() {
        // Changes the cache must not hide: the same text in another colour or style, a row
        // moved by a scroll, a wide character, a row cleared, the alternate screen.
        let pieces: &[&[u8]] = &[
            b"plain text\r\n",
            b"\x1b[31mred text\x1b[0m\r\n",
            b"\x1b[1;31mred text\x1b[0m\r\n",
            b"\x1b[7mred text\x1b[0m\r\n",
            b"\x1b[38;2;1;2;3mred text\x1b[0m\r\n",
            "wide \u{4e2d}\u{6587} and \u{2713}\r\n".as_bytes(),
            b"\x1b[2;1H\x1b[2K",
            b"\x1b[3;5H\x1b[4mX\x1b[0m",
            b"\x1b[?1049h\x1b[Halt screen\r\n",
            b"\x1b[?1049l",
            b"\x1b[44m   \x1b[0m trailing blue blanks\r\n",
            b"a long row that wraps past the edge of this narrow screen and on\r\n",
        ];
        let mut v = VirtualScreen::new(6, 24);
        // A fixed pseudo-random order, so a failing step can be replayed.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..400 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let piece = pieces[(x % pieces.len() as u64) as usize];
            v.feed(piece);
            let got = v.snapshot().lines;
            assert_eq!(
                got,
                uncached_rows(&v),
                "step {step} after {:?}",
                String::from_utf8_lossy(piece)
            );
        }
    }

    #[test]
    fn output_fed_later_is_on_the_screen_before_anything_reads_it() {
        let chunks: Vec<Vec<u8>> =
            (1..=30).map(|i| format!("\x1b[3{}mrow {i}\x1b[0m\r\n", i % 8).into_bytes()).collect();
        let mut now = VirtualScreen::new(5, 20);
        let mut later = VirtualScreen::new(5, 20);
        for c in &chunks {
            now.feed(c);
            later.feed_later(c.clone());
        }
        assert_eq!(later.snapshot(), now.snapshot());
        assert_eq!(later.take_scrolled(), now.take_scrolled());
        // Modes, a resize and the next feed all see what came before them.
        later.feed_later(b"\x1b[?2004h\x1b[?1h".to_vec());
        assert!(later.bracketed_paste() && later.application_cursor());
        later.feed_later(b"before the resize\r\n".to_vec());
        now.feed(b"\x1b[?2004h\x1b[?1hbefore the resize\r\n");
        later.resize(3, 20);
        now.resize(3, 20);
        later.feed_later(b"one".to_vec());
        later.feed(b" two");
        now.feed(b"one two");
        assert_eq!(later.snapshot(), now.snapshot());
        assert_eq!(later.take_scrolled(), now.take_scrolled());
        // A reset (output skipped) drops what was waiting.
        later.feed_later(b"dropped".to_vec());
        later.reset();
        assert!(later.snapshot().lines.iter().all(|l| l.text().is_empty()));
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

    #[test]
    fn scrolled_rows_keep_text_and_drop_styles() {
        let mut v = VirtualScreen::new(2, 30);
        v.feed(b"\x1b[1;31mred\x1b[0m plain \x1b[38;5;153mx\x1b[m  \r\n");
        v.feed("wide 漢字 ✓\r\n\x1b[7m inverse \x1b[0m\r\nlast\r\n".as_bytes());
        assert_eq!(v.take_scrolled(), ["red plain x", "wide 漢字 ✓", " inverse"]);
        // Split writes: the escape state carries across pieces.
        let mut out = String::new();
        let mut p = PlainText { out: &mut out, in_escape: false };
        use std::fmt::Write as _;
        p.write_str("a\x1b[1").unwrap();
        p.write_str(";31").unwrap();
        p.write_char('m').unwrap();
        p.write_char('b').unwrap();
        p.write_char('\x1b').unwrap();
        p.write_str("[0mc").unwrap();
        assert_eq!(out, "abc");
    }

    /// A deterministic stream of what programs print: mostly plain lines (the shortcut's
    /// case) with everything that must turn it off mixed in: styles, titles, scroll regions,
    /// cursor moves, the alternate screen, tabs, bare line feeds, wide characters, long lines.
    fn program_output(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut out = Vec::new();
        while out.len() < len {
            let words = next(12) as usize;
            let text: String =
                (0..words).map(|i| ["ab", "cde ", " f", "gh  "][(i + words) % 4]).collect();
            match next(40) {
                0 => out.extend_from_slice(b"\x1b[1;31mred\x1b[0m\r\n"),
                1 => out.extend_from_slice(b"\x1b]0;a title\r\nwith a line end\x07"),
                2 => out.extend_from_slice(format!("\x1b[{};{}r", next(4), next(9)).as_bytes()),
                3 => out.extend_from_slice(b"\x1b[r"),
                4 => out.extend_from_slice(format!("\x1b[{};{}H", next(9), next(9)).as_bytes()),
                5 => out.extend_from_slice(b"\x1b[?1049h"),
                6 | 7 => out.extend_from_slice(b"\x1b[?1049l"),
                8 => out.extend_from_slice(b"a\tb\r\n"),
                9 => out.extend_from_slice(b"bare\n"),
                10 => out.extend_from_slice("漢字 ✓\r\n".as_bytes()),
                11 => out.extend_from_slice(b"\x1b[2J\x1b[H"),
                12 => out.extend_from_slice(b"\x1b[44m"),
                13 => out.extend_from_slice(b"\x1bc"),
                14 => out.extend_from_slice(b"no line end "),
                15 => out
                    .extend_from_slice(format!("{}\r\n", "x".repeat(next(40) as usize)).as_bytes()),
                16 => out.extend_from_slice(b"over\x08\x08\x1b[Kwrite \x1b[41m\x1b[K\x1b[m"),
                17 => out.extend_from_slice("e\u{301} \u{4e2d}\u{301}\x08\u{5b57}\r\n".as_bytes()),
                _ => out.extend_from_slice(format!("{text}\r\n").as_bytes()),
            }
        }
        out
    }

    /// Where a stream of `len` bytes is cut into pieces of 1 to `longest` bytes, as reads of
    /// a PTY cut it: a fixed pseudo-random sequence per seed, so a failing piece can be replayed.
    fn pieces(seed: u64, len: usize, longest: usize) -> Vec<std::ops::Range<usize>> {
        let mut cuts = Vec::new();
        let (mut at, mut step) = (0, seed as usize);
        while at < len {
            step = step.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let end = (at + 1 + (step >> 33) % longest).min(len);
            cuts.push(at..end);
            at = end;
        }
        cuts
    }

    /// `seeds` streams of [`program_output`], each with a screen of 1-7 rows and `min_cols` to
    /// `min_cols + 22` columns: (seed, rows, cols, output).
    fn streams(
        seeds: u64,
        min_cols: u16,
        len: usize,
    ) -> impl Iterator<Item = (u64, u16, u16, Vec<u8>)> {
        (1..=seeds).map(move |seed| {
            (seed, 1 + (seed % 7) as u16, min_cols + (seed % 23) as u16, program_output(seed, len))
        })
    }

    #[test]
    fn the_plain_lines_shortcut_changes_nothing_the_phone_sees() {
        let mut skipped = 0;
        for (seed, rows, cols, out) in streams(300, 6, 6000) {
            let mut fast = VirtualScreen::new(rows, cols);
            let mut slow = VirtualScreen::new(rows, cols);
            slow.shortcut = false;
            for piece in pieces(seed, out.len(), 700) {
                fast.feed(&out[piece.clone()]);
                slow.feed(&out[piece.clone()]);
                let (f, s) = (fast.take_scrolled(), slow.take_scrolled());
                assert_eq!(f, s, "seed {seed}, {rows}x{cols}, bytes {piece:?}");
                assert_eq!(fast.snapshot(), slow.snapshot(), "seed {seed}, bytes {piece:?}");
            }
            skipped += fast.skipped;
        }
        assert!(skipped > 1_000, "the shortcut was taken for only {skipped} lines");
    }

    #[test]
    fn rows_kept_from_the_last_snapshot_match_the_emulator() {
        let mut reused = 0;
        for (seed, rows, cols, out) in streams(200, 4, 4000) {
            let mut v = VirtualScreen::new(rows, cols);
            for piece in pieces(seed, out.len(), 60) {
                v.feed(&out[piece.clone()]);
                assert_eq!(
                    v.snapshot().lines,
                    uncached_rows(&v),
                    "seed {seed}, {rows}x{cols}, after {:?}",
                    String::from_utf8_lossy(&out[piece])
                );
            }
            reused += v.reused;
        }
        assert!(reused > 5_000, "only {reused} snapshots kept rows");
    }

    #[test]
    fn a_long_plain_run_is_not_emulated_line_by_line() {
        let mut v = VirtualScreen::new(3, 20);
        v.feed(b"old 1\r\nold 2\r\n");
        let text: String = (1..=10).map(|i| format!("line {i}  \r\n")).collect();
        v.feed(text.as_bytes());
        assert_eq!(v.skipped, 8, "all but the last rows - 1 lines skip the emulator");
        let expected: Vec<String> = ["old 1", "old 2"]
            .into_iter()
            .map(String::from)
            .chain((1..=8).map(|i| format!("line {i}")))
            .collect();
        assert_eq!(v.take_scrolled(), expected);
        let s = v.snapshot();
        assert_eq!(s.lines.iter().map(Row::text).collect::<Vec<_>>(), ["line 9", "line 10", ""]);
        assert_eq!((s.cursor.row, s.cursor.col), (2, 0));
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

    #[test]
    fn shift_tracker_reads_blank_separated_entries_and_views_that_move_back() {
        // Claude Code 2.1.329's alternate screen: entries separated by blank rows over an
        // input box that grows when a dialog opens and shrinks when it closes.
        let entries = |from: usize, to: usize| -> Vec<String> {
            (from..to).flat_map(|i| [format!("● entry {i} line"), String::new()]).collect()
        };
        let frame = |body: Vec<String>, bottom: &[&str]| -> Vec<String> {
            let mut rows = body;
            rows.extend(bottom.iter().map(|s| (*s).to_owned()));
            assert_eq!(rows.len(), 12);
            rows
        };
        let input = ["────", "❯", "────", "  ? for shortcuts"];
        let dialog = ["────", " Bash command", " ❯ 1. Yes", "   2. No", " Esc to cancel", "", ""];
        let mut t = ShiftTracker::default();
        assert!(t.observe(frame(entries(1, 5), &input)).is_empty());
        // A dialog opens: the view moves up 3 rows; entry 1 and the top of entry 2 left.
        let mut up = entries(1, 5)[3..].to_vec();
        up.truncate(5);
        assert_eq!(t.observe(frame(up, &dialog)), ["● entry 1 line", "● entry 2 line"]);
        // It closes: the view moves back down; nothing left.
        assert!(t.observe(frame(entries(1, 5), &input)).is_empty());
        // A jump past a whole screen has no rows in common to line up: nothing can be said.
        assert_eq!(t.observe(frame(entries(5, 9), &input)), Vec::<String>::new(), "no overlap");
        let mut t = ShiftTracker::default();
        t.observe(frame(entries(1, 5), &input));
        let mut up = entries(1, 5)[3..].to_vec();
        up.truncate(5);
        t.observe(frame(up, &dialog));
        t.observe(frame(entries(1, 5), &input));
        // New entries push entries 1 and 2 out again: not emitted twice.
        assert!(t.observe(frame(entries(3, 7), &input)).is_empty(), "entries 1 and 2 left before");
        assert_eq!(t.observe(frame(entries(5, 9), &input)), ["● entry 3 line", "● entry 4 line"]);
    }
}
