//! Question detection on a settled screen: any program's `[y/N]` question, and Claude Code's
//! numbered and unnumbered selection dialogs. Pure; no IO, no clock.
//!
//! Anchors are the option block and what is under it, never the title alone: on a short
//! terminal the title scrolls away (research/claude-code.md §2 hazard 5), and a numbered list in
//! ordinary output (a plan, a markdown reply) must not become a card. A block needs exactly one
//! focus marker `❯` on an option row and a dialog footer (`Esc to cancel`, `Enter to confirm`…)
//! a few rows below it, or, for the dialogs Claude Code draws without one, a last option ending
//! in `(esc)`. And the dialog must end the screen: Claude Code draws it in place of its input
//! box, so text shaped like a dialog in Claude's reply, with the input box under it, is not
//! one. Colours are not used: themes change them. Every capture under
//! `tests/fixtures/claude/` is checked against these rules (`tests/claude_fixtures.rs`).
//!
//! Settling is the caller's job (`session` only acts on a dialog that stayed the same for
//! [`crate::prompt::PROMPT_SETTLE`]); this module answers "what does this frame ask?".

use cr_proto::{
    BodyFormat, OPTION_ALWAYS, OPTION_APPROVE, OPTION_REJECT, PromptKind, PromptOption, Question,
    Screen,
};

/// The focus marker Claude Code draws before the focused option (U+276F).
pub const FOCUS: char = '❯';
/// Rows below the last option within which the footer must appear (descriptions, a scroll
/// hint, a box edge in between).
const FOOTER_WINDOW: usize = 5;
/// Rows a footer may wrap onto (a plan file's path on a narrow terminal).
const FOOTER_WRAP_ROWS: usize = 2;
/// How far an option's number may sit from the others' column: 2.0.76 draws an option whose
/// label fills the row one column to the left.
const NUMBER_COLUMN_SLACK: usize = 1;
/// Columns Ink keeps free at the right edge when it wraps a label.
const WRAP_MARGIN: usize = 2;
/// The last option of a dialog drawn without a footer ends with this (`No, and tell Claude
/// what to do differently (esc)`).
const FOOTERLESS_MARK: &str = "(esc)";
/// Rows under a multiSelect question's last option that are its buttons, not descriptions.
const MULTI_BUTTONS: &[&str] = &["Submit", "Next"];
/// AskUserQuestion's option that declines to answer in the dialog (2.1.x).
const CHAT: &str = "Chat about this";
/// The heading of Claude Code's plan approval.
const PLAN_TITLE: &str = "Ready to code?";
/// Non-option rows tolerated inside one option block (descriptions, a separator).
const MAX_GAP_IN_BLOCK: usize = 3;
/// Rows above the options searched for the dialog's top rule, title and body.
const MAX_DIALOG_ROWS: usize = 40;
/// Footer fragments of Claude Code's selection dialogs (2.0.76 to 2.1.329).
const FOOTERS: &[&str] = &[
    "Esc to cancel",
    "Enter to confirm",
    "Enter to select",
    "to edit in Vim",
    "ctrl-g to edit",
    "ctrl+g to edit",
    "Esc to go back",
    "Esc to exit",
];
/// `[y/N]`-style answers at the end of a question line, with the words that answer them.
const YES_NO: &[(&str, &str, &str)] = &[
    ("[y/N]", "y", "n"),
    ("[Y/n]", "y", "n"),
    ("[y/n]", "y", "n"),
    ("[Y/N]", "y", "n"),
    ("(y/N)", "y", "n"),
    ("(Y/n)", "y", "n"),
    ("(y/n)", "y", "n"),
    ("(Y/N)", "y", "n"),
    ("(yes/no)", "yes", "no"),
    ("[yes/no]", "yes", "no"),
    ("(yes/no/[fingerprint])", "yes", "no"),
];
/// Labels of options that open a text field instead of answering at once.
const INPUT_LABELS: &[&str] = &[
    "Type here to tell Claude",
    "Tell Claude what to change",
    "Type something",
    "No, keep planning",
];
/// Titles of Claude Code's tool-permission dialogs, with the tool each one is about.
const TOOL_TITLES: &[(&str, &str)] = &[
    ("Bash command", "Bash"),
    ("Edit file", "Edit"),
    ("Create file", "Write"),
    ("Overwrite file", "Write"),
    ("Read file", "Read"),
    ("Fetch", "WebFetch"),
    ("Tool use", "MCP"),
    ("Edit notebook", "NotebookEdit"),
    ("Network request outside of sandbox", "Network"),
];

