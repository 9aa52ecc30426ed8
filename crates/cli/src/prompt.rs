//! The prompts a session has open, against what the screen shows: when the screen counts as
//! settled, which prompts a settled screen closes, joins to a hook or opens, how a phone answer
//! is applied, and when an answer being typed takes its next step. Pure: the time is an
//! argument everywhere, so the tests drive the clock.
//!
//! The session (`session.rs`) owns one [`Prompts`] and does what it decides: it opens and
//! closes prompts on the relay, replies to hooks, and hands keystrokes to the writer.

use std::time::Duration;

use cr_proto::{Answer, OPTION_APPROVE, OPTION_REJECT, PromptId, PromptKind, PromptSource};
use serde_json::Value;
use tokio::time::Instant;

use crate::{
    detect::{Dialog, normalize},
    hooks::{self, HookPayload},
    keys::Typist,
};

/// A question counts once the dialog has looked the same for this long. Claude Code redraws a
/// dialog several times while it opens (answering a half-drawn one is hazard 4 of
/// research/claude-code.md), and 2.1.329 drops keys that arrive within about 0.1 s of a dialog
/// first painting (tests/claude/README.md: lost at 0.1 s, taken at 0.15 s): nothing is typed
/// into a dialog before it has been still for three times that.
pub const PROMPT_SETTLE: Duration = Duration::from_millis(300);
/// A question also counts once the program has been silent this long with the dialog on
/// screen: a program that stopped writing has finished drawing (Claude Code writes a frame in
/// one write), so the phone need not wait out [`PROMPT_SETTLE`], which still applies when
/// other output keeps flowing. Keys still wait for [`PROMPT_SETTLE`].
pub const PROMPT_QUIET: Duration = Duration::from_millis(30);
/// With hooks on, how long a settled Claude Code dialog waits for its `PermissionRequest`
/// before it becomes a screen prompt instead (auto mode asks some questions without the hook).
pub const HOOK_GRACE: Duration = Duration::from_millis(1500);
/// Longest wait for the screen to settle between keystrokes of an answer.
pub const TYPIST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a dialog answered from the phone may stay on screen before it counts as asking
/// again: Claude Code takes a moment to act on a hook's decision or a key (a busy one took
/// more than [`PROMPT_SETTLE`]), and meanwhile its dialog is no new question. One that does
/// not close becomes a new prompt (design.md).
pub const ANSWER_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A `PermissionRequest` waiting for its decision; `reply` is how the decision gets back.
#[derive(Debug)]
pub struct Hook<H> {
    /// What Claude Code asked.
    pub payload: HookPayload,
    /// The way back to the waiting hook call.
    pub reply: H,
}

/// A prompt the session opened and has not settled.
#[derive(Debug)]
pub struct Open<H> {
    /// Its id on the relay.
    pub id: PromptId,
    /// Whether the card was made from the hook's payload or from the screen.
    pub source: PromptSource,
    /// The dialog on screen it stands for, once seen.
    pub dialog: Option<Dialog>,
    /// The waiting `PermissionRequest`, if the prompt came from (or was joined by) a hook.
    pub hook: Option<Hook<H>>,
}

/// An answer being typed into a dialog.
#[derive(Debug)]
pub struct Typing {
    /// What to type next, checked against the screen.
    pub typist: Typist,
    /// Strokes are with the writer and not yet reported done.
    pub writing: bool,
    /// When the last strokes finished.
    pub typed_at: Instant,
}

/// What a settled screen means; the session carries it out in this order.
#[derive(Debug)]
pub struct Settled<H> {
    /// Prompts whose dialog left the screen: answered at the keyboard. Taken out already; the
    /// session closes them `resolved_locally` and releases their hooks.
    pub gone: Vec<Open<H>>,
    /// A dialog to open a screen prompt for (then [`Prompts::track`] it).
    pub open: Option<Dialog>,
    /// The hook prompt the dialog on screen was found to belong to.
    pub joined: Option<PromptId>,
    /// The answer being typed may take its next step against the current screen.
    pub step_typist: bool,
}

