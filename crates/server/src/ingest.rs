//! Ingest: what the relay does with each uplink message, without seeing a socket.
//!
//! Numbered events become one write job per frame. The job skips events at or below the
//! session's stored `last_seq` (re-sends after a reconnect), stores the rest, and returns the
//! feed events they cause; the job's follow-up runs after the commit, in commit order, and
//! only then publishes them and releases the acknowledgement. So a phone never sees what a
//! crash could still lose, and feed ids reach every subscriber in increasing order. A frame
//! that opened or settled prompts has the session's status settled by one more job, after
//! its commit: the `prompt` event goes out without waiting for the session row, and the
//! frame's acknowledgement is sent after the status (acks are cumulative, so a later frame's
//! may still overtake it: an ack says what is stored, not what is settled).

use std::sync::Arc;

use cr_proto::feed::{LINES, PROMPT, PROMPT_RESPONSE, SESSION_END, SESSION_START, SESSION_UPDATE};
use cr_proto::{
    AnsweredBy, DeviceId, Event, Numbered, PromptResponse, PromptStatus, Screen, ScreenError,
    ScreenUpdate, Session, SessionId, SessionMeta, SessionStatus, Timestamp, TranscriptLine,
};
use tokio::sync::{oneshot, watch};

use crate::hub::{FeedItem, LinkHandle, OutputError, ScreenState, Settled};
use crate::state::SharedState;
use crate::store::{self, Opened, StoreError, Tx};

/// What the link reports back to `cr`: the highest stored event, or that storing failed (the
/// link then closes, and `cr` re-sends on its next connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acks {
    /// Highest event `seq` committed.
    pub seq: u64,
    /// A write failed; nothing more will be acknowledged on this link.
    pub failed: bool,
}

/// Why a `hello` was refused.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    /// The session id is another device's.
    #[error("session id belongs to another device's session; start a new session")]
    Foreign,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn session_item(event: &'static str, session: &Session) -> FeedItem {
    FeedItem {
        eid: None,
        session: session.id.clone(),
        event,
        data: serde_json::to_string(session).expect("sessions serialize").into(),
        session_only: false,
    }
}

/// Binds a new link to the session `meta` names: creates or continues it, makes this link the
/// live one (closing an older one), and returns the link's handle and the highest stored event.
pub async fn hello(
    state: &SharedState,
    device: &DeviceId,
    meta: SessionMeta,
) -> Result<(LinkHandle, u64), HelloError> {
    let (tx, rx) = oneshot::channel();
    let dev = device.clone();
    let attach_as = device.clone();
    let hub = state.hub.clone();
    state
        .store
        .submit(
            move |tx| {
                let (acked, created) = match store::open_session(tx.conn(), &dev, &meta)? {
                    Opened::Foreign => return Ok(None),
                    Opened::Ours { acked, created } => (acked, created),
                };
                let (before, session) = store::settle_status(tx.conn(), &meta.id, true)?
                    .ok_or_else(|| StoreError::Corrupt("session vanished".into()))?;
                Ok(Some((acked, created, before != session.status, session)))
            },
            move |result| {
                let outcome = result.map(|found| {
                    found.map(|(acked, new, changed, session)| {
                        // Attach after the commit, in commit order: a disconnect job queued
                        // behind this one then sees the session linked.
                        let handle = hub.attach(&session.id, &attach_as);
                        if new {
                            hub.publish(session_item(SESSION_START, &session));
                        } else if changed {
                            hub.publish(session_item(SESSION_UPDATE, &session));
                        }
                        (handle, acked)
                    })
                });
                let _ = tx.send(outcome);
            },
        )
        .await?;
    let outcome = rx.await.map_err(|_| StoreError::Stopped)??;
    outcome.ok_or(HelloError::Foreign)
}

/// The text stored for a `gap` event.
pub fn gap_line(lost: u64) -> String {
    format!("[claude-remote: {lost} events were lost while the relay was unreachable]")
}