/// How a dialog takes its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// `❯ 1. Yes`: the digit picks at once.
    Numbered,
    /// `❯ No, exit` / `  Yes, I trust this folder`: move the focus, then Enter.
    Unnumbered,
    /// `[y/N]`: type the word, then Enter.
    YesNo {
        /// What to type for yes (`y` or `yes`).
        yes: String,
        /// What to type for no.
        no: String,
    },
}

/// One answer the dialog offers, where it sits on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Option id on the prompt: `approve` / `always` / `reject`, or the option's position.
    pub id: String,
    /// The label as shown (wrapped labels joined).
    pub label: String,
    /// The digit that picks it, for numbered dialogs.
    pub number: Option<u8>,
    /// The screen row of its label.
    pub row: u16,
    /// The focus marker is on it.
    pub focused: bool,
    /// The line under it, if any (AskUserQuestion descriptions).
    pub description: Option<String>,
    /// Picking it opens a text field (tell Claude what to do instead).
    pub input: bool,
}

/// A question read off the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// What sort of question.
    pub kind: PromptKind,
    /// How it takes an answer.
    pub style: Style,
    /// Heading (`Bash command`), or the question line when the heading is not visible.
    pub title: String,
    /// The command, diff, plan or context above the options.
    pub body: String,
    /// The tool it is about, for Claude Code tool dialogs.
    pub tool: Option<String>,
    /// How the body reads.
    pub format: BodyFormat,
    /// The answers, in screen order.
    pub options: Vec<Choice>,
    /// For AskUserQuestion: the visible question.
    pub questions: Vec<Question>,
    /// The footer row (`Esc to cancel · Tab to amend`), empty when the dialog has none.
    pub footer: String,
}

impl Dialog {
    /// Identity across frames: the same dialog keeps it while the focus moves.
    pub fn fingerprint(&self) -> String {
        let mut s = format!("{:?}|{}|", self.kind, self.title);
        for o in &self.options {
            s.push_str(&o.label);
            s.push('|');
        }
        if let Some(q) = self.questions.first() {
            s.push_str(&q.question);
        }
        s
    }

    /// The focused option.
    pub fn focused(&self) -> Option<&Choice> {
        self.options.iter().find(|o| o.focused)
    }

    /// The option with this id.
    pub fn option(&self, id: &str) -> Option<&Choice> {
        self.options.iter().find(|o| o.id == id)
    }

    /// The option whose label reads `label` (ignoring spacing and apostrophe style).
    pub fn by_label(&self, label: &str) -> Option<&Choice> {
        let want = normalize(label);
        self.options.iter().find(|o| normalize(&o.label) == want)
    }

    /// True for a Claude Code tool dialog whose "No" takes a message after Tab (its footer
    /// says `Tab to amend`; 2.0.76 and WebFetch dialogs have no such thing).
    pub fn amendable(&self) -> bool {
        self.kind == PromptKind::Tool
            && self.style == Style::Numbered
            && self.footer.contains("Tab to amend")
            && self.options.iter().any(|o| o.id == OPTION_REJECT && !o.input)
    }

    /// The options as the phone sees them.
    pub fn prompt_options(&self) -> Vec<PromptOption> {
        self.options
            .iter()
            .map(|o| PromptOption {
                id: o.id.clone(),
                label: o.label.clone(),
                description: o.description.clone(),
            })
            .collect()
    }
}