/// How to apply a phone's answer to an open prompt.
#[derive(Debug)]
pub enum Route<H> {
    /// Through the waiting hook: reply with `decision` (Claude Code closes its dialog). The
    /// prompt is taken out; the session closes it as answered by the phone.
    Hook {
        /// The decision JSON.
        decision: Value,
        /// The hook to send it to.
        hook: Hook<H>,
        /// The prompt it settles.
        open: Box<Open<H>>,
    },
    /// Type it into this dialog, which is on screen now.
    Type(Dialog),
    /// Its dialog already left the screen: the keyboard answered first.
    Gone,
    /// Nothing can be done with it now (said why); the prompt stays open.
    Refuse(String),
}

/// Identity of a dialog across frames: kind, labels, and the end of the body (the top of a
/// long body scrolls away on a short terminal, and resizes re-wrap it). The focus is not part
/// of it: moving the focus is not a new question.
pub fn identity(d: &Dialog) -> String {
    let body = normalize(&d.body);
    let tail: String = body.chars().skip(body.chars().count().saturating_sub(80)).collect();
    let labels: Vec<&str> = d.options.iter().map(|o| o.label.as_str()).collect();
    format!("{:?}|{}|{tail}", d.kind, labels.join("|"))
}

/// True when `o` showed a dialog and the screen (whose dialog has identity `on_screen`) no
/// longer shows it.
fn gone_from<H>(o: &Open<H>, on_screen: Option<&str>) -> bool {
    o.dialog.as_ref().is_some_and(|d| Some(identity(d).as_str()) != on_screen)
}

/// Claude Code's tool, plan and question dialogs: the ones a `PermissionRequest` hook also asks.
pub fn hook_kind(d: &Dialog) -> bool {
    matches!(d.kind, PromptKind::Tool | PromptKind::Plan | PromptKind::Question)
}

/// A plain yes or no, which means the same through a hook and on screen.
fn plain_yes_or_no(answer: &Answer) -> bool {
    match answer {
        Answer::Approve { always } => !always,
        Answer::Reject { .. } => true,
        Answer::Option { option } => option == OPTION_APPROVE || option == OPTION_REJECT,
        Answer::Questions { .. } => false,
    }
}

/// The open prompts of one session and the screen they are judged against.
#[derive(Debug)]
pub struct Prompts<H> {
    /// Claude Code hooks are on: a tool dialog waits [`HOOK_GRACE`] for its hook.
    hooks_on: bool,
    /// The detection result of the latest frame.
    seen: Option<Dialog>,
    /// Since when `seen` has not changed.
    since: Instant,
    open: Vec<Open<H>>,
    typing: Option<Typing>,
    /// A dialog just answered from the phone (its identity) and until when it may take to
    /// close.
    answered: Option<(String, Instant)>,
    /// When the program last wrote anything.
    last_output: Instant,
}

impl<H> Prompts<H> {
    /// Nothing open, nothing seen.
    pub fn new(hooks_on: bool, now: Instant) -> Self {
        Self {
            hooks_on,
            seen: None,
            since: now,
            open: Vec::new(),
            typing: None,
            answered: None,
            last_output: now,
        }
    }

    /// The program wrote something.
    pub fn output(&mut self, now: Instant) {
        self.last_output = now;
    }

    /// A frame's detection result; the settle clock restarts when it differs.
    pub fn observe(&mut self, dialog: Option<Dialog>, now: Instant) {
        if dialog != self.seen {
            self.seen = dialog;
            self.since = now;
            let still = |(id, _): &(String, Instant)| {
                self.seen.as_ref().is_some_and(|d| &identity(d) == id)
            };
            if !self.answered.as_ref().is_some_and(still) {
                self.answered = None;
            }
        }
    }

    /// The answer being typed.
    pub fn typist(&mut self) -> Option<&mut Typing> {
        self.typing.as_mut()
    }

