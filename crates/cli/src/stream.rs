//! What the emulator needs to know about the byte stream to skip work safely: whether its
//! parser stands between escape sequences (so the next byte is text), whether the program may
//! have set a scroll region, and where a run of plain text lines ends. Pure; no IO.
//!
//! [`crate::screen::VirtualScreen`] uses this for `cat`-like output: of a run of plain lines
//! longer than the screen, only the last screenful has to go through the emulator, since the
//! others would only scroll through it.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;

/// Where the parser stands, as far as it matters here. Anything not understood counts as
/// "inside a sequence", which only turns the shortcut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Between sequences: the next byte is text or a control.
    #[default]
    Ground,
    /// After `ESC`.
    Escape,
    /// After `ESC` and intermediates (`ESC ( B`).
    EscapeIntermediate,
    /// Inside `ESC [ …`.
    Csi,
    /// Inside an OSC string (`ESC ] …`), until BEL or `ESC \`.
    Osc,
    /// Inside a DCS, SOS, PM or APC string, until `ESC \`.
    Str,
}

/// The parser's state after every byte seen so far, tracked cheaply: text between sequences
/// is skipped with `memchr`.
#[derive(Debug, Default)]
pub struct EscapeTracker {
    state: State,
    /// Parameters of the CSI being read (only the first few bytes matter).
    params: Vec<u8>,
    /// The CSI has a private marker or intermediates: not DECSTBM.
    csi_other: bool,
    /// A scroll region other than the whole screen may be in force on the main screen (each
    /// screen has its own; only the main screen's matters here).
    region: bool,
    /// Which screen is shown.
    shown: Shown,
    /// The last byte seen was not ASCII (a UTF-8 character may be incomplete).
    in_utf8: bool,
}

/// Which screen the program shows, as far as the tracker can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Shown {
    #[default]
    Main,
    Alternate,
    /// A switch may have been missed (a parameter list too long to read).
    Either,
}

/// Longest CSI parameter string looked at; longer ones are not a plain `top;bottom`.
const MAX_PARAMS: usize = 16;

impl EscapeTracker {
    /// True when the next byte is read between sequences and characters, a scroll region has
    /// not been set, so plain text lines scroll the whole screen.
    pub fn plain_ok(&self) -> bool {
        self.state == State::Ground && !self.region && !self.in_utf8
    }

    /// Forgets everything, as after a terminal reset.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Follows the parser through `bytes`.
    pub fn scan(&mut self, bytes: &[u8], rows: u16) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Ground => match memchr::memchr(ESC, &bytes[i..]) {
                    Some(at) => {
                        self.state = State::Escape;
                        i += at + 1;
                    }
                    None => break,
                },
                State::Osc => match memchr::memchr3(BEL, ESC, CAN, &bytes[i..]) {
                    Some(at) => {
                        let b = bytes[i + at];
                        self.state = if b == ESC { State::Escape } else { State::Ground };
                        i += at + 1;
                    }
                    None => break,
                },
                State::Str => match memchr::memchr2(ESC, CAN, &bytes[i..]) {
                    Some(at) => {
                        let b = bytes[i + at];
                        self.state = if b == ESC { State::Escape } else { State::Ground };
                        i += at + 1;
                    }
                    None => break,
                },
                _ => {
                    self.step(bytes[i], rows);
                    i += 1;
                }
            }
        }
        if let Some(&last) = bytes.last() {
            self.in_utf8 = !last.is_ascii();
        }
    }

    fn step(&mut self, b: u8, rows: u16) {
        if b == CAN || b == SUB {
            self.state = State::Ground;
            return;
        }
        if b == ESC {
            self.state = State::Escape;
            return;
        }
        match self.state {
            State::Escape => match b {
                b'[' => {
                    self.state = State::Csi;
                    self.params.clear();
                    self.csi_other = false;
                }
                b']' => self.state = State::Osc,
                b'P' | b'X' | b'^' | b'_' => self.state = State::Str,
                0x20..=0x2f => self.state = State::EscapeIntermediate,
                0x30..=0x7e => {
                    if b == b'c' {
                        // RIS: everything back to defaults, the scroll region included.
                        self.region = false;
                        self.shown = Shown::Main;
                    }
                    self.state = State::Ground;
                }
                _ => {} // C0 controls run inside sequences without ending them
            },
            State::EscapeIntermediate => {
                if (0x30..=0x7e).contains(&b) {
                    self.state = State::Ground;
                }
            }
            State::Csi => match b {
                0x30..=0x3f => {
                    if self.params.is_empty() && matches!(b, b'<'..=b'?') {
                        self.csi_other = true;
                    }
                    if self.params.len() < MAX_PARAMS {
                        self.params.push(b);
                    } else {
                        self.csi_other = true;
                    }
                }
                0x20..=0x2f => self.csi_other = true,
                0x40..=0x7e => {
                    match b {
                        b'r' if !self.csi_other => {
                            let whole = whole_screen(&self.params, rows);
                            match self.shown {
                                Shown::Main => self.region = !whole,
                                Shown::Alternate => {}
                                Shown::Either => self.region |= !whole,
                            }
                        }
                        b'h' | b'l' => {
                            if let Some(modes) = self.params.strip_prefix(b"?") {
                                if self.params.len() == MAX_PARAMS {
                                    self.shown = Shown::Either; // cut short: may hold a switch
                                } else if modes
                                    .split(|&c| c == b';')
                                    .any(|m| m == b"47" || m == b"1049")
                                {
                                    self.shown =
                                        if b == b'h' { Shown::Alternate } else { Shown::Main };
                                }
                            }
                        }
                        _ => {}
                    }
                    self.state = State::Ground;
                }
                _ => {}
            },
            State::Ground | State::Osc | State::Str => unreachable!("handled by scan"),
        }
    }
}