/// Labels compare equal across curly and straight apostrophes and runs of spaces.
pub fn normalize(label: &str) -> String {
    label.replace('’', "'").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The question this screen asks, if any.
pub fn detect(screen: &Screen) -> Option<Dialog> {
    let rows: Vec<Vec<char>> = screen.lines.iter().map(|r| clean(&r.text())).collect();
    numbered(&rows, screen.cols).or_else(|| unnumbered(&rows)).or_else(|| yes_no(&rows, screen))
}

/// A row as the detector reads it: no-break spaces are spaces (Claude Code writes U+00A0 after
/// its prompt marker and in result lines), and the sides of a `│ … │` box are blank, so a boxed
/// dialog (2.0.76's MCP approval) reads like an open one.
fn clean(text: &str) -> Vec<char> {
    let mut row: Vec<char> = text.chars().map(|c| if c == '\u{a0}' { ' ' } else { c }).collect();
    let first = row.iter().position(|c| *c != ' ');
    let last = row.iter().rposition(|c| *c != ' ');
    if let (Some(a), Some(b)) = (first, last)
        && a < b
        && row[a] == '│'
        && row[b] == '│'
    {
        row[a] = ' ';
        row[b] = ' ';
        row.truncate(row.iter().rposition(|c| *c != ' ').map_or(0, |i| i + 1));
    }
    row
}

fn text(row: &[char]) -> String {
    row.iter().collect::<String>().trim().to_owned()
}

fn indent(row: &[char]) -> usize {
    row.iter().take_while(|c| **c == ' ').count()
}

fn is_blank(row: &[char]) -> bool {
    row.iter().all(|c| c.is_whitespace())
}

/// A horizontal rule: only box-drawing dashes (solid `─`, dashed `╌`, `▔`), box corners and
/// spaces.
fn is_rule(row: &[char]) -> bool {
    let mut n = 0;
    for c in row {
        match c {
            '─' | '╌' | '━' | '▔' | '═' => n += 1,
            ' ' | '╭' | '╮' | '╰' | '╯' => {}
            _ => return false,
        }
    }
    n >= 10
}

/// The bottom edge of a box drawn around a dialog (2.0.76's MCP approval).
fn is_box_bottom(row: &[char]) -> bool {
    is_rule(row) && row.get(indent(row)) == Some(&'╰')
}

fn is_footer(row: &[char]) -> bool {
    let t = text(row);
    FOOTERS.iter().any(|f| t.contains(f))
}

/// `↑ 4 more lines`: Claude Code's hint that part of a dialog is scrolled away.
fn is_scroll_hint(row: &[char]) -> bool {
    let t = text(row);
    (t.starts_with('↑') || t.starts_with('↓')) && t.contains("more")
}

/// Where a dialog's footer is, given the row right after its last option (and that option's
/// continuation rows), or `None` when the rows below do not end the screen the way a dialog
/// does.
///
/// Claude Code draws a dialog in place of its input box, at the bottom of the screen: below the
/// options there is at most a scroll hint, a box edge, the footer (which may wrap onto a second
/// row), and then nothing. Text shaped like a dialog in Claude's own reply (`lookalike-*`
/// fixtures) has the input box under it, so it fails here. Some dialogs have no footer (2.0.76
/// and 2.1.x WebFetch, 2.0.76 MCP tools): their last option ends in `(esc)`, which stands in for
/// it; `footerless` says whether that is the case.
fn dialog_bottom(
    rows: &[Vec<char>],
    after: usize,
    last_option: usize,
    footerless: bool,
) -> Option<Bottom> {
    let mut r = after;
    while r < rows.len()
        && (is_blank(&rows[r]) || is_box_bottom(&rows[r]) || is_scroll_hint(&rows[r]))
    {
        r += 1;
    }
    if r == rows.len() {
        return footerless.then_some(Bottom { footer: None });
    }
    if !is_footer(&rows[r]) || r > last_option + FOOTER_WINDOW {
        return None;
    }
    let footer = r;
    // The footer may wrap (a long plan file path); after it, only blank rows.
    let mut tail = footer + 1;
    while tail < rows.len() && tail <= footer + FOOTER_WRAP_ROWS && !is_blank(&rows[tail]) {
        if is_rule(&rows[tail]) {
            return None;
        }
        tail += 1;
    }
    rows[tail..].iter().all(|r| is_blank(r)).then_some(Bottom { footer: Some(footer) })
}

/// The end of a dialog: its footer row, if it has one.
struct Bottom {
    footer: Option<usize>,
}

/// A parsed `❯ 12. Label` row.
struct OptionRow {
    focused: bool,
    number: u8,
    /// Column of the first digit.
    num_col: usize,
    label: String,
}

fn parse_numbered(row: &[char]) -> Option<OptionRow> {
    let mut i = indent(row);
    let mut focused = false;
    if row.get(i) == Some(&FOCUS) {
        focused = true;
        i += 1;
        while row.get(i) == Some(&' ') {
            i += 1;
        }
    }
    let num_col = i;
    let mut number: u32 = 0;
    while let Some(d) = row.get(i).and_then(|c| c.to_digit(10)) {
        number = number * 10 + d;
        i += 1;
        if i - num_col > 2 {
            return None;
        }
    }
    if i == num_col || row.get(i) != Some(&'.') || row.get(i + 1) != Some(&' ') {
        return None;
    }
    i += 1;
    while row.get(i) == Some(&' ') {
        i += 1;
    }
    let label = text(&row[i.min(row.len())..]);
    if label.is_empty() || number == 0 {
        return None;
    }
    Some(OptionRow { focused, number: number as u8, num_col, label })
}

/// Strips an AskUserQuestion checkbox (`[ ] Auth`, `[✔] Auth`).
fn strip_checkbox(label: &str) -> (&str, bool) {
    for (prefix, multi) in [("[ ] ", true), ("[✔] ", true), ("[x] ", true), ("[X] ", true)] {
        if let Some(rest) = label.strip_prefix(prefix) {
            return (rest, multi);
        }
    }
    (label, false)
}

/// True when `next` continues the label on `row` because the label did not fit: Ink wraps at
/// the last space that fits (the next word would have passed the right edge), or, for a word
/// longer than the row, mid-word at the edge.
fn wraps_onto(row: &[char], next: &[char], cols: u16) -> bool {
    let width = usize::from(cols);
    if row.len() >= width {
        return true;
    }
    let word = next.iter().skip(indent(next)).take_while(|c| **c != ' ').count();
    row.len() + 1 + word + WRAP_MARGIN > width
}

fn numbered(rows: &[Vec<char>], cols: u16) -> Option<Dialog> {
    // Scan from the bottom: a dialog sits at the bottom, a numbered list above it is history.
    let mut end = rows.len();
    while end > 0 {
        let last = (0..end).rev().find(|&i| parse_numbered(&rows[i]).is_some())?;
        if let Some(d) = numbered_block_ending_at(rows, last, cols) {
            return Some(d);
        }
        end = last;
    }
    None
}

/// Tries the block whose last option is on row `last`.
fn numbered_block_ending_at(rows: &[Vec<char>], last: usize, cols: u16) -> Option<Dialog> {
    let tail = parse_numbered(&rows[last])?;
    let col = tail.num_col;
    // Walk up collecting options N, N-1, … 1 in the same number column.
    let mut found: Vec<(usize, OptionRow)> = vec![(last, tail)];
    let mut gap = 0;
    let mut i = last;
    while found.last().is_some_and(|(_, o)| o.number > 1) {
        if i == 0 {
            return None;
        }
        i -= 1;
        let want = found.last().map(|(_, o)| o.number - 1).unwrap_or(0);
        match parse_numbered(&rows[i]) {
            Some(o) if o.number == want && o.num_col.abs_diff(col) <= NUMBER_COLUMN_SLACK => {
                found.push((i, o));
                gap = 0;
            }
            Some(_) => return None,
            None => {
                gap += 1;
                let deeper = indent(&rows[i]) >= col.saturating_sub(NUMBER_COLUMN_SLACK);
                // A label broken mid-word at the right edge continues at the row's start.
                let broken = i > 0 && rows[i - 1].len() >= usize::from(cols);
                if gap > MAX_GAP_IN_BLOCK
                    || !(deeper || broken || is_blank(&rows[i]) || is_rule(&rows[i]))
                {
                    return None;
                }
            }
        }
    }
    found.reverse();
    if found.len() < 2 || found.iter().filter(|(_, o)| o.focused).count() != 1 {
        return None;
    }
    let first_row = found[0].0;

    let mut choices = Vec::new();
    let mut multi = false;
    let mut after_last = last + 1;
    for (k, (row, o)) in found.iter().enumerate() {
        let stop = found.get(k + 1).map_or(rows.len(), |(r, _)| *r);
        let mut label = o.label.clone();
        let mut description: Option<String> = None;
        let mut prev = &rows[*row];
        let mut r = row + 1;
        while r < stop {
            let line = &rows[r];
            if is_blank(line) || is_rule(line) || is_footer(line) || is_scroll_hint(line) {
                break;
            }
            let ind = indent(line);
            if description.is_none() && wraps_onto(prev, line, cols) {
                if prev.len() >= usize::from(cols) && ind < o.num_col {
                    label.push_str(&text(line)); // broken mid-word
                } else {
                    label.push(' ');
                    label.push_str(&text(line));
                }
            } else if ind + NUMBER_COLUMN_SLACK >= o.num_col {
                let d = description.get_or_insert_with(String::new);
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push_str(&text(line));
            } else {
                break;
            }
            prev = line;
            r += 1;
        }
        if k + 1 == found.len() {
            after_last = r;
        }
        let (bare, checkbox) = strip_checkbox(&label);
        multi |= checkbox;
        // A multiSelect question's `Submit`/`Next` button sits under its last option.
        if checkbox && description.as_deref().is_some_and(|d| MULTI_BUTTONS.contains(&d)) {
            description = None;
        }
        choices.push(Choice {
            id: o.number.to_string(),
            label: bare.to_owned(),
            number: Some(o.number),
            row: *row as u16,
            focused: o.focused,
            description,
            input: INPUT_LABELS.iter().any(|p| bare.starts_with(p)),
        });
    }
    let footerless = choices.last().is_some_and(|c| c.label.ends_with(FOOTERLESS_MARK));
    let bottom = dialog_bottom(rows, after_last, last, footerless)?;
    Some(assemble(rows, first_row, bottom.footer, choices, Style::Numbered, multi))
}

fn unnumbered(rows: &[Vec<char>]) -> Option<Dialog> {
    for (i, row) in rows.iter().enumerate().rev() {
        let start = indent(row);
        if row.get(start) != Some(&FOCUS) || row.get(start + 1) != Some(&' ') {
            continue;
        }
        let col = start + 2 + row[start + 2..].iter().take_while(|c| **c == ' ').count();
        if col >= row.len() || parse_numbered(row).is_some() {
            continue;
        }
        let is_peer = |r: &Vec<char>| indent(r) == col && !is_blank(r) && !is_footer(r);
        let mut top = i;
        while top > 0 && is_peer(&rows[top - 1]) {
            top -= 1;
        }
        let mut bottom = i;
        while bottom + 1 < rows.len() && is_peer(&rows[bottom + 1]) {
            bottom += 1;
        }
        if bottom == top {
            continue;
        }
        let Some(Bottom { footer: Some(footer_at) }) =
            dialog_bottom(rows, bottom + 1, bottom, false)
        else {
            continue;
        };
        let choices = (top..=bottom)
            .enumerate()
            .map(|(k, r)| {
                let label = text(&rows[r][col..]);
                Choice {
                    id: (k + 1).to_string(),
                    input: INPUT_LABELS.iter().any(|p| label.starts_with(p)),
                    label,
                    number: None,
                    row: r as u16,
                    focused: r == i,
                    description: None,
                }
            })
            .collect();
        return Some(assemble(rows, top, Some(footer_at), choices, Style::Unnumbered, false));
    }
    None
}

/// A title row without the scroll hint Claude Code may draw at its right end.
fn title_text(row: &[char]) -> String {
    text(row).trim_end_matches(['↓', '↑']).trim_end().to_owned()
}

/// Title, body, kind and option ids of a selection dialog whose options start on `first_row`.
fn assemble(
    rows: &[Vec<char>],
    first_row: usize,
    footer_at: Option<usize>,
    mut choices: Vec<Choice>,
    style: Style,
    multi: bool,
) -> Dialog {
    let lowest = first_row.saturating_sub(MAX_DIALOG_ROWS);
    // The dialog's top is the nearest full rule above the options (Claude draws one).
    let mut top = (lowest..first_row).rev().find(|&r| {
        is_rule(&rows[r]) && rows[r].iter().filter(|c| **c == '─' || **c == '▔').count() >= 10
    });
    let footer = footer_at.map(|f| text(&rows[f])).unwrap_or_default();
    let region = |top: Option<usize>| -> Vec<String> {
        let start = top.map_or(lowest, |t| t + 1);
        let mut lines: Vec<String> = (start..first_row)
            .filter(|&r| !is_rule(&rows[r]))
            .map(|r| title_text(&rows[r]))
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        while lines.first().is_some_and(|l| l.is_empty()) {
            lines.remove(0);
        }
        lines
    };
    let mut lines = region(top);
    let all = lines.join("\n");
    let chip =
        lines.iter().position(|l| l.starts_with('☐') || l.starts_with('☒') || l.starts_with('←'));
    // AskUserQuestion: its footer, and its chip or its free-text options (the chip scrolls
    // away first on a short terminal).
    let question_kind = footer.contains("Enter to select")
        && (chip.is_some()
            || choices.iter().any(|c| c.label.starts_with("Type something") || c.label == CHAT));
    let plan = all.contains("Ready to code?")
        || all.contains("Would you like to proceed?")
        || all.contains("Exit plan mode?")
        || choices.iter().any(|c| c.label.contains("manually approve edits"));
    // A plan dialog has a second rule between its plan and its question; its heading is above.
    if plan
        && !all.contains("Ready to code?")
        && let Some(heading) =
            top.and_then(|t| (lowest..t).rev().find(|&r| title_text(&rows[r]) == PLAN_TITLE))
    {
        top = Some(heading.saturating_sub(1));
        lines = region(top);
        while lines.first().is_some_and(|l| l != PLAN_TITLE) {
            lines.remove(0);
        }
    }

    // The heading is the first line when the top rule is visible; the question line is the
    // last line ending in `?` right above the options.
    let question_line = lines.iter().rposition(|l| l.ends_with('?'));
    let known_tool = |l: &String| {
        TOOL_TITLES.iter().find(|(t, _)| l.starts_with(t)).map(|(_, tool)| (*tool).to_owned())
    };
    let tool = lines.first().and_then(known_tool);
    let is_tool = !plan
        && !question_kind
        && (tool.is_some()
            || question_line.is_some_and(|q| lines[q].starts_with("Do you want to"))
            || choices.iter().any(|c| c.label.starts_with("Yes, and don")));

    let kind = if question_kind {
        PromptKind::Question
    } else if plan {
        PromptKind::Plan
    } else if is_tool {
        PromptKind::Tool
    } else {
        PromptKind::Choice
    };
    // Without the top rule, the first line is only a heading if it names a tool (the rule of a
    // short terminal scrolled away, the heading did not).
    let has_heading = top.is_some() || tool.is_some();
    let (title, body_lines): (String, Vec<String>) = match (has_heading, lines.split_first()) {
        (true, Some((first, rest))) => (first.clone(), rest.to_vec()),
        _ => {
            let q = question_line.map(|q| lines[q].clone()).unwrap_or_default();
            (if q.is_empty() { "Question".to_owned() } else { q }, lines.clone())
        }
    };
    let body = body_lines
        .iter()
        .filter(|l| !l.starts_with("Tip:"))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    let tool = tool.filter(|_| kind == PromptKind::Tool);
    let format = match tool.as_deref() {
        Some("Bash") => BodyFormat::Command,
        Some("Edit") => BodyFormat::Diff,
        _ if kind == PromptKind::Plan => BodyFormat::Markdown,
        _ => BodyFormat::Text,
    };

    let mut questions = Vec::new();
    if kind == PromptKind::Question {
        let header = chip
            .map(|c| lines[c].trim_start_matches(['☐', '☒', '←', ' ']).trim().to_owned())
            .unwrap_or_default();
        let question = question_line.map(|q| lines[q].clone()).unwrap_or_else(|| title.clone());
        questions.push(Question {
            question,
            header,
            options: choices
                .iter()
                .filter(|c| !c.input && c.label != CHAT)
                .map(|c| PromptOption {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    description: c.description.clone(),
                })
                .collect(),
            multi_select: multi,
        });
    } else {
        assign_ids(kind, &mut choices);
    }
    Dialog { kind, style, title, body, tool, format, options: choices, questions, footer }
}

/// Gives the options that mean yes / yes-always / no their reserved ids.
fn assign_ids(kind: PromptKind, choices: &mut [Choice]) {
    let mut approve = false;
    let mut always = false;
    let mut reject = false;
    for c in choices.iter_mut() {
        let l = normalize(&c.label);
        let yes = l == "Yes" || l.starts_with("Yes,") || l.starts_with("Yes ");
        let plain_yes = l == "Yes"
            || l == "Yes, I trust this folder"
            || l == "Yes, proceed"
            || l == "Yes, continue"
            || l == "Yes, manually approve edits"
            || l == "Yes, and manually approve edits";
        let risky = l.contains("auto mode") || l.contains("bypass");
        let no = l == "No"
            || l.starts_with("No,")
            || l.starts_with("Type here to tell Claude")
            || l.starts_with("Tell Claude what to change");
        if !approve && plain_yes {
            c.id = OPTION_APPROVE.into();
            approve = true;
        } else if kind == PromptKind::Tool && !always && yes && !risky && l != "Yes" {
            c.id = OPTION_ALWAYS.into();
            always = true;
        } else if !reject && no {
            c.id = OPTION_REJECT.into();
            reject = true;
        }
    }
}

fn yes_no(rows: &[Vec<char>], screen: &Screen) -> Option<Dialog> {
    let r = usize::from(screen.cursor.row);
    let row = rows.get(r)?;
    let line: String = row.iter().collect::<String>().trim_end().to_owned();
    for (pat, yes, no) in YES_NO {
        let Some(pos) = line.rfind(pat) else { continue };
        let rest = &line[pos + pat.len()..];
        if !rest.chars().all(|c| matches!(c, '?' | ':' | ' ' | '>' | '.')) {
            continue;
        }
        // The program waits right after the question, not somewhere else on the row.
        let end_col = line[..pos + pat.len()].chars().count();
        if usize::from(screen.cursor.col) < end_col {
            continue;
        }
        let question = line[..pos].trim().to_owned();
        if question.is_empty() {
            continue;
        }
        let mut context: Vec<String> = Vec::new();
        for above in rows[..r].iter().rev().take(6) {
            if is_blank(above) {
                break;
            }
            context.push(text(above));
        }
        context.reverse();
        let options = vec![
            Choice {
                id: OPTION_APPROVE.into(),
                label: "Yes".into(),
                number: None,
                row: r as u16,
                focused: false,
                description: None,
                input: false,
            },
            Choice {
                id: OPTION_REJECT.into(),
                label: "No".into(),
                number: None,
                row: r as u16,
                focused: false,
                description: None,
                input: false,
            },
        ];
        return Some(Dialog {
            kind: PromptKind::Confirm,
            style: Style::YesNo { yes: (*yes).into(), no: (*no).into() },
            title: question.clone(),
            body: if context.is_empty() {
                line.clone()
            } else {
                format!("{}\n{}", context.join("\n"), line)
            },
            tool: None,
            format: BodyFormat::Text,
            options,
            questions: vec![],
            footer: String::new(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::VirtualScreen;

    /// Renders text through the real emulator, leaving the cursor at the end.
    fn screen(text: &str, rows: u16, cols: u16) -> Screen {
        let mut v = VirtualScreen::new(rows, cols);
        v.feed(text.replace('\n', "\r\n").as_bytes());
        v.snapshot()
    }

    const BASH_112: &str = "\
────────────────────────────────────────────────────────────────────────────────────────────────────
 Bash command

   python3 -c \"print(42)\"
   Print 42

 This command requires approval

 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and don’t ask again for: python3 *
   3. No

 Esc to cancel · Tab to amend · ctrl+e to explain
";

    #[test]
    fn claude_bash_dialog_2_1_112() {
        let d = detect(&screen(BASH_112, 32, 100)).expect("dialog");
        assert_eq!(d.kind, PromptKind::Tool);
        assert_eq!(d.style, Style::Numbered);
        assert_eq!(d.title, "Bash command");
        assert_eq!(d.tool.as_deref(), Some("Bash"));
        assert!(d.body.contains("python3 -c \"print(42)\""), "{}", d.body);
        let ids: Vec<_> = d.options.iter().map(|o| (o.id.as_str(), o.number)).collect();
        assert_eq!(ids, [("approve", Some(1)), ("always", Some(2)), ("reject", Some(3))]);
        assert_eq!(d.focused().unwrap().label, "Yes");
        assert!(d.amendable());
    }

    #[test]
    fn numbered_list_without_focus_or_footer_is_not_a_dialog() {
        let plan = "Plan:\n 1. Create hello.txt\n 2. Run the tests\n\n> ";
        assert_eq!(detect(&screen(plan, 10, 80)), None);
        let no_footer = " Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n some other text\n";
        assert_eq!(detect(&screen(no_footer, 12, 80)), None);
        let two_focus = " ❯ 1. Yes\n ❯ 2. No\n\n Esc to cancel\n";
        assert_eq!(detect(&screen(two_focus, 10, 80)), None);
    }

    #[test]
    fn yes_no_on_the_cursor_line_only() {
        let d = detect(&screen("Removing 3 packages.\nProceed? [y/N] ", 10, 80)).expect("y/N");
        assert_eq!(d.kind, PromptKind::Confirm);
        assert_eq!(d.style, Style::YesNo { yes: "y".into(), no: "n".into() });
        assert_eq!(d.title, "Proceed?");
        assert!(d.body.contains("Removing 3 packages."));
        // Printed, then the program moved on: the cursor is on the next line.
        assert_eq!(detect(&screen("echo 'Proceed? [y/N]'\nProceed? [y/N]\n$ ", 10, 80)), None);
        // In the middle of a line.
        assert_eq!(detect(&screen("use [y/N] to answer prompts", 10, 80)), None);
        let ssh = "Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
        let d = detect(&screen(ssh, 10, 100)).expect("ssh");
        assert_eq!(d.style, Style::YesNo { yes: "yes".into(), no: "no".into() });
    }

    #[test]
    fn dialog_text_in_a_reply_above_the_input_box_is_not_a_dialog() {
        // Claude's own reply shaped like a dialog, then the idle input box (U+00A0 after `❯`).
        let reply = "● Pick one:\n\n  ❯ 1. Yes\n    2. No\n\n  Esc to cancel\n\n\
            ────────────────────────────────────────\n❯\u{a0}\n\
            ────────────────────────────────────────\n  ? for shortcuts\n";
        assert_eq!(detect(&screen(reply, 16, 80)), None);
        // The same block at the bottom of the screen is one.
        let dialog = " Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n Esc to cancel\n";
        assert!(detect(&screen(dialog, 16, 80)).is_some());
    }

    #[test]
    fn a_dialog_without_footer_needs_its_esc_option_at_the_bottom() {
        let fetch = " Fetch\n\n Do you want to allow Claude to fetch this content?\n \
            ❯ 1. Yes\n   2. No, and tell Claude what to do differently (esc)\n";
        let d = detect(&screen(fetch, 10, 80)).expect("footerless dialog");
        assert_eq!((d.kind, d.title.as_str(), d.footer.as_str()), (PromptKind::Tool, "Fetch", ""));
        let plain = " Which one?\n ❯ 1. Yes\n   2. No\n";
        assert_eq!(detect(&screen(plain, 10, 80)), None, "no footer, no (esc)");
        let more = format!("{fetch}$ ");
        assert_eq!(detect(&screen(&more, 10, 80)), None, "something under it");
    }
}
