//! What to type: phone input as bytes, and the answer to a screen dialog as a sequence of
//! verified keystrokes. Pure; the session does the writing and the waiting.
//!
//! Rules from research/claude-code.md §2 and anchors.md §0:
//! - a numbered dialog is answered by the digit of the option whose label matches, re-read
//!   on the current screen right before typing; never digit + Enter (the stray Enter would
//!   land in whatever comes next);
//! - an unnumbered dialog is answered by reading the focused label, pressing one arrow,
//!   reading again, until the target is focused, then Enter; never a fixed count of arrows;
//! - text goes in one write and Enter in a separate write after a pause, or the program takes
//!   both as a paste and never submits; several lines go in a bracketed paste when the
//!   program enabled it.

use std::time::Duration;

use cr_proto::{Answer, Input, Key, OPTION_ALWAYS, OPTION_APPROVE, OPTION_REJECT, Screen};

use crate::detect::{Dialog, Style, detect, normalize};

/// Pause between a text write and the Enter that submits it (Ink needs a separate read).
pub const ENTER_PAUSE: Duration = Duration::from_millis(120);
/// Pause between other keystrokes of one answer.
pub const STROKE_PAUSE: Duration = Duration::from_millis(40);

/// One write to the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stroke {
    /// A named key.
    Key(Key),
    /// Literal text (no control characters but newline and tab).
    Text(String),
}

/// The terminal modes that change what a key sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    /// DECCKM: arrows send `ESC O x`.
    pub application_cursor: bool,
    /// Mode 2004: the program wants pasted text bracketed.
    pub bracketed_paste: bool,
}

/// The legacy bytes of a key.
pub fn key_bytes(key: Key, modes: Modes) -> &'static [u8] {
    let app = modes.application_cursor;
    match key {
        Key::Esc => b"\x1b",
        Key::Enter => b"\r",
        Key::Up if app => b"\x1bOA",
        Key::Down if app => b"\x1bOB",
        Key::Right if app => b"\x1bOC",
        Key::Left if app => b"\x1bOD",
        Key::Up => b"\x1b[A",
        Key::Down => b"\x1b[B",
        Key::Right => b"\x1b[C",
        Key::Left => b"\x1b[D",
        Key::Tab => b"\t",
        Key::ShiftTab => b"\x1b[Z",
        Key::Backspace => b"\x7f",
        Key::Space => b" ",
        Key::CtrlC => b"\x03",
        Key::CtrlD => b"\x04",
    }
}

/// The bytes of one stroke, and the pause to keep before it.
pub fn stroke_bytes(
    stroke: &Stroke,
    previous: Option<&Stroke>,
    modes: Modes,
) -> (Vec<u8>, Duration) {
    let pause = match (previous, stroke) {
        (None, _) => Duration::ZERO,
        (Some(Stroke::Text(_)), Stroke::Key(Key::Enter)) => ENTER_PAUSE,
        _ => STROKE_PAUSE,
    };
    let bytes = match stroke {
        Stroke::Key(k) => key_bytes(*k, modes).to_vec(),
        Stroke::Text(t) if t.contains('\n') && modes.bracketed_paste => {
            let mut b = b"\x1b[200~".to_vec();
            b.extend_from_slice(t.as_bytes());
            b.extend_from_slice(b"\x1b[201~");
            b
        }
        // Without bracketed paste a newline would submit early: send lines as carriage returns
        // only if the program asked for nothing better, which is what a typist would do.
        Stroke::Text(t) => t.replace('\n', "\r").into_bytes(),
    };
    (bytes, pause)
}

/// The strokes of phone input (`POST /api/sessions/{id}/input`).
pub fn input_strokes(input: &Input) -> Vec<Stroke> {
    match input {
        Input::Text { text, submit } => {
            let mut v = Vec::new();
            if !text.is_empty() {
                v.push(Stroke::Text(text.clone()));
            }
            if *submit {
                v.push(Stroke::Key(Key::Enter));
            }
            v
        }
        Input::Keys { keys } => keys.iter().map(|k| Stroke::Key(*k)).collect(),
    }
}

/// What an answer asks of a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Goal {
    /// Pick the option with this label (its digit, or focus + Enter).
    Pick(String),
    /// Pick an option that opens a text field, then type the text and submit it.
    PickThenText(String, String),
    /// Focus this option (Claude's "No"), Tab to amend, type the text, submit.
    AmendThenText(String, String),
    /// Cancel the dialog (Esc): a plain no where "no" is a text field.
    Cancel,
    /// Type `y`/`yes` or `n`/`no`, then Enter.
    Word(String),
    /// Toggle these labels of a multi-select question, then go on with Right (the key the
    /// lab verified; the footer also offers Tab).
    Toggle(Vec<String>),
}