    /// Starts typing an answer. Its first keys wait until the dialog is [`PROMPT_SETTLE`] old
    /// ([`Prompts::typing_due`]): a card can show sooner, keys into a dialog that young may
    /// be lost.
    pub fn start_typing(&mut self, typist: Typist, now: Instant) {
        self.typing = Some(Typing { typist, writing: false, typed_at: now - PROMPT_SETTLE });
    }

    /// The answer being typed may take its next step now.
    pub fn typing_due(&self, now: Instant) -> bool {
        self.typing.is_some() && self.deadline(None, now).is_some_and(|t| t <= now)
    }

    /// The writer finished the strokes it was given.
    pub fn typed(&mut self, now: Instant) {
        if let Some(t) = &mut self.typing {
            t.writing = false;
            t.typed_at = now;
        }
    }

    /// Typing is over. `closed: false` means the dialog was still on screen after the keys:
    /// it gets [`ANSWER_CLOSE_TIMEOUT`] to go before it is taken for a new question.
    pub fn stop_typing(&mut self, closed: bool, now: Instant) {
        self.typing = None;
        self.answered = match (&self.seen, closed) {
            (Some(d), false) => Some((identity(d), now + ANSWER_CLOSE_TIMEOUT)),
            _ => None,
        };
    }

    /// A prompt the session just opened.
    pub fn track(&mut self, open: Open<H>) {
        self.open.push(open);
    }

    /// Takes a prompt out (the session closes it).
    pub fn remove(&mut self, id: &PromptId) -> Option<Open<H>> {
        let i = self.open.iter().position(|o| &o.id == id)?;
        Some(self.open.remove(i))
    }

    /// Ids of the open prompts.
    pub fn ids(&self) -> Vec<PromptId> {
        self.open.iter().map(|o| o.id.clone()).collect()
    }

    /// When the detection result counts as settled: [`PROMPT_QUIET`] after the output
    /// stopped, or [`PROMPT_SETTLE`] after the result last changed, whichever comes first.
    fn settled_at(&self) -> Instant {
        let quiet = self.since.max(self.last_output) + PROMPT_QUIET;
        (self.since + PROMPT_SETTLE).min(quiet)
    }

    /// Open prompts whose dialog is not the one on screen.
    fn dialog_gone(&self, o: &Open<H>) -> bool {
        gone_from(o, self.seen.as_ref().map(identity).as_deref())
    }

    /// A hook prompt still waiting to see its dialog, for a Claude Code dialog on screen.
    fn unseen_hook_prompt(&self) -> bool {
        self.seen.as_ref().is_some_and(hook_kind)
            && self.open.iter().any(|o| o.hook.is_some() && o.dialog.is_none())
    }

    /// The dialog on screen has no prompt yet.
    fn untracked(&self) -> bool {
        self.seen.as_ref().is_some_and(|d| {
            let id = identity(d);
            !self.open.iter().any(|o| o.dialog.as_ref().is_some_and(|od| identity(od) == id))
        })
    }

    /// Until when the dialog on screen is one just answered by keys, still closing.
    fn closing_until(&self, now: Instant) -> Option<Instant> {
        self.answered.as_ref().map(|(_, until)| *until).filter(|until| *until > now)
    }

    /// How long a new dialog waits for its hook before it becomes a screen prompt.
    fn grace(&self) -> Duration {
        match &self.seen {
            Some(d) if self.hooks_on && hook_kind(d) => HOOK_GRACE,
            _ => Duration::ZERO,
        }
    }

    /// When [`Prompts::settle`] next has something to do, or `None`. `frame_due` is when
    /// output not yet turned into a frame will be: until then `seen` is out of date, and
    /// settling against it could match a hook with the dialog that was just answered.
    ///
    /// Every deadline returned is one at which `settle` acts (or the clock has moved on), so
    /// a timer firing at it never finds nothing to do and fires again at once.
    pub fn deadline(&self, frame_due: Option<Instant>, now: Instant) -> Option<Instant> {
        if let Some(t) = &self.typing {
            return (!t.writing).then(|| {
                (self.since.max(t.typed_at) + PROMPT_SETTLE).min(t.typed_at + TYPIST_TIMEOUT)
            });
        }
        let settled_at = self.settled_at();
        if let Some(frame) = frame_due {
            return Some(frame.max(settled_at));
        }
        if settled_at > now {
            // Not settled yet; worth waking only if settling will have something to do.
            let anything = self.seen.is_some() || !self.open.is_empty();
            return anything.then_some(settled_at);
        }
        if self.open.iter().any(|o| self.dialog_gone(o)) || self.unseen_hook_prompt() {
            return Some(settled_at);
        }
        if !self.untracked() {
            return None;
        }
        Some(self.closing_until(now).unwrap_or(settled_at + self.grace()))
    }

