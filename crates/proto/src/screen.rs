//! `Screen`: the visible terminal as styled text, and `ScreenUpdate`: the rows that changed.
//!
//! A row is a list of spans; a span is a run of cells with one style. Colours are either an
//! index into the 256-colour palette (a JSON number) or `"#rrggbb"` (a JSON string); absent
//! means the terminal's default. Wide characters occupy two columns and appear once in the
//! span text. The page renders spans as text nodes, never as markup.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest accepted screen dimension (rows or columns); anything larger is refused.
pub const MAX_SCREEN_DIM: u16 = 1000;

/// A terminal colour.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Color {
    /// Palette index: 0-7 normal, 8-15 bright, 16-255 the xterm 256-colour cube and greys.
    Idx(u8),
    /// 24-bit colour.
    Rgb(u8, u8, u8),
}

impl fmt::Debug for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Color::Idx(i) => write!(f, "Idx({i})"),
            Color::Rgb(r, g, b) => write!(f, "#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Color::Idx(i) => s.serialize_u8(i),
            Color::Rgb(r, g, b) => s.collect_str(&format_args!("#{r:02x}{g:02x}{b:02x}")),
        }
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Idx(u8),
            Hex(&'a str),
        }
        match Raw::deserialize(d)? {
            Raw::Idx(i) => Ok(Color::Idx(i)),
            Raw::Hex(h) => {
                let bad = || serde::de::Error::custom(format!("bad colour {h:?}, want #rrggbb"));
                let hex = h.strip_prefix('#').filter(|x| x.len() == 6).ok_or_else(bad)?;
                let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
                Ok(Color::Rgb(byte(0)?, byte(2)?, byte(4)?))
            }
        }
    }
}

/// A run of cells sharing one style.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Span {
    /// The characters of the run.
    pub text: String,
    /// Foreground colour; absent is the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fg: Option<Color>,
    /// Background colour; absent is the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bg: Option<Color>,
    /// Bold.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bold: bool,
    /// Dim (faint).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dim: bool,
    /// Italic.
    #[serde(default, skip_serializing_if = "is_false")]
    pub italic: bool,
    /// Underlined.
    #[serde(default, skip_serializing_if = "is_false")]
    pub underline: bool,
    /// Foreground and background swapped.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inverse: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Span {
    /// An unstyled span.
    pub fn plain(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }

    /// True when `other` has the same style, so the two runs can merge.
    pub fn same_style(&self, other: &Span) -> bool {
        self.fg == other.fg
            && self.bg == other.bg
            && self.bold == other.bold
            && self.dim == other.dim
            && self.italic == other.italic
            && self.underline == other.underline
            && self.inverse == other.inverse
    }
}

/// One screen row: its spans, left to right. An empty row is `[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Row(pub Vec<Span>);

impl Row {
    /// The row's text with trailing blanks trimmed.
    pub fn text(&self) -> String {
        let mut s: String = self.0.iter().map(|span| span.text.as_str()).collect();
        s.truncate(s.trim_end().len());
        s
    }
}

/// Where the cursor is (0-based) and whether the program shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    /// Row, 0 at the top.
    pub row: u16,
    /// Column, 0 at the left.
    pub col: u16,
    /// False when the program hid it (`ESC[?25l`).
    pub visible: bool,
}

/// The whole visible screen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Screen {
    /// Height in rows.
    pub rows: u16,
    /// Width in columns.
    pub cols: u16,
    /// Cursor position and visibility.
    pub cursor: Cursor,
    /// Window title (OSC 0/2), empty if never set.
    #[serde(default)]
    pub title: String,
    /// True while the program uses the alternate screen (full-screen TUIs).
    #[serde(default)]
    pub alternate: bool,
    /// Exactly `rows` rows, top to bottom.
    pub lines: Vec<Row>,
}

impl Screen {
    /// A blank screen of the given size.
    pub fn blank(rows: u16, cols: u16) -> Self {
        Self {
            rows,
            cols,
            cursor: Cursor { row: 0, col: 0, visible: true },
            title: String::new(),
            alternate: false,
            lines: vec![Row::default(); usize::from(rows)],
        }
    }

    /// Plain text, one line per row, trailing blanks of each row trimmed
    /// (the body of `GET /api/sessions/{id}/text`).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for row in &self.lines {
            out.push_str(&row.text());
            out.push('\n');
        }
        out
    }

    /// Checks the invariants a receiver relies on: sane size and one row per line.
    pub fn check(&self) -> Result<(), ScreenError> {
        if self.rows == 0
            || self.cols == 0
            || self.rows > MAX_SCREEN_DIM
            || self.cols > MAX_SCREEN_DIM
        {
            return Err(ScreenError::BadSize(self.rows, self.cols));
        }
        if self.lines.len() != usize::from(self.rows) {
            return Err(ScreenError::RowCount(self.lines.len(), self.rows));
        }
        Ok(())
    }

    /// Applies an update in place. Refuses one that names a row outside the screen.
    pub fn apply(&mut self, update: &ScreenUpdate) -> Result<(), ScreenError> {
        if let Some(change) = update.changes.iter().find(|c| c.row >= self.rows) {
            return Err(ScreenError::RowOutOfRange(change.row, self.rows));
        }
        for change in &update.changes {
            self.lines[usize::from(change.row)] = change.line.clone();
        }
        self.cursor = update.cursor;
        if let Some(title) = &update.title {
            self.title.clone_from(title);
        }
        if let Some(alt) = update.alternate {
            self.alternate = alt;
        }
        Ok(())
    }
}

