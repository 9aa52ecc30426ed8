//! Question detection on a settled screen: any program's `[y/N]` question, and Claude Code's
//! numbered and unnumbered selection dialogs. Pure; no IO, no clock.
//!
//! Anchors are the option block and the footer under it, never the title alone: on a short
//! terminal the title scrolls away (research/claude-code.md §2 hazard 5), and a numbered list in
//! ordinary output (a plan, a markdown reply) must not become a card. A block needs exactly one
//! focus marker `❯` on an option row and a dialog footer (`Esc to cancel`, `Enter to confirm`…)
//! a few rows below it. Colours are not used: themes change them.
//!
//! Settling is the caller's job (`session` only acts on a dialog that stayed the same for
//! [`crate::session::PROMPT_SETTLE`]); this module answers "what does this frame ask?".

use cr_proto::{
    BodyFormat, OPTION_ALWAYS, OPTION_APPROVE, OPTION_REJECT, PromptKind, PromptOption, Question,
    Screen,
};

/// The focus marker Claude Code draws before the focused option (U+276F).
pub const FOCUS: char = '❯';
/// Rows below an option block in which the footer must appear.
const FOOTER_WINDOW: usize = 5;
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

    /// True for a Claude Code tool dialog whose "No" takes a message after Tab.
    pub fn amendable(&self) -> bool {
        self.kind == PromptKind::Tool
            && self.style == Style::Numbered
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
    let rows: Vec<Vec<char>> = screen.lines.iter().map(|r| r.text().chars().collect()).collect();
    numbered(&rows, screen.cols).or_else(|| unnumbered(&rows)).or_else(|| yes_no(&rows, screen))
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

/// A horizontal rule: only box-drawing dashes (solid `─`, dashed `╌`, `▔`) and spaces.
fn is_rule(row: &[char]) -> bool {
    let mut n = 0;
    for c in row {
        match c {
            '─' | '╌' | '━' | '▔' | '═' => n += 1,
            ' ' => {}
            _ => return false,
        }
    }
    n >= 10
}

fn is_footer(row: &[char]) -> bool {
    let t = text(row);
    FOOTERS.iter().any(|f| t.contains(f))
}

/// A parsed `❯ 12. Label` row.
struct OptionRow {
    focused: bool,
    number: u8,
    /// Column of the first digit.
    num_col: usize,
    /// Column where the label starts.
    label_col: usize,
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
    let label_col = i;
    let label = text(&row[i.min(row.len())..]);
    if label.is_empty() || number == 0 {
        return None;
    }
    Some(OptionRow { focused, number: number as u8, num_col, label_col, label })
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
            Some(o) if o.number == want && o.num_col == found[0].1.num_col => {
                found.push((i, o));
                gap = 0;
            }
            Some(_) => return None,
            None => {
                gap += 1;
                let deeper = indent(&rows[i]) >= found.last().map(|(_, o)| o.num_col).unwrap_or(0);
                if gap > MAX_GAP_IN_BLOCK || !(deeper || is_blank(&rows[i]) || is_rule(&rows[i])) {
                    return None;
                }
            }
        }
    }
    found.reverse();
    if found.len() < 2 || found.iter().filter(|(_, o)| o.focused).count() != 1 {
        return None;
    }
    // The footer must follow within a few rows (descriptions of the last option in between).
    let after = last + 1;
    let footer_at =
        (after..rows.len().min(after + FOOTER_WINDOW)).find(|&r| is_footer(&rows[r]))?;
    let first_row = found[0].0;

    let mut choices = Vec::new();
    let mut multi = false;
    for (k, (row, o)) in found.iter().enumerate() {
        let stop = found.get(k + 1).map_or(footer_at, |(r, _)| *r);
        let mut label = o.label.clone();
        let mut description: Option<String> = None;
        let mut wrapped = rows[*row].len() + 8 >= usize::from(cols);
        for line in &rows[row + 1..stop] {
            if is_blank(line) || is_rule(line) {
                wrapped = false;
                continue;
            }
            if indent(line) < o.label_col {
                break;
            }
            if wrapped && description.is_none() {
                label.push(' ');
                label.push_str(&text(line));
                wrapped = line.len() + 8 >= usize::from(cols);
            } else {
                let d = description.get_or_insert_with(String::new);
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push_str(&text(line));
            }
        }
        let (bare, checkbox) = strip_checkbox(&label);
        multi |= checkbox;
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
    Some(assemble(rows, first_row, footer_at, choices, Style::Numbered, multi))
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
        let after = bottom + 1;
        let Some(footer_at) =
            (after..rows.len().min(after + FOOTER_WINDOW)).find(|&r| is_footer(&rows[r]))
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
        return Some(assemble(rows, top, footer_at, choices, Style::Unnumbered, false));
    }
    None
}

/// Title, body, kind and option ids of a selection dialog whose options start on `first_row`.
fn assemble(
    rows: &[Vec<char>],
    first_row: usize,
    footer_at: usize,
    mut choices: Vec<Choice>,
    style: Style,
    multi: bool,
) -> Dialog {
    let lowest = first_row.saturating_sub(MAX_DIALOG_ROWS);
    // The dialog's top is the nearest full rule above the options (Claude draws one).
    let top = (lowest..first_row).rev().find(|&r| {
        is_rule(&rows[r]) && rows[r].iter().filter(|c| **c == '─' || **c == '▔').count() >= 10
    });
    let start = top.map_or(lowest, |t| t + 1);
    let mut lines: Vec<String> =
        (start..first_row).filter(|&r| !is_rule(&rows[r])).map(|r| text(&rows[r])).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    let footer = text(&rows[footer_at]);
    let all = lines.join("\n");
    let chip =
        lines.iter().position(|l| l.starts_with('☐') || l.starts_with('☒') || l.starts_with('←'));
    let question_kind = footer.contains("Enter to select") && chip.is_some();
    let plan = all.contains("Ready to code?")
        || all.contains("Would you like to proceed?")
        || all.contains("Exit plan mode?")
        || choices.iter().any(|c| c.label.contains("manually approve edits"));

    // The heading is the first line when the top rule is visible; the question line is the
    // last line ending in `?` right above the options.
    let question_line = lines.iter().rposition(|l| l.ends_with('?'));
    let tool = top.and_then(|_| {
        let first = lines.first()?;
        TOOL_TITLES.iter().find(|(t, _)| first.starts_with(t)).map(|(_, tool)| (*tool).to_owned())
    });
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
    let (title, body_lines): (String, Vec<String>) = match (top, lines.split_first()) {
        (Some(_), Some((first, rest))) => (first.clone(), rest.to_vec()),
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
                .filter(|c| !c.input && c.label != "Chat about this")
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
    Dialog { kind, style, title, body, tool, format, options: choices, questions }
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
}