    /// The screen has been still since [`Prompts::deadline`]: what that means for the
    /// prompts. Call when `deadline` has passed.
    pub fn settle(&mut self, now: Instant) -> Settled<H> {
        let mut out = Settled { gone: Vec::new(), open: None, joined: None, step_typist: false };
        if let Some(t) = &self.typing {
            out.step_typist = !t.writing;
            return out;
        }
        if now < self.settled_at() {
            return out;
        }
        // Prompts whose dialog left the screen were answered at the keyboard.
        let on_screen = self.seen.as_ref().map(identity);
        out.gone = self.open.extract_if(.., |o| gone_from(o, on_screen.as_deref())).collect();
        if !self.untracked() || self.closing_until(now).is_some() {
            return out;
        }
        let Some(dialog) = self.seen.clone() else { return out };
        // A Claude Code dialog on screen belongs to the newest hook prompt still unseen.
        if hook_kind(&dialog)
            && let Some(o) =
                self.open.iter_mut().rev().find(|o| o.hook.is_some() && o.dialog.is_none())
        {
            o.dialog = Some(dialog);
            out.joined = Some(o.id.clone());
            return out;
        }
        if now >= self.settled_at() + self.grace() {
            out.open = Some(dialog);
        }
        out
    }

    /// The screen prompt a `PermissionRequest` that just arrived belongs to: one already
    /// showing a Claude Code dialog and not joined by a hook (one dialog, one card). `None`:
    /// the request gets a prompt of its own.
    pub fn joinable(&self) -> Option<PromptId> {
        self.open
            .iter()
            .find(|o| o.hook.is_none() && o.dialog.as_ref().is_some_and(hook_kind))
            .map(|o| o.id.clone())
    }

    /// Joins a hook to the open prompt `id` (see [`Prompts::joinable`]).
    pub fn join(&mut self, id: &PromptId, hook: Hook<H>) {
        if let Some(o) = self.open.iter_mut().find(|o| &o.id == id) {
            o.hook = Some(hook);
        }
    }

    /// A state hook event: the prompts it shows were answered elsewhere (taken out; the
    /// session closes them `resolved_locally`). `PostToolUse` closes the request for the same
    /// tool call; `Stop` and `UserPromptSubmit` mean Claude is past every question.
    pub fn hook_event(&mut self, event: &HookPayload) -> Vec<Open<H>> {
        let done = |o: &Open<H>| {
            o.hook.as_ref().is_some_and(|h| match event.hook_event_name.as_str() {
                "PostToolUse" => {
                    h.payload.tool_name == event.tool_name
                        && h.payload.tool_input == event.tool_input
                }
                "Stop" | "UserPromptSubmit" => true,
                _ => false,
            })
        };
        self.open.extract_if(.., |o| done(o)).collect()
    }