/// One changed row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowChange {
    /// Row index, 0 at the top.
    pub row: u16,
    /// The row's new content.
    pub line: Row,
}

/// What changed since the previous screen state: rows, cursor, and title or mode if they did.
/// A size change is never an update; it is sent as a full [`Screen`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScreenUpdate {
    /// Changed rows, in any order.
    pub changes: Vec<RowChange>,
    /// The cursor after the change.
    pub cursor: Cursor,
    /// The new title, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The new alternate-screen flag, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate: Option<bool>,
}

impl ScreenUpdate {
    /// The update that turns `old` into `new` (both the same size).
    pub fn between(old: &Screen, new: &Screen) -> Self {
        let changes = old
            .lines
            .iter()
            .zip(&new.lines)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, (_, b))| RowChange { row: i as u16, line: b.clone() })
            .collect();
        Self {
            changes,
            cursor: new.cursor,
            title: (old.title != new.title).then(|| new.title.clone()),
            alternate: (old.alternate != new.alternate).then_some(new.alternate),
        }
    }

    /// True when applying it would change nothing but (perhaps) the cursor.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.title.is_none() && self.alternate.is_none()
    }
}

/// A screen or update that breaks the invariants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    /// Zero or absurd size.
    #[error("screen size {0}x{1} is out of range (1..={MAX_SCREEN_DIM})")]
    BadSize(u16, u16),
    /// `lines` does not hold `rows` rows.
    #[error("screen has {0} lines but claims {1} rows")]
    RowCount(usize, u16),
    /// An update names a row past the bottom.
    #[error("update names row {0} of a {1}-row screen")]
    RowOutOfRange(u16, u16),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(lines: &[&str]) -> Screen {
        let mut s = Screen::blank(lines.len() as u16, 20);
        s.lines = lines.iter().map(|l| Row(vec![Span::plain(*l)])).collect();
        s
    }

    #[test]
    fn colours_serialize_as_number_or_hex() {
        let span = Span {
            text: "x".into(),
            fg: Some(Color::Idx(153)),
            bg: Some(Color::Rgb(0x12, 0xab, 0xff)),
            bold: true,
            ..Span::default()
        };
        let json = serde_json::to_string(&span).unwrap();
        assert_eq!(json, r##"{"text":"x","fg":153,"bg":"#12abff","bold":true}"##);
        assert_eq!(serde_json::from_str::<Span>(&json).unwrap(), span);
        assert!(serde_json::from_str::<Color>("\"#12ab\"").is_err());
        assert!(serde_json::from_str::<Color>("\"12abff\"").is_err());
        assert!(serde_json::from_str::<Color>("256").is_err());
    }

    #[test]
    fn text_trims_trailing_blanks_per_row() {
        let s = screen(&["hello   ", "", "  x  "]);
        assert_eq!(s.text(), "hello\n\n  x\n");
    }

    #[test]
    fn between_then_apply_reproduces_the_new_screen() {
        let old = screen(&["a", "b", "c"]);
        let mut new = screen(&["a", "B", "c"]);
        new.title = "t".into();
        new.cursor = Cursor { row: 1, col: 1, visible: false };
        let up = ScreenUpdate::between(&old, &new);
        assert_eq!(up.changes.len(), 1);
        assert_eq!(up.changes[0].row, 1);
        let mut patched = old.clone();
        patched.apply(&up).unwrap();
        assert_eq!(patched, new);
        assert!(ScreenUpdate::between(&new, &new).is_empty());
    }

    #[test]
    fn invariants_are_enforced() {
        let mut s = screen(&["a", "b"]);
        assert!(s.check().is_ok());
        s.rows = 3;
        assert_eq!(s.check(), Err(ScreenError::RowCount(2, 3)));
        assert!(Screen::blank(0, 80).check().is_err());
        assert!(Screen::blank(24, MAX_SCREEN_DIM + 1).check().is_err());
        let mut s = screen(&["a", "b"]);
        let up = ScreenUpdate {
            changes: vec![RowChange { row: 2, line: Row::default() }],
            ..ScreenUpdate::default()
        };
        assert_eq!(s.apply(&up), Err(ScreenError::RowOutOfRange(2, 2)));
        assert_eq!(s, screen(&["a", "b"]), "a refused update changes nothing");
    }
}