/// What one events frame changed, to publish after the commit.
struct Stored {
    acked: u64,
    items: Vec<FeedItem>,
    settled: Vec<(cr_proto::PromptId, Settled)>,
    /// The frame opened or settled prompts: the session's status and its `session_update`
    /// are settled by a job of their own after this commit (see [`settle_after`]).
    prompts_changed: bool,
}

/// Stores a frame of numbered events and, after the commit, publishes what they caused and
/// acknowledges them through `acks`. Waits only for room in the writer's queue.
pub async fn events(
    state: &SharedState,
    session: &SessionId,
    events: Vec<Numbered>,
    acks: Arc<watch::Sender<Acks>>,
) -> Result<(), StoreError> {
    let hub = state.hub.clone();
    let id = session.clone();
    let follow_up = (state.clone(), session.clone(), tokio::runtime::Handle::current());
    state
        .store
        .submit(
            move |tx| store_events(tx, &id, events),
            move |result| match result {
                Ok(stored) => {
                    for item in stored.items {
                        hub.publish(item);
                    }
                    for (prompt, settled) in stored.settled {
                        hub.settled(&prompt, settled);
                    }
                    if stored.prompts_changed {
                        let (state, session, runtime) = follow_up;
                        runtime.spawn(async move {
                            settle_after(&state, &session, stored.acked, acks).await;
                        });
                    } else {
                        acks.send_modify(|a| a.seq = a.seq.max(stored.acked));
                    }
                }
                Err(e) => {
                    fail_link(&acks, "storing events failed", &e);
                }
            },
        )
        .await
}

/// Logs `what` failed and has the link closed, so `cr` re-sends what is unacknowledged.
fn fail_link(acks: &watch::Sender<Acks>, what: &str, e: &StoreError) {
    tracing::error!(error = %e, "{what}; closing the link so cr re-sends");
    acks.send_modify(|a| a.failed = true);
}

/// Logged when the status after a frame could not be settled.
const SETTLE_FAILED: &str = "settling the session's status failed";

/// Settles the session's status after a frame that opened or settled prompts committed, and
/// publishes its `session_update`; then acknowledges the frame (`acked`), so whoever waits for
/// this frame's ack sees the status settled too (unless a later frame's ack came first).
///
/// A job of its own, after the frame's commit: reading the session row for `session_update`
/// took 90-170 µs on the writer's cold thread, and the phone's `prompt` event waited for it.
/// The status it writes is derived from the prompts alone, so a later run only sees a later
/// state; and a link that went away meanwhile leaves the session `disconnected`.
async fn settle_after(
    state: &SharedState,
    session: &SessionId,
    acked: u64,
    acks: Arc<watch::Sender<Acks>>,
) {
    let hub = state.hub.clone();
    let id = session.clone();
    let ack = acks.clone();
    let submitted = state
        .store
        .submit(
            move |tx| {
                let linked = hub.is_linked(&id);
                store::settle_status(tx.conn(), &id, linked)?
                    .ok_or_else(|| StoreError::Corrupt("session vanished".into()))
            },
            {
                let hub = state.hub.clone();
                move |result| match result {
                    Ok((_, s)) => {
                        hub.publish(session_item(SESSION_UPDATE, &s));
                        ack.send_modify(|a| a.seq = a.seq.max(acked));
                    }
                    Err(e) => fail_link(&ack, SETTLE_FAILED, &e),
                }
            },
        )
        .await;
    if let Err(e) = submitted {
        fail_link(&acks, SETTLE_FAILED, &e);
    }
}

