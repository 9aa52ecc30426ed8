//! The feed: `GET /events`, server-sent events to phones.
//!
//! Each client is a small state machine pulled by the HTTP body: it produces the next event
//! only when the connection can take one, so a phone that stops reading costs a position in the
//! broadcast ring, one screen `Arc` and at most one replay page; never a growing queue.
//! A client that falls behind the ring is resynced: the events after its last id are re-read
//! from the store (page by page) and it gets a fresh `screen`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use cr_proto::feed::{OUTPUT, SCREEN};
use cr_proto::{ScreenUpdate, SessionId};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::auth::Caller;
use crate::error::AppError;
use crate::hub::{FeedItem, ScreenState};
use crate::state::SharedState;
use crate::store::{self, Replayed};

/// A comment line after this much silence keeps proxies and phones from timing out.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Stored events read per replay step, and about the most data: bounds what one client holds
/// while catching up (one transcript block can hold a whole frame's lines).
pub const REPLAY_PAGE: u32 = 256;
/// See [`REPLAY_PAGE`].
pub const REPLAY_BYTES: usize = 256 * 1024;

/// `?session=ID` adds that session's screen, output and lines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The session to stream.
    pub session: Option<String>,
}

/// `GET /events`.
pub async fn events(
    State(state): State<SharedState>,
    _caller: Caller,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let last_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => {
            Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
                AppError::BadRequest("Last-Event-ID must be an id this relay sent".into())
            })?)
        }
    };
    let session = match query.session {
        None => None,
        Some(s) => {
            let id = SessionId::new(s).map_err(|_| no_such_session())?;
            let lookup = id.clone();
            state
                .store
                .read(move |c| store::session(c, &lookup))
                .await?
                .ok_or_else(no_such_session)?;
            Some(id)
        }
    };
    // Where this client's feed starts, then the subscription, then a check: an event the
    // store committed in between may have been published before the subscription, so it is
    // replayed from the store rather than lost. (Reading the position after subscribing would
    // lose an event committed before the read and published after the subscription: the
    // broadcast copy would be dropped as already known.)
    let start = state.store.committed_eid();
    let feed = state.hub.subscribe();
    let screen = session.as_ref().map(|s| state.hub.watch_screen(s));
    let (last_eid, replay) = match last_id {
        Some(id) => (id, true),
        None => (start, state.store.committed_eid() != start),
    };
    let client = Client {
        shutdown: state.shutdown.clone(),
        state,
        session,
        feed,
        screen,
        sent_screen: None,
        need_screen: true,
        last_eid,
        replay,
        queue: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(client, |mut c| async move {
        let event = c.next().await?;
        Some((Ok(event), c))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEPALIVE_INTERVAL)))
}

fn no_such_session() -> AppError {
    AppError::NotFound("no such session".into())
}

/// One SSE client.
struct Client {
    state: SharedState,
    session: Option<SessionId>,
    feed: broadcast::Receiver<FeedItem>,
    screen: Option<watch::Receiver<Option<Arc<ScreenState>>>>,
    /// The screen this client last got, to diff the next one against.
    sent_screen: Option<Arc<ScreenState>>,
    /// Send a full `screen` next (first event, and after falling behind).
    need_screen: bool,
    /// Highest feed id delivered (or skipped as already known).
    last_eid: u64,
    /// Re-read stored events after `last_eid` before taking more from the broadcast.
    replay: bool,
    /// Events ready to go: at most one replay page.
    queue: VecDeque<Event>,
    shutdown: watch::Receiver<bool>,
}

impl Client {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.replay {
                if let Err(e) = self.replay_page().await {
                    tracing::warn!(error = %e, "feed replay failed; ending the stream so the client reconnects");
                    return None;
                }
                continue;
            }
            if self.need_screen
                && let Some(event) = self.screen_event()
            {
                return Some(event);
            }
            let woke = tokio::select! {
                () = crate::stopped(&mut self.shutdown) => return None,
                item = self.feed.recv() => Woke::Feed(item),
                changed = changed(&mut self.screen) => Woke::Screen(changed),
            };
            match woke {
                Woke::Feed(Ok(item)) => {
                    if let Some(event) = self.feed_event(item) {
                        return Some(event);
                    }
                }
                Woke::Feed(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    tracing::debug!(missed, "feed client fell behind; resyncing from the store");
                    self.replay = true;
                    self.need_screen = true;
                }
                Woke::Feed(Err(broadcast::error::RecvError::Closed)) => return None,
                Woke::Screen(true) => {
                    if let Some(event) = self.screen_event() {
                        return Some(event);
                    }
                }
                // The session's in-memory state was dropped: it ended.
                Woke::Screen(false) => self.screen = None,
            }
        }
    }

    fn feed_event(&mut self, item: FeedItem) -> Option<Event> {
        if item.session_only && self.session.as_ref() != Some(&item.session) {
            return None;
        }
        let mut event = Event::default().event(item.event).data(&*item.data);
        if let Some(eid) = item.eid {
            if eid <= self.last_eid {
                return None; // already delivered by a replay
            }
            self.last_eid = eid;
            event = event.id(eid.to_string());
        }
        Some(event)
    }

    /// A `screen` or `output` event for the current screen, if it differs from what this
    /// client has.
    fn screen_event(&mut self) -> Option<Event> {
        let current = self.screen.as_mut()?.borrow_and_update().clone()?;
        let event = match &self.sent_screen {
            Some(prev) if !self.need_screen => {
                if prev.version == current.version {
                    return None;
                }
                match &current.update {
                    // The common case: one step ahead, and every client shares one string.
                    Some(update) if current.version == prev.version + 1 => {
                        Event::default().event(OUTPUT).data(&**update)
                    }
                    _ if prev.screen.rows == current.screen.rows
                        && prev.screen.cols == current.screen.cols =>
                    {
                        let update = ScreenUpdate::between(&prev.screen, &current.screen);
                        let json = serde_json::to_string(&update).expect("updates serialize");
                        Event::default().event(OUTPUT).data(json)
                    }
                    _ => Event::default().event(SCREEN).data(&*current.json()),
                }
            }
            _ => Event::default().event(SCREEN).data(&*current.json()),
        };
        self.need_screen = false;
        self.sent_screen = Some(current);
        Some(event)
    }

    async fn replay_page(&mut self) -> Result<(), store::StoreError> {
        let (after, session) = (self.last_eid, self.session.clone());
        let page = self
            .state
            .store
            .read(move |c| store::replay(c, after, session.as_ref(), REPLAY_PAGE, REPLAY_BYTES))
            .await?;
        self.replay = page.more;
        for Replayed { eid, event, data } in page.events {
            self.last_eid = self.last_eid.max(eid);
            self.queue.push_back(Event::default().event(event).data(data).id(eid.to_string()));
        }
        Ok(())
    }
}

/// What woke a waiting client.
enum Woke {
    Feed(Result<FeedItem, broadcast::error::RecvError>),
    Screen(bool),
}

/// Waits for the screen to change: true when it did, false when its sender is gone. Never
/// resolves without a screen to watch.
async fn changed(screen: &mut Option<watch::Receiver<Option<Arc<ScreenState>>>>) -> bool {
    match screen {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}