/// Whether DECSTBM parameters `top;bottom` select the whole screen (as vt100 reads them:
/// missing or zero top is 1, missing or zero bottom is the last row, a bottom past the screen
/// is the last row, and a region of one row or less is the whole screen).
fn whole_screen(params: &[u8], rows: u16) -> bool {
    let text = std::str::from_utf8(params).unwrap_or("?");
    let mut parts = text.split(';');
    let mut num = |default: u16| -> Option<u16> {
        match parts.next() {
            None | Some("") => Some(default),
            Some(p) => p.parse::<u16>().ok().map(|n| if n == 0 { default } else { n }),
        }
    };
    let (Some(top), Some(bottom)) = (num(1), num(rows)) else { return false };
    let bottom = bottom.min(rows);
    top == 1 && bottom == rows || top >= bottom
}

/// The run of plain lines at the start of `bytes`: each printable ASCII text shorter than
/// `cols` followed by `\r\n`, as a PTY delivers `cat` of a text file. Returns the byte length
/// of the run and the start of every line in it (the end of the run closes the last).
pub fn plain_lines(bytes: &[u8], cols: u16, starts: &mut Vec<usize>) -> usize {
    starts.clear();
    let mut at = 0;
    while let Some(nl) = memchr::memchr(b'\n', &bytes[at..]) {
        let line = &bytes[at..at + nl];
        let Some((b'\r', text)) = line.split_last() else { break };
        // Checked without stopping early, which the compiler turns into wide compares.
        let printable = text.iter().fold(true, |ok, b| ok & (0x20..0x7f).contains(b));
        if text.len() >= usize::from(cols) || !printable {
            break;
        }
        starts.push(at);
        at += nl + 1;
    }
    at
}