/// Where the typist is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Start,
    /// Moving the focus toward the target; `then` is what follows once it is there.
    Focus {
        target: String,
        then: Vec<Stroke>,
        amend_text: Option<String>,
    },
    /// Tab was pressed on the target; type the text next.
    Amend(String),
    /// The field is open; type the text next.
    TypeText(String),
    /// Everything is typed; the next settled frame tells whether the dialog closed.
    Verify,
}

/// The next thing the session should do for an answer in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Type these strokes, wait for the screen to settle, then call [`Typist::step`] again.
    Type(Vec<Stroke>),
    /// Finished typing: `closed` tells whether the dialog is gone from the screen.
    Done {
        /// The dialog is no longer on screen.
        closed: bool,
    },
    /// Nothing was typed because the screen no longer shows what the answer was for.
    Failed(String),
}

/// What a "no" option says when the next thing typed goes to Claude as the user's word.
const TELL_CLAUDE: &str = "tell Claude what to do differently";

/// Upper bound on arrow presses per option of the dialog before giving up.
const MAX_PRESSES_PER_OPTION: usize = 2;

/// Types one answer into one dialog, checking the screen before every keystroke.
#[derive(Debug, Clone)]
pub struct Typist {
    fingerprint: String,
    goal: Goal,
    phase: Phase,
    presses: usize,
    max_presses: usize,
}