fn store_events(
    tx: &mut Tx<'_>,
    session: &SessionId,
    events: Vec<Numbered>,
) -> store::Result<Stored> {
    let mut last = store::last_seq(tx.conn(), session)?;
    let mut out =
        Stored { acked: last, items: Vec::new(), settled: Vec::new(), prompts_changed: false };
    let mut lines: Vec<TranscriptLine> = Vec::new();
    let mut prompts_changed = false;
    let mut ended = false;

    for numbered in events {
        let upto = numbered.last_seq();
        if upto <= last {
            continue; // a re-send of something already stored
        }
        let Numbered { seq, event } = numbered;
        match event {
            // Lines at or below `last` were stored before (a re-send overlapping them).
            Event::Lines { at, lines: texts } => {
                lines.extend(texts.into_iter().enumerate().filter_map(|(i, line)| {
                    // Numbers past the top (only a broken or hostile `cr` sends them) are
                    // dropped rather than wrapped around.
                    let seq = seq.checked_add(i as u64)?;
                    (seq > last).then_some(TranscriptLine { seq, at, line })
                }));
            }
            Event::Line { at, line } => lines.push(TranscriptLine { seq, at, line }),
            Event::Gap { at, lost } => lines.push(TranscriptLine { seq, at, line: gap_line(lost) }),
            other => {
                flush_lines(tx, &mut out.items, session, &mut lines)?;
                prompts_changed |= store_prompt_event(tx, session, other, &mut out, &mut ended)?;
            }
        }
        last = upto;
    }
    flush_lines(tx, &mut out.items, session, &mut lines)?;
    store::set_last_seq(tx.conn(), session, last)?;
    out.acked = last;
    // Only prompt and end events change the session's status (`hello` settled it for this
    // link), and a new or settled prompt's status waits for a job of its own.
    if ended {
        let (_, s) = store::settle_status(tx.conn(), session, true)?
            .ok_or_else(|| StoreError::Corrupt("session vanished".into()))?;
        out.items.push(session_item(SESSION_END, &s));
    } else {
        out.prompts_changed = prompts_changed;
    }
    Ok(out)
}

/// Stores the lines gathered so far as one transcript block and queues its `lines` event.
fn flush_lines(
    tx: &mut Tx<'_>,
    items: &mut Vec<FeedItem>,
    session: &SessionId,
    lines: &mut Vec<TranscriptLine>,
) -> store::Result<()> {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return Ok(());
    };
    let (first_seq, last_seq) = (first.seq, last.seq);
    let block = store::Block::new(lines);
    lines.clear();
    let eid = tx.next_eid();
    store::insert_block(tx.conn(), session, eid, first_seq, last_seq, &block.packed)?;
    items.push(FeedItem {
        eid: Some(eid),
        session: session.clone(),
        event: LINES,
        data: block.json.into(),
        session_only: true,
    });
    Ok(())
}

fn feed_item(
    tx: &mut Tx<'_>,
    session: &SessionId,
    event: &'static str,
    data: String,
    at: Timestamp,
) -> store::Result<FeedItem> {
    let eid = tx.next_eid();
    store::append_feed(tx.conn(), eid, session, event, &data, at)?;
    Ok(FeedItem {
        eid: Some(eid),
        session: session.clone(),
        event,
        data: data.into(),
        session_only: false,
    })
}

fn settle(
    tx: &mut Tx<'_>,
    session: &SessionId,
    prompt_id: cr_proto::PromptId,
    status: PromptStatus,
    by: AnsweredBy,
    at: Timestamp,
    out: &mut Stored,
) -> store::Result<bool> {
    if !store::settle_prompt(tx.conn(), session, &prompt_id, status, by, at)? {
        return Ok(false);
    }
    let response = PromptResponse { prompt_id: prompt_id.clone(), status, by };
    let data = serde_json::to_string(&response).expect("responses serialize");
    out.items.push(feed_item(tx, session, PROMPT_RESPONSE, data, at)?);
    out.settled.push((prompt_id, Settled { status, by }));
    Ok(true)
}