    /// How to apply `answer` to the open prompt `id`. Call after a fresh frame was observed:
    /// the answer is judged by the screen as it is now, so a keyboard answer a moment ago
    /// wins and nothing is typed into whatever came next.
    ///
    /// A waiting hook takes the answer when its meaning there is the card's: always for a card
    /// made from the hook, and for a plain yes or no on a card made from the screen. Other
    /// answers on a screen card are typed, because the card shows the screen's labels (its
    /// "don't ask again" is not the hook's suggestion) and only its visible question.
    pub fn route(&mut self, id: &PromptId, answer: &Answer, now: Instant) -> Route<H> {
        let Some(i) = self.open.iter().position(|o| &o.id == id) else {
            return Route::Refuse("not open".into());
        };
        let o = &self.open[i];
        // Its dialog was on screen and is gone: the keyboard was first, whatever path the
        // answer would take (a hook decision now would be ignored by Claude Code).
        if self.dialog_gone(o) {
            return Route::Gone;
        }
        if let Some(hook) = &o.hook
            && (o.source == PromptSource::Hook || plain_yes_or_no(answer))
        {
            match hooks::decision(&hook.payload, answer) {
                Ok(decision) => {
                    let mut open = Box::new(self.open.remove(i));
                    let hook = open.hook.take().expect("checked");
                    // Its dialog stays on screen until Claude Code takes the decision and
                    // redraws; meanwhile it is no new question.
                    let on_screen = self.seen.as_ref().filter(|d| hook_kind(d));
                    self.answered = open
                        .dialog
                        .as_ref()
                        .or(on_screen)
                        .map(|d| (identity(d), now + ANSWER_CLOSE_TIMEOUT));
                    return Route::Hook { decision, hook, open };
                }
                Err(e) if o.source == PromptSource::Hook && o.dialog.is_none() => {
                    return Route::Refuse(format!("no hook decision for this answer: {e}"));
                }
                Err(_) => {} // typed below
            }
        }
        if self.typing.is_some() {
            return Route::Refuse("another answer is being typed".into());
        }
        match (&o.dialog, &self.seen) {
            (Some(d), Some(now)) if identity(d) == identity(now) => Route::Type(now.clone()),
            (Some(_), _) => Route::Gone,
            (None, Some(now)) if hook_kind(now) => Route::Type(now.clone()),
            (None, _) => Route::Refuse("its dialog is not on screen".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use cr_proto::Screen;
    use serde_json::json;

    use super::*;
    use crate::{detect::detect, screen::VirtualScreen};

    const MS: Duration = Duration::from_millis(1);

    fn screen(text: &str) -> Screen {
        let mut v = VirtualScreen::new(24, 100);
        v.feed(text.replace('\n', "\r\n").as_bytes());
        v.snapshot()
    }

    fn bash(command: &str) -> Dialog {
        detect(&screen(&format!(
            "────────────────────────────────────────────────────────────────────────────────\n \
             Bash command\n\n   {command}\n\n Do you want to proceed?\n ❯ 1. Yes\n   \
             2. Yes, and don’t ask again for: npm install *\n   3. No\n\n \
             Esc to cancel · Tab to amend · ctrl+e to explain\n"
        )))
        .expect("a Bash dialog")
    }

    fn request(command: &str) -> Hook<&'static str> {
        Hook {
            payload: serde_json::from_value(json!({
                "hook_event_name": "PermissionRequest", "tool_name": "Bash",
                "tool_input": {"command": command, "description": "d"},
                "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": command}],
                                            "behavior": "allow", "destination": "localSettings"}]
            }))
            .unwrap(),
            reply: "reply",
        }
    }

    fn id(n: u32) -> PromptId {
        PromptId::new(format!("p{n}")).unwrap()
    }

    /// Card `n`, made from a hook for `ls`, whose dialog has been seen on screen.
    fn hook_card_on_screen(p: &mut Prompts<&'static str>, n: u32) {
        p.track(Open {
            id: id(n),
            source: PromptSource::Hook,
            dialog: Some(bash("ls")),
            hook: Some(request("ls")),
        });
    }

    fn screen_prompt(p: &mut Prompts<&'static str>, n: u32, d: Dialog) {
        p.track(Open { id: id(n), source: PromptSource::Screen, dialog: Some(d), hook: None });
    }

    /// Drives the clock the way the session's timer does: to each deadline, then settle.
    /// Returns what the first settle that did something decided, and when.
    fn run_until_something(
        p: &mut Prompts<&'static str>,
        mut now: Instant,
    ) -> Option<(Instant, Settled<&'static str>)> {
        for _ in 0..10 {
            let due = p.deadline(None, now)?;
            now = now.max(due);
            let s = p.settle(now);
            if !s.gone.is_empty() || s.open.is_some() || s.joined.is_some() || s.step_typist {
                return Some((now, s));
            }
            // Nothing done: the next deadline must be later, or there is none (no spinning).
            if let Some(next) = p.deadline(None, now) {
                assert!(next > now, "the timer would spin at {now:?}");
            }
        }
        panic!("settle never acted")
    }

    /// A program that keeps writing until `to` (a spinner, 2.1.329's blinking dot): never
    /// quiet, so only [`PROMPT_SETTLE`] settles a dialog.
    fn keeps_writing(p: &mut Prompts<&'static str>, from: Instant, to: Instant) {
        let mut t = from;
        while t <= to {
            p.output(t);
            t += 20 * MS;
        }
    }

    #[test]
    fn a_dialog_opens_a_prompt_once_it_has_been_still_for_the_settle_time() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        assert_eq!(p.deadline(None, t0), None, "nothing on screen: no timer");
        keeps_writing(&mut p, t0, t0 + 2000 * MS);
        p.observe(Some(bash("ls")), t0);
        // A redraw 100 ms later with the same dialog does not restart the clock.
        p.observe(Some(bash("ls")), t0 + 100 * MS);
        assert_eq!(p.deadline(None, t0 + 100 * MS), Some(t0 + PROMPT_SETTLE));
        assert!(p.settle(t0 + 299 * MS).open.is_none(), "too early");
        let (at, s) = run_until_something(&mut p, t0 + 100 * MS).unwrap();
        assert_eq!(
            (at, s.open.map(|d| d.title)),
            (t0 + PROMPT_SETTLE, Some("Bash command".into()))
        );
        // Output not yet framed holds the settle back until that frame.
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        keeps_writing(&mut p, t0, t0 + 2000 * MS);
        p.observe(Some(bash("ls")), t0);
        assert_eq!(p.deadline(Some(t0 + 400 * MS), t0), Some(t0 + 400 * MS));
    }

    #[test]
    fn with_hooks_a_claude_dialog_waits_for_its_hook_then_becomes_a_screen_prompt() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        keeps_writing(&mut p, t0, t0 + 3000 * MS);
        p.observe(Some(bash("ls")), t0);
        let (at, s) = run_until_something(&mut p, t0).unwrap();
        assert_eq!(at, t0 + PROMPT_SETTLE + HOOK_GRACE);
        assert!(s.open.is_some());

        // The hook arrives within the grace: the dialog joins the hook prompt, no second card.
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        keeps_writing(&mut p, t0, t0 + 3000 * MS);
        assert_eq!(p.joinable(), None, "nothing to join");
        p.track(Open {
            id: id(1),
            source: PromptSource::Hook,
            dialog: None,
            hook: Some(request("ls")),
        });
        p.observe(Some(bash("ls")), t0);
        assert_eq!(p.deadline(None, t0 + PROMPT_SETTLE), Some(t0 + PROMPT_SETTLE));
        let s = p.settle(t0 + PROMPT_SETTLE);
        assert!(s.open.is_none() && s.gone.is_empty());
        assert_eq!(s.joined, Some(id(1)));
        assert_eq!(p.deadline(None, t0 + PROMPT_SETTLE), None, "nothing left to do");
        assert_eq!(p.settle(t0 + 10 * HOOK_GRACE).open, None, "never a second card");

        // The hook arrives after the screen prompt opened: it joins that prompt.
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        p.observe(Some(bash("ls")), t0);
        screen_prompt(&mut p, 1, bash("ls"));
        assert_eq!(p.joinable(), Some(id(1)));
    }

    #[test]
    fn a_dialog_that_leaves_the_screen_closes_its_prompt_as_answered_locally() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        keeps_writing(&mut p, t0, t0 + 3000 * MS);
        p.observe(Some(bash("ls")), t0);
        screen_prompt(&mut p, 1, bash("ls"));
        // The focus moving is the same dialog.
        let mut moved = bash("ls");
        moved.options[0].focused = false;
        moved.options[2].focused = true;
        p.observe(Some(moved), t0 + 500 * MS);
        assert_eq!(p.deadline(None, t0 + 900 * MS), None);
        // Answered at the keyboard: gone, once the new screen has settled.
        p.observe(None, t0 + MS * 1000);
        assert!(p.settle(t0 + MS * 1100).gone.is_empty(), "not settled yet");
        let (at, s) = run_until_something(&mut p, t0 + MS * 1000).unwrap();
        assert_eq!(at, t0 + MS * 1000 + PROMPT_SETTLE);
        assert_eq!(s.gone.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [id(1)]);
        assert_eq!(p.deadline(None, at), None);

        // The next Bash call with the same options is a new dialog (its command differs).
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        p.observe(Some(bash("ls")), t0);
        screen_prompt(&mut p, 1, bash("ls"));
        p.observe(Some(bash("rm -rf build")), t0 + MS * 1000);
        let (_, s) = run_until_something(&mut p, t0 + MS * 1000).unwrap();
        assert_eq!(s.gone.len(), 1);
        assert!(s.open.is_some(), "and the new one opens");
    }

    #[test]
    fn a_dialog_drawn_and_then_silent_settles_after_the_quiet_time_but_keys_wait() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        p.output(t0);
        p.observe(Some(bash("ls")), t0);
        assert_eq!(p.deadline(None, t0), Some(t0 + PROMPT_QUIET));
        assert!(p.settle(t0 + PROMPT_QUIET).open.is_some());
        // Output elsewhere on screen (a spinner) keeps it from counting as quiet.
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        p.observe(Some(bash("ls")), t0);
        p.output(t0 + MS * 20);
        p.output(t0 + MS * 40);
        assert_eq!(p.deadline(None, t0 + MS * 40), Some(t0 + MS * 70));
        // An answer for a card shown that early: keys wait until the dialog is old enough.
        let d = bash("ls");
        p.start_typing(Typist::new(&d, &Answer::Approve { always: false }).unwrap(), t0 + MS * 80);
        assert!(!p.typing_due(t0 + MS * 80));
        assert!(p.typing_due(t0 + PROMPT_SETTLE));
    }

    #[test]
    fn a_dialog_answered_through_its_hook_is_no_new_question_while_it_closes() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        hook_card_on_screen(&mut p, 1);
        p.observe(Some(bash("ls")), t0);
        assert!(matches!(
            p.route(&id(1), &Answer::Approve { always: false }, t0),
            Route::Hook { .. }
        ));
        // Still drawn a while later: no screen card for it.
        assert_eq!(p.deadline(None, t0 + MS * 500), Some(t0 + ANSWER_CLOSE_TIMEOUT));
        assert!(p.settle(t0 + HOOK_GRACE * 2).open.is_none());
    }

    #[test]
    fn a_dialog_answered_by_keys_gets_time_to_close_before_it_asks_again() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        p.observe(Some(bash("ls")), t0);
        p.start_typing(Typist::new(&bash("ls"), &Answer::Approve { always: false }).unwrap(), t0);
        // The keys went out; a busy Claude Code has not redrawn yet when the typist checks.
        p.stop_typing(false, t0 + MS * 400);
        assert_eq!(p.deadline(None, t0 + MS * 400), Some(t0 + MS * 400 + ANSWER_CLOSE_TIMEOUT));
        assert!(p.settle(t0 + MS * 500).open.is_none(), "no second card while it closes");
        // It closes: nothing to do.
        p.observe(None, t0 + MS * 600);
        assert_eq!(run_until_something(&mut p, t0 + MS * 600).map(|(at, _)| at), None);
        // Had it stayed, it would have become a new prompt after the timeout (design.md).
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        p.observe(Some(bash("ls")), t0);
        p.stop_typing(false, t0 + MS * 400);
        let (at, s) = run_until_something(&mut p, t0 + MS * 400).unwrap();
        assert_eq!(at, t0 + MS * 400 + ANSWER_CLOSE_TIMEOUT);
        assert!(s.open.is_some());
    }

    #[test]
    fn state_hooks_close_hook_prompts() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        for (n, cmd) in [(1, "ls"), (2, "pwd")] {
            let hook = request(cmd);
            p.track(Open { id: id(n), source: PromptSource::Hook, dialog: None, hook: Some(hook) });
        }
        let post: HookPayload = serde_json::from_value(json!({
            "hook_event_name": "PostToolUse", "tool_name": "Bash",
            "tool_input": {"command": "pwd", "description": "d"}
        }))
        .unwrap();
        assert_eq!(p.hook_event(&post).iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [id(2)]);
        let note: HookPayload =
            serde_json::from_value(json!({"hook_event_name": "Notification"})).unwrap();
        assert!(p.hook_event(&note).is_empty());
        let stop: HookPayload = serde_json::from_value(json!({"hook_event_name": "Stop"})).unwrap();
        assert_eq!(p.hook_event(&stop).len(), 1);
        assert!(p.ids().is_empty());
    }

    #[test]
    fn typing_steps_after_each_settle_and_gives_up_waiting_after_the_timeout() {
        let t0 = Instant::now();
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        let d = bash("ls");
        p.observe(Some(d.clone()), t0);
        p.start_typing(Typist::new(&d, &Answer::Approve { always: false }).unwrap(), t0 + MS * 400);
        // Settled long ago: the first step is due at once.
        assert_eq!(p.deadline(None, t0 + MS * 400), Some(t0 + MS * 400));
        assert!(p.settle(t0 + MS * 400).step_typist);
        // While the writer types, no timer.
        p.typist().unwrap().writing = true;
        assert_eq!(p.deadline(None, t0 + MS * 500), None);
        p.typed(t0 + MS * 600);
        assert_eq!(p.deadline(None, t0 + MS * 600), Some(t0 + MS * 900));
        // A screen that keeps changing (2.1.329's blinking spinner elsewhere would not, but a
        // busy program might) is waited for at most the typist timeout.
        for k in 0..100u32 {
            p.observe(if k % 2 == 0 { None } else { Some(d.clone()) }, t0 + MS * (600 + 100 * k));
        }
        assert_eq!(p.deadline(None, t0 + MS * 10_000), Some(t0 + MS * 600 + TYPIST_TIMEOUT));
    }

    #[test]
    fn answers_go_through_the_hook_only_where_they_mean_the_same() {
        let t0 = Instant::now();
        let always = Answer::Approve { always: true };
        // A hook card: always goes to the hook, as the suggestion the card described.
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        hook_card_on_screen(&mut p, 1);
        p.observe(Some(bash("ls")), t0);
        match p.route(&id(1), &always, t0) {
            Route::Hook { decision, .. } => {
                assert_eq!(decision["hookSpecificOutput"]["decision"]["behavior"], "allow");
            }
            other => panic!("{other:?}"),
        }
        // A screen card joined by a hook: its "always" label is the screen's, so it is typed.
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        p.observe(Some(bash("ls")), t0);
        screen_prompt(&mut p, 1, bash("ls"));
        p.join(&id(1), request("ls"));
        assert!(matches!(p.route(&id(1), &always, t0), Route::Type(_)));
        // A plain yes goes to the hook.
        assert!(matches!(
            p.route(&id(1), &Answer::Approve { always: false }, t0),
            Route::Hook { .. }
        ));
        // A hook card whose dialog was seen and is gone: the keyboard was first, even though
        // the hook still waits.
        let mut p: Prompts<&str> = Prompts::new(true, t0);
        hook_card_on_screen(&mut p, 1);
        p.observe(None, t0);
        assert!(matches!(p.route(&id(1), &Answer::Approve { always: false }, t0), Route::Gone));
        // A screen card whose dialog is gone: the keyboard was first.
        let mut p: Prompts<&str> = Prompts::new(false, t0);
        screen_prompt(&mut p, 1, bash("ls"));
        p.observe(None, t0);
        assert!(matches!(p.route(&id(1), &Answer::Approve { always: false }, t0), Route::Gone));
    }
}