impl Typist {
    /// Plans the answer for `dialog` as it was shown to the phone; `Err` says why it cannot
    /// be typed (nothing is typed then).
    pub fn new(dialog: &Dialog, answer: &Answer) -> Result<Self, String> {
        let option_label = |id: &str| -> Result<String, String> {
            dialog.option(id).map(|o| o.label.clone()).ok_or_else(|| format!("no option {id:?}"))
        };
        let goal = match (&dialog.style, answer) {
            (Style::YesNo { yes, no }, a) => match a.status() {
                cr_proto::PromptStatus::Approved => Goal::Word(yes.clone()),
                cr_proto::PromptStatus::Rejected => Goal::Word(no.clone()),
                _ => return Err("a yes/no question takes approve or reject".into()),
            },
            (_, Answer::Approve { always }) => {
                Goal::Pick(option_label(if *always { OPTION_ALWAYS } else { OPTION_APPROVE })?)
            }
            (_, Answer::Reject { message }) => {
                let no = dialog.option(OPTION_REJECT).ok_or("this dialog has no reject option")?;
                match message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                    Some(m) if no.input => Goal::PickThenText(no.label.clone(), one_line(m)),
                    Some(m) if dialog.amendable() => {
                        Goal::AmendThenText(no.label.clone(), one_line(m))
                    }
                    // `No, and tell Claude what to do differently (esc)` (WebFetch, 2.0.76 MCP
                    // tools): it interrupts the turn and Claude Code asks "What should Claude
                    // do instead?" in its input box, which is where the message goes.
                    Some(m) if normalize(&no.label).contains(TELL_CLAUDE) => {
                        Goal::PickThenText(no.label.clone(), one_line(m))
                    }
                    _ if no.input => Goal::Cancel,
                    _ => Goal::Pick(no.label.clone()),
                }
            }
            (_, Answer::Option { option }) => {
                let o = dialog.option(option).ok_or_else(|| format!("no option {option:?}"))?;
                if o.input {
                    return Err(format!("option {:?} needs text: answer with a message", o.label));
                }
                Goal::Pick(o.label.clone())
            }
            (_, Answer::Questions { answers }) => {
                let q = dialog.questions.first().ok_or("this dialog asks no question")?;
                let a = answers.get(&q.question).ok_or_else(|| {
                    format!("no answer for the visible question {:?}", q.question)
                })?;
                if q.multi_select {
                    Goal::Toggle(a.split(", ").map(str::to_owned).collect())
                } else if dialog.by_label(a).is_some() {
                    Goal::Pick(a.clone())
                } else {
                    let other = dialog
                        .options
                        .iter()
                        .find(|o| o.input)
                        .ok_or_else(|| format!("{a:?} is not one of the options"))?;
                    Goal::PickThenText(other.label.clone(), one_line(a))
                }
            }
        };
        Ok(Self {
            fingerprint: dialog.fingerprint(),
            goal,
            phase: Phase::Start,
            presses: 0,
            max_presses: dialog.options.len() * MAX_PRESSES_PER_OPTION + 1,
        })
    }

    /// The next action, given the current settled screen.
    pub fn step(&mut self, screen: &Screen) -> Action {
        let now = detect(screen);
        let same = now.as_ref().filter(|d| d.fingerprint() == self.fingerprint);
        if self.phase == Phase::Verify {
            return Action::Done { closed: same.is_none() };
        }
        if matches!(self.phase, Phase::Amend(_) | Phase::TypeText(_)) {
            // The field is open: the dialog's look changed on purpose, so type on.
            let text = match std::mem::replace(&mut self.phase, Phase::Verify) {
                Phase::Amend(t) | Phase::TypeText(t) => t,
                _ => unreachable!("matched above"),
            };
            return Action::Type(vec![Stroke::Text(text), Stroke::Key(Key::Enter)]);
        }
        let Some(dialog) = same else {
            return Action::Failed("the dialog is no longer on screen".into());
        };
        match std::mem::replace(&mut self.phase, Phase::Verify) {
            Phase::Start => self.start(dialog),
            Phase::Focus { target, then, amend_text } => {
                self.focus(dialog, target, then, amend_text)
            }
            Phase::Amend(_) | Phase::TypeText(_) | Phase::Verify => unreachable!("handled above"),
        }
    }

    fn start(&mut self, dialog: &Dialog) -> Action {
        let goal = self.goal.clone();
        match goal {
            Goal::Word(w) => Action::Type(vec![Stroke::Text(w), Stroke::Key(Key::Enter)]),
            Goal::Cancel => Action::Type(vec![Stroke::Key(Key::Esc)]),
            Goal::Pick(label) => {
                let Some(o) = dialog.by_label(&label) else {
                    return Action::Failed(format!("option {label:?} is not on screen"));
                };
                match o.number {
                    Some(n) => Action::Type(vec![Stroke::Text(n.to_string())]),
                    None => self.focus(dialog, label, vec![Stroke::Key(Key::Enter)], None),
                }
            }
            Goal::PickThenText(label, text) => {
                let Some(o) = dialog.by_label(&label) else {
                    return Action::Failed(format!("option {label:?} is not on screen"));
                };
                match o.number {
                    Some(n) => {
                        self.phase = Phase::TypeText(text);
                        Action::Type(vec![Stroke::Text(n.to_string())])
                    }
                    None => self.focus(dialog, label, vec![], Some(text)),
                }
            }
            Goal::AmendThenText(label, text) => {
                self.focus(dialog, label, vec![Stroke::Key(Key::Tab)], Some(text))
            }
            Goal::Toggle(labels) => {
                let mut strokes = Vec::new();
                for l in &labels {
                    match dialog.by_label(l).and_then(|o| o.number) {
                        Some(n) => strokes.push(Stroke::Text(n.to_string())),
                        None => return Action::Failed(format!("option {l:?} is not on screen")),
                    }
                }
                strokes.push(Stroke::Key(Key::Right));
                Action::Type(strokes)
            }
        }
    }

    /// One arrow toward `target`, or `then` once it has the focus.
    fn focus(
        &mut self,
        dialog: &Dialog,
        target: String,
        then: Vec<Stroke>,
        amend_text: Option<String>,
    ) -> Action {
        let want = normalize(&target);
        let Some(t) = dialog.options.iter().position(|o| normalize(&o.label) == want) else {
            return Action::Failed(format!("option {target:?} is not on screen"));
        };
        let Some(f) = dialog.options.iter().position(|o| o.focused) else {
            return Action::Failed("no option has the focus".into());
        };
        if f == t {
            if let Some(text) = amend_text {
                if then.is_empty() {
                    // An unnumbered text option: Enter opens its field.
                    self.phase = Phase::TypeText(text);
                    return Action::Type(vec![Stroke::Key(Key::Enter)]);
                }
                self.phase = Phase::Amend(text);
            }
            return Action::Type(then);
        }
        self.presses += 1;
        if self.presses > self.max_presses {
            return Action::Failed(format!("the focus did not reach {target:?}"));
        }
        self.phase = Phase::Focus { target, then, amend_text };
        Action::Type(vec![Stroke::Key(if t > f { Key::Down } else { Key::Up })])
    }
}