/// Whether `bytes`, read between sequences, only write at the cursor and move it forward or
/// down: printable characters, CR, LF, VT, FF, BS, TAB and BEL, and the style (`ESC [ … m`)
/// and erase-in-line (`ESC [ … K`) sequences. Such output can change only the rows the cursor
/// passes through (the emulator's snapshot reuses the others). Anything else, including a
/// sequence cut off at the end, answers false.
pub fn writes_at_cursor(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x07..=0x0d | 0x20..=0x7e => i += 1,
            // U+0080..U+009F: the C1 controls, which an emulator may act on.
            0xc2 if bytes.get(i + 1).is_some_and(|b| (0x80..0xa0).contains(b)) => return false,
            0x80.. => i += 1,
            ESC if bytes.get(i + 1) == Some(&b'[') => {
                let params =
                    bytes[i + 2..].iter().take_while(|b| matches!(b, b'0'..=b'9' | b';' | b':'));
                let end = i + 2 + params.count();
                match bytes.get(end) {
                    Some(b'm') => {}
                    Some(b'K') if end - (i + 2) <= 1 => {}
                    _ => return false,
                }
                i = end + 1;
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(chunks: &[&[u8]]) -> EscapeTracker {
        let mut t = EscapeTracker::default();
        for c in chunks {
            t.scan(c, 24);
        }
        t
    }

    #[test]
    fn text_and_finished_sequences_leave_the_parser_between_sequences() {
        assert!(scanned(&[b"hello\r\n"]).plain_ok());
        assert!(scanned(&[b"\x1b[1;31mred\x1b[0m\r\n"]).plain_ok());
        assert!(scanned(&[b"\x1b]0;title\x07x"]).plain_ok());
        assert!(scanned(&[b"\x1b]0;title\x1b\\x"]).plain_ok());
        assert!(scanned(&[b"\x1bPq#0\x1b\\"]).plain_ok());
        assert!(scanned(&[b"\x1b(B\x1b7\x1b8"]).plain_ok());
        assert!(scanned(&[b"\x1b[?1049h\x1b[?1049l"]).plain_ok());
    }

    #[test]
    fn each_screen_has_its_own_scroll_region() {
        // vt100 keeps a region per screen: resetting it on the alternate screen leaves the
        // main screen's in force.
        assert!(!scanned(&[b"\x1b[2;4r\x1b[?1049h\x1b[r\x1b[?1049l"]).plain_ok());
        assert!(!scanned(&[b"\x1b[2;4r\x1b[?1;47h\x1b[r\x1b[?47l"]).plain_ok());
        assert!(scanned(&[b"\x1b[?1049h\x1b[2;4r\x1b[?1049l"]).plain_ok());
        assert!(scanned(&[b"\x1b[2;4r\x1b[?1049h\x1b[?1049l\x1b[r"]).plain_ok());
        // A mode list too long to read may have switched screens: no reset is believed then.
        assert!(!scanned(&[b"\x1b[2;4r\x1b[?1;2;3;4;5;6;7;8;1049h\x1b[r"]).plain_ok());
        assert!(scanned(&[b"\x1b[2;4r\x1b[?1;2;3;4;5;6;7;8;1049h\x1bc"]).plain_ok());
    }

    #[test]
    fn sequences_split_across_reads_are_followed() {
        assert!(!scanned(&[b"abc\x1b"]).plain_ok());
        assert!(!scanned(&[b"abc\x1b[1;3"]).plain_ok());
        assert!(scanned(&[b"abc\x1b[1;3", b"1mx"]).plain_ok());
        assert!(!scanned(&[b"\x1b]0;a title\r\n", b"still the title\r\n"]).plain_ok());
        assert!(scanned(&[b"\x1b]0;a title\r\n", b"end\x07"]).plain_ok());
        assert!(!scanned(&[b"\x1bP", b"data"]).plain_ok());
        assert!(scanned(&[b"\x1b[1", b"\x18"]).plain_ok(), "CAN cancels a sequence");
        assert!(!scanned(&[b"caf\xc3"]).plain_ok(), "half a UTF-8 character");
        assert!(scanned(&[b"caf\xc3", b"\xa9\r\n"]).plain_ok());
    }

    #[test]
    fn scroll_regions_are_noticed_and_their_reset_too() {
        assert!(!scanned(&[b"\x1b[1;20r"]).plain_ok());
        assert!(!scanned(&[b"\x1b[2r"]).plain_ok());
        assert!(scanned(&[b"\x1b[1;20r", b"\x1b[r"]).plain_ok());
        assert!(scanned(&[b"\x1b[1;20r\x1b[1;24r"]).plain_ok());
        assert!(scanned(&[b"\x1b[5;80r"]).region, "a bottom past the screen is the last row");
        assert!(scanned(&[b"\x1b[0;99r"]).plain_ok());
        assert!(scanned(&[b"\x1b[5;5r"]).plain_ok(), "one row is no region");
        assert!(scanned(&[b"\x1b[3;9r", b"\x1bc"]).plain_ok(), "RIS resets it");
        assert!(scanned(&[b"\x1b[?1;2r"]).plain_ok(), "private modes are not DECSTBM");
    }

    #[test]
    fn output_that_writes_only_at_the_cursor_is_told_from_the_rest() {
        for ok in [
            &b""[..],
            b"plain text\r\n",
            b"tab\tbell\x07back\x08\x08\r\nvt\x0bff\x0c",
            b"\x1b[1;31mred\x1b[0m \x1b[38:2::1:2:3mrgb\x1b[m\x1b[K\x1b[2K\x1b[0K",
            "wide \u{4e2d}\u{6587} \u{2713} e\u{301}\r\n".as_bytes(),
        ] {
            assert!(writes_at_cursor(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for moves in [
            &b"\x1b[2;1H"[..],
            b"text\x1b[A",
            b"\x1b[2J",
            b"\x1b[12K",
            b"\x1b[?25l",
            b"\x1bM",
            b"\x1b]0;title\x07",
            b"cut off \x1b[1;3",
            b"cut off \x1b",
            b"shift out \x0e",
            b"del \x7f",
            "C1 csi \u{9b}2J".as_bytes(),
        ] {
            assert!(!writes_at_cursor(moves), "{:?}", String::from_utf8_lossy(moves));
        }
    }

    #[test]
    fn plain_lines_stop_at_the_first_line_that_is_not() {
        let mut starts = Vec::new();
        let text = b"one\r\ntwo\r\n\x1b[1mthree\r\nfour\r\n";
        assert_eq!(plain_lines(text, 80, &mut starts), 10);
        assert_eq!(starts, [0, 5]);
        assert_eq!(plain_lines(b"one\ntwo\r\n", 80, &mut starts), 0, "a bare LF keeps the column");
        assert_eq!(plain_lines(b"a\tb\r\n", 80, &mut starts), 0, "tabs move the cursor");
        assert_eq!(plain_lines(b"12345\r\n", 5, &mut starts), 0, "a full row may wrap");
        assert_eq!(plain_lines(b"1234\r\nhalf", 5, &mut starts), 6);
        assert_eq!(plain_lines("é\r\n".as_bytes(), 80, &mut starts), 0);
    }
}
