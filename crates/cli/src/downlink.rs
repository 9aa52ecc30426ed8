//! Which prompts are open, and whether an answer from the phone may be applied now. Pure.
//!
//! `cr` is the source of truth for a prompt's life (docs/design.md "Who owns what"): it opens
//! each prompt once and closes it once. An answer for a prompt that is already closed — by the
//! keyboard, by the program moving on — is never typed into whatever the screen shows next;
//! its closure was already sent as an event, so the relay answers the phone with 409.

use std::collections::{BTreeMap, VecDeque};

use cr_proto::{Answer, AnsweredBy, Event, Prompt, PromptId, PromptStatus, Timestamp};

/// How many closed prompts are remembered for explaining late answers.
const CLOSED_MEMORY: usize = 256;

/// What to do with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The prompt is open and the answer fits it: apply it.
    Apply,
    /// The prompt was settled before: do nothing (its closure is already on its way).
    AlreadyClosed(PromptStatus, AnsweredBy),
    /// No such prompt in this session.
    Unknown,
    /// The answer does not fit the prompt's options.
    Invalid(String),
}

/// The prompts of one session.
#[derive(Debug, Default)]
pub struct Ledger {
    open: BTreeMap<PromptId, Prompt>,
    closed: VecDeque<(PromptId, PromptStatus, AnsweredBy)>,
}

impl Ledger {
    /// Registers a new prompt; returns the event announcing it.
    pub fn open(&mut self, prompt: Prompt) -> Event {
        self.open.insert(prompt.id.clone(), prompt.clone());
        Event::PromptOpened { prompt: Box::new(prompt) }
    }

    /// The open prompt with this id.
    pub fn get(&self, id: &PromptId) -> Option<&Prompt> {
        self.open.get(id)
    }

    /// Ids of the open prompts.
    pub fn open_ids(&self) -> Vec<PromptId> {
        self.open.keys().cloned().collect()
    }

    /// Settles a prompt; returns the closing event, or `None` if it was not open (a prompt
    /// closes exactly once).
    pub fn close(
        &mut self,
        id: &PromptId,
        status: PromptStatus,
        by: AnsweredBy,
        at: Timestamp,
    ) -> Option<Event> {
        self.open.remove(id)?;
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((id.clone(), status, by));
        Some(Event::PromptClosed { prompt_id: id.clone(), status, by, at })
    }

    /// May this answer be applied now?
    pub fn judge(&self, id: &PromptId, answer: &Answer) -> Verdict {
        if let Some(p) = self.open.get(id) {
            return match answer.validate_for(p) {
                Ok(()) => Verdict::Apply,
                Err(e) => Verdict::Invalid(e.to_string()),
            };
        }
        match self.closed.iter().rev().find(|(c, ..)| c == id) {
            Some((_, status, by)) => Verdict::AlreadyClosed(*status, *by),
            None => Verdict::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use cr_proto::{PromptKind, PromptOption, PromptSource, SessionId};

    use super::*;

    fn prompt(id: &str) -> Prompt {
        Prompt {
            id: PromptId::new(id).unwrap(),
            session_id: SessionId::new("s").unwrap(),
            source: PromptSource::Screen,
            kind: PromptKind::Tool,
            title: "Bash command".into(),
            body: "ls".into(),
            options: vec![PromptOption::new("approve", "Yes"), PromptOption::new("reject", "No")],
            created_at: Timestamp(0),
            status: PromptStatus::Pending,
            by: None,
            tool: None,
            format: Default::default(),
            questions: vec![],
        }
    }

    #[test]
    fn an_answer_applies_only_to_an_open_prompt_once() {
        let mut l = Ledger::default();
        let id = PromptId::new("p1").unwrap();
        assert!(matches!(l.open(prompt("p1")), Event::PromptOpened { .. }));
        let yes = Answer::Approve { always: false };
        assert_eq!(l.judge(&id, &yes), Verdict::Apply);
        assert!(matches!(l.judge(&id, &Answer::Approve { always: true }), Verdict::Invalid(_)));
        // Answered at the keyboard first.
        let ev = l.close(&id, PromptStatus::ResolvedLocally, AnsweredBy::Terminal, Timestamp(1));
        assert!(matches!(
            ev,
            Some(Event::PromptClosed { status: PromptStatus::ResolvedLocally, .. })
        ));
        assert_eq!(
            l.judge(&id, &yes),
            Verdict::AlreadyClosed(PromptStatus::ResolvedLocally, AnsweredBy::Terminal)
        );
        assert_eq!(
            l.close(&id, PromptStatus::Approved, AnsweredBy::Phone, Timestamp(2)),
            None,
            "closes once"
        );
        assert_eq!(l.judge(&PromptId::new("zz").unwrap(), &yes), Verdict::Unknown);
    }
}