/// Dialog text fields submit on Enter: a message is typed as one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::VirtualScreen;

    #[test]
    fn keys_follow_the_cursor_mode() {
        let normal = Modes::default();
        let app = Modes { application_cursor: true, ..Modes::default() };
        assert_eq!(key_bytes(Key::Up, normal), b"\x1b[A");
        assert_eq!(key_bytes(Key::Up, app), b"\x1bOA");
        assert_eq!(key_bytes(Key::Enter, app), b"\r");
        assert_eq!(key_bytes(Key::ShiftTab, normal), b"\x1b[Z");
        assert_eq!(key_bytes(Key::CtrlC, normal), b"\x03");
    }

    #[test]
    fn text_then_enter_as_separate_writes() {
        let strokes = input_strokes(&Input::Text { text: "run the tests".into(), submit: true });
        assert_eq!(strokes, [Stroke::Text("run the tests".into()), Stroke::Key(Key::Enter)]);
        let m = Modes::default();
        let (b, pause) = stroke_bytes(&strokes[0], None, m);
        assert_eq!((b.as_slice(), pause), (&b"run the tests"[..], Duration::ZERO));
        let (b, pause) = stroke_bytes(&strokes[1], Some(&strokes[0]), m);
        assert_eq!((b.as_slice(), pause), (&b"\r"[..], ENTER_PAUSE));
        let paste = Modes { bracketed_paste: true, ..m };
        let (b, _) = stroke_bytes(&Stroke::Text("a\nb".into()), None, paste);
        assert_eq!(b, b"\x1b[200~a\nb\x1b[201~");
        let (b, _) = stroke_bytes(&Stroke::Text("one line".into()), None, paste);
        assert_eq!(b, b"one line", "single lines are typed, not pasted");
    }

    fn screen(text: &str) -> Screen {
        let mut v = VirtualScreen::new(20, 100);
        v.feed(text.replace('\n', "\r\n").as_bytes());
        v.snapshot()
    }

    const TRUST_329: &str = "\
────────────────────────────────────────────────────────────────────────────────────────────────────
 Accessing workspace:

 /home/u/proj

 Claude Code'll be able to read, edit, and execute files here.

 ❯ No, exit
   Yes, I trust this folder

 Enter to confirm · Esc to cancel
";

    #[test]
    fn unnumbered_dialog_moves_focus_one_verified_press_at_a_time() {
        let s = screen(TRUST_329);
        let d = detect(&s).expect("dialog");
        assert_eq!(d.style, Style::Unnumbered);
        let mut t = Typist::new(&d, &Answer::Approve { always: false }).unwrap();
        assert_eq!(t.step(&s), Action::Type(vec![Stroke::Key(Key::Down)]));
        // The press was lost (input not armed yet): the same screen asks for another press.
        assert_eq!(t.step(&s), Action::Type(vec![Stroke::Key(Key::Down)]));
        let moved = screen(&TRUST_329.replace(" ❯ No, exit\n   Yes", "   No, exit\n ❯ Yes"));
        assert_eq!(t.step(&moved), Action::Type(vec![Stroke::Key(Key::Enter)]));
        assert_eq!(t.step(&screen("trusted\n")), Action::Done { closed: true });
    }

    #[test]
    fn focus_search_gives_up_instead_of_pressing_forever() {
        let s = screen(TRUST_329);
        let d = detect(&s).unwrap();
        let mut t = Typist::new(&d, &Answer::Approve { always: false }).unwrap();
        let mut presses = 0;
        loop {
            match t.step(&s) {
                Action::Type(_) => presses += 1,
                Action::Failed(_) => break,
                Action::Done { .. } => panic!("cannot be done"),
            }
            assert!(presses < 20);
        }
        assert_eq!(presses, d.options.len() * MAX_PRESSES_PER_OPTION + 1);
    }

    const FETCH_112: &str = "\
────────────────────────────────────────────────────────────────────────────────────────────────────
 Fetch

   https://example.com/page
   Claude wants to fetch content from example.com

 Do you want to allow Claude to fetch this content?
 ❯ 1. Yes
   2. Yes, and don't ask again for example.com
   3. No, and tell Claude what to do differently (esc)
";

    #[test]
    fn a_message_for_a_dialog_without_tab_goes_to_the_prompt_after_no() {
        let s = screen(FETCH_112);
        let d = detect(&s).expect("a footerless dialog");
        assert!(!d.amendable(), "no `Tab to amend` in its footer");
        let answer = Answer::Reject { message: Some("use\ncurl".into()) };
        let mut t = Typist::new(&d, &answer).unwrap();
        assert_eq!(t.step(&s), Action::Type(vec![Stroke::Text("3".into())]));
        let asked = screen("⎿  Interrupted · What should Claude do instead?\n\n> \n");
        assert_eq!(
            t.step(&asked),
            Action::Type(vec![Stroke::Text("use curl".into()), Stroke::Key(Key::Enter)])
        );
        assert_eq!(t.step(&asked), Action::Done { closed: true });
        // A plain no is the digit alone.
        let mut t = Typist::new(&d, &Answer::Reject { message: None }).unwrap();
        assert_eq!(t.step(&s), Action::Type(vec![Stroke::Text("3".into())]));
    }
}