/// Stores a prompt or end event; true if the set of pending prompts changed.
fn store_prompt_event(
    tx: &mut Tx<'_>,
    session: &SessionId,
    event: Event,
    out: &mut Stored,
    ended: &mut bool,
) -> store::Result<bool> {
    match event {
        Event::PromptOpened { mut prompt } => {
            // The link decides which session a prompt is in, and a new prompt is pending,
            // whatever the frame says.
            prompt.session_id = session.clone();
            prompt.status = PromptStatus::Pending;
            prompt.by = None;
            if !store::insert_prompt(tx.conn(), &prompt)? {
                tracing::warn!(prompt = %prompt.id, "prompt id already in use; ignoring the duplicate");
                return Ok(false);
            }
            let data = serde_json::to_string(&prompt).expect("prompts serialize");
            out.items.push(feed_item(tx, session, PROMPT, data, prompt.created_at)?);
            Ok(true)
        }
        Event::PromptClosed { prompt_id, status, by, at } => {
            if status == PromptStatus::Pending {
                tracing::warn!(prompt = %prompt_id, "prompt_closed with status pending; ignored");
                return Ok(false);
            }
            settle(tx, session, prompt_id, status, by, at, out)
        }
        Event::Ended { at, exit_code } => {
            store::end_session(tx.conn(), session, at, exit_code)?;
            let pending = store::pending_prompts(tx.conn(), session)?;
            for p in pending {
                settle(tx, session, p.id, PromptStatus::Expired, AnsweredBy::Relay, at, out)?;
            }
            *ended = true;
            Ok(true)
        }
        Event::Line { .. } | Event::Lines { .. } | Event::Gap { .. } => Ok(false),
    }
}

/// A full screen from `cr`.
pub fn screen(state: &SharedState, session: &SessionId, screen: Screen) -> Result<(), ScreenError> {
    state.hub.set_screen(session, screen)
}

/// Changed rows from `cr`.
pub fn output(
    state: &SharedState,
    session: &SessionId,
    update: &ScreenUpdate,
) -> Result<(), OutputError> {
    state.hub.apply_output(session, update)
}

/// Saves the screen so a restarted relay, and an ended session, still show it. Publishes a
/// `session_update` if the terminal title changed.
pub async fn save_screen(state: &SharedState, session: &SessionId, screen: Arc<ScreenState>) {
    let hub = state.hub.clone();
    let id = session.clone();
    let submitted = state
        .store
        .submit(
            move |tx| {
                let before = store::session(tx.conn(), &id)?;
                store::save_screen(tx.conn(), &id, &screen.screen)?;
                let titled = before.is_some_and(|s| s.title != screen.screen.title);
                if titled { store::session(tx.conn(), &id) } else { Ok(None) }
            },
            move |result| match result {
                Ok(Some(s)) => hub.publish(session_item(SESSION_UPDATE, &s)),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "saving the screen failed"),
            },
        )
        .await;
    if let Err(e) = submitted {
        tracing::warn!(error = %e, "saving the screen failed");
    }
}

/// The link `link_id` is gone. If it was the session's live link, the session turns
/// `disconnected` (unless it ended, or a newer link arrived meanwhile) and its screen is saved.
pub async fn link_lost(state: &SharedState, session: &SessionId, link_id: u64) {
    if !state.hub.detach(session, link_id) {
        return; // replaced by a newer link, which owns the session now
    }
    let screen = state.hub.screen(session);
    let hub = state.hub.clone();
    let id = session.clone();
    let submitted = state
        .store
        .submit(
            move |tx| {
                if let Some(screen) = &screen {
                    store::save_screen(tx.conn(), &id, &screen.screen)?;
                }
                if hub.is_linked(&id) {
                    return Ok(None);
                }
                let settled = store::settle_status(tx.conn(), &id, false)?;
                Ok(settled.map(|(before, s)| (before != s.status, s)))
            },
            {
                let hub = state.hub.clone();
                move |result| match result {
                    Ok(Some((changed, s))) => {
                        if changed {
                            hub.publish(session_item(SESSION_UPDATE, &s));
                        }
                        if s.status == SessionStatus::Ended {
                            hub.forget(&s.id);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "recording the link loss failed"),
                }
            },
        )
        .await;
    if let Err(e) = submitted {
        tracing::warn!(error = %e, "recording the link loss failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_marker_says_how_much_was_lost() {
        assert_eq!(
            gap_line(3),
            "[claude-remote: 3 events were lost while the relay was unreachable]"
        );
    }
}
