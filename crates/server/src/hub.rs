//! The hub: in-memory fan-out between links, the feed and the API. No IO, no SQL.
//!
//! - The feed broadcast carries discrete events (`session_*`, `prompt*`, `lines`) already
//!   serialized, so a thousand phones share one JSON string per event.
//! - Each session has a `watch` of its latest screen: a slow phone skips intermediate states
//!   instead of queueing them (latest wins).
//! - Each session has at most one live link; its downlink sender is how the API reaches `cr`.
//! - Answer claims make "one answer in flight per prompt" a map entry with a `watch` that the
//!   ingest side fills when `cr` settles the prompt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use cr_proto::{
    AnsweredBy, DeviceId, Downlink, PromptId, PromptStatus, Screen, ScreenError, ScreenUpdate,
    SessionId,
};
use tokio::sync::{broadcast, mpsc, watch};

/// Feed events buffered for subscribers. A phone further behind than this is resynced from
/// the store (and gets a fresh screen) instead of holding memory.
pub const FEED_CAPACITY: usize = 1024;
/// Downlink messages queued for one link. Answers and input are rare and small; a full queue
/// means the link is stuck, and the API says so instead of waiting.
pub const DOWNLINK_CAPACITY: usize = 64;

/// One feed event, serialized once for every subscriber.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// The SSE id, for events a client can resume after (`prompt`, `prompt_response`, `lines`).
    pub eid: Option<u64>,
    /// The session it is about.
    pub session: SessionId,
    /// Event name.
    pub event: &'static str,
    /// JSON data.
    pub data: Arc<str>,
    /// Only for that session's stream (`lines`), not the all-sessions feed.
    pub session_only: bool,
}

/// A session's screen at one moment.
#[derive(Debug)]
pub struct ScreenState {
    /// Increases by one per change; lets a subscriber tell whether it missed one.
    pub version: u64,
    /// The screen.
    pub screen: Screen,
    /// The serialized `output` that turns version − 1 into this one, when it was an update.
    pub update: Option<Arc<str>>,
    json: OnceLock<Arc<str>>,
}

impl ScreenState {
    fn new(version: u64, screen: Screen, update: Option<Arc<str>>) -> Self {
        Self { version, screen, update, json: OnceLock::new() }
    }

    /// The full screen as JSON, serialized at most once.
    pub fn json(&self) -> Arc<str> {
        self.json
            .get_or_init(|| serde_json::to_string(&self.screen).expect("screens serialize").into())
            .clone()
    }
}

/// How a prompt was settled, as an answer claim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Final state.
    pub status: PromptStatus,
    /// Who settled it.
    pub by: AnsweredBy,
}

type ScreenWatch = watch::Sender<Option<Arc<ScreenState>>>;

struct LinkEntry {
    id: u64,
    device: DeviceId,
    downlink: mpsc::Sender<Downlink>,
    close: watch::Sender<Option<String>>,
}

impl LinkEntry {
    fn close(self, reason: &str) {
        self.close.send_replace(Some(reason.to_owned()));
    }
}

#[derive(Default)]
struct Slot {
    screen: Option<ScreenWatch>,
    link: Option<LinkEntry>,
}

impl Slot {
    fn screen(&mut self) -> &ScreenWatch {
        self.screen.get_or_insert_with(|| watch::Sender::new(None))
    }
}

/// What a link task holds: its id, its downlink queue, and the signal that tells it to close.
#[derive(Debug)]
pub struct LinkHandle {
    /// Unique among the relay's links.
    pub id: u64,
    /// Messages for `cr`.
    pub downlink: mpsc::Receiver<Downlink>,
    /// Becomes `Some(reason)` (or is dropped) when the link must close.
    pub close: watch::Receiver<Option<String>>,
}

type Claims = Arc<Mutex<HashMap<PromptId, watch::Sender<Option<Settled>>>>>;

/// The hub. One per relay, shared by every task.
pub struct Hub {
    feed: broadcast::Sender<FeedItem>,
    sessions: Mutex<HashMap<SessionId, Slot>>,
    claims: Claims,
    next_link: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            feed: broadcast::Sender::new(FEED_CAPACITY),
            sessions: Mutex::default(),
            claims: Claims::default(),
            next_link: AtomicU64::new(1),
        }
    }
}

impl Hub {
    /// Sends an event to every feed subscriber.
    pub fn publish(&self, item: FeedItem) {
        // No subscribers is fine: the feed is live-only, the store has the history.
        let _ = self.feed.send(item);
    }

    /// Subscribes to the feed. Subscribe before reading state, so nothing falls in between.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.feed.subscribe()
    }

    fn with_slot<R>(&self, session: &SessionId, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut sessions = self.sessions.lock().expect("hub lock");
        f(sessions.entry(session.clone()).or_default())
    }

    /// Watches a session's screen (`None` until `cr` sends one).
    pub fn watch_screen(&self, session: &SessionId) -> watch::Receiver<Option<Arc<ScreenState>>> {
        self.with_slot(session, |s| s.screen().subscribe())
    }

    /// The current screen, if the relay has one in memory.
    pub fn screen(&self, session: &SessionId) -> Option<Arc<ScreenState>> {
        let sessions = self.sessions.lock().expect("hub lock");
        sessions.get(session)?.screen.as_ref()?.borrow().clone()
    }

    /// Replaces the screen with a full snapshot.
    pub fn set_screen(&self, session: &SessionId, screen: Screen) -> Result<(), ScreenError> {
        screen.check()?;
        self.with_slot(session, |s| {
            s.screen().send_modify(|cur| {
                let version = cur.as_ref().map_or(1, |c| c.version + 1);
                *cur = Some(Arc::new(ScreenState::new(version, screen, None)));
            });
        });
        Ok(())
    }

    /// Applies a row update to the current screen. Refused (nothing changes) if there is no
    /// screen yet or the update does not fit it.
    pub fn apply_output(
        &self,
        session: &SessionId,
        update: &ScreenUpdate,
    ) -> Result<(), OutputError> {
        let json: Arc<str> = serde_json::to_string(update).expect("updates serialize").into();
        self.with_slot(session, |s| {
            let mut result = Ok(());
            s.screen().send_if_modified(|cur| {
                let Some(old) = cur.as_ref() else {
                    result = Err(OutputError::NoScreen);
                    return false;
                };
                let mut screen = old.screen.clone();
                if let Err(e) = screen.apply(update) {
                    result = Err(OutputError::Screen(e));
                    return false;
                }
                *cur = Some(Arc::new(ScreenState::new(old.version + 1, screen, Some(json))));
                true
            });
            result
        })
    }

    /// Makes `device`'s new link the session's live link, closing the one it replaces.
    pub fn attach(&self, session: &SessionId, device: &DeviceId) -> LinkHandle {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (downlink_tx, downlink) = mpsc::channel(DOWNLINK_CAPACITY);
        let (close_tx, close) = watch::channel(None);
        let entry =
            LinkEntry { id, device: device.clone(), downlink: downlink_tx, close: close_tx };
        let old = self.with_slot(session, |s| s.link.replace(entry));
        if let Some(old) = old {
            old.close("replaced by a newer link for the same session");
        }
        LinkHandle { id, downlink, close }
    }

    /// Removes link `id` if it is still the session's live link; true if it was.
    pub fn detach(&self, session: &SessionId, id: u64) -> bool {
        self.with_slot(session, |s| {
            if s.link.as_ref().is_some_and(|l| l.id == id) {
                s.link = None;
                true
            } else {
                false
            }
        })
    }

    /// Drops a session's in-memory state once it has ended and its link is gone; watchers keep
    /// the last screen they got.
    pub fn forget(&self, session: &SessionId) {
        let mut sessions = self.sessions.lock().expect("hub lock");
        if sessions.get(session).is_some_and(|s| s.link.is_none()) {
            sessions.remove(session);
        }
    }

    /// True while the session has a live link.
    pub fn is_linked(&self, session: &SessionId) -> bool {
        let sessions = self.sessions.lock().expect("hub lock");
        sessions.get(session).is_some_and(|s| s.link.is_some())
    }

    /// The live link's downlink queue.
    pub fn downlink(&self, session: &SessionId) -> Option<mpsc::Sender<Downlink>> {
        let sessions = self.sessions.lock().expect("hub lock");
        Some(sessions.get(session)?.link.as_ref()?.downlink.clone())
    }

    /// Devices with a live link.
    pub fn linked_devices(&self) -> Vec<DeviceId> {
        let sessions = self.sessions.lock().expect("hub lock");
        let mut devices: Vec<DeviceId> =
            sessions.values().filter_map(|s| Some(s.link.as_ref()?.device.clone())).collect();
        devices.sort();
        devices.dedup();
        devices
    }

    /// Closes every live link of `device`; returns how many.
    pub fn close_device(&self, device: &DeviceId, reason: &str) -> usize {
        let mut sessions = self.sessions.lock().expect("hub lock");
        let mut closed = 0;
        for slot in sessions.values_mut() {
            if slot.link.as_ref().is_some_and(|l| &l.device == device) {
                slot.link.take().expect("checked").close(reason);
                closed += 1;
            }
        }
        closed
    }

    /// Closes every live link (relay shutdown).
    pub fn close_all(&self, reason: &str) {
        let mut sessions = self.sessions.lock().expect("hub lock");
        for slot in sessions.values_mut() {
            if let Some(link) = slot.link.take() {
                link.close(reason);
            }
        }
    }

    /// Claims the right to answer `prompt`, or returns the outcome watch of the claim in flight.
    pub fn claim(&self, prompt: &PromptId) -> Claim {
        let mut claims = self.claims.lock().expect("claims lock");
        if let Some(existing) = claims.get(prompt) {
            return Claim::Busy(existing.subscribe());
        }
        let (tx, rx) = watch::channel(None);
        claims.insert(prompt.clone(), tx);
        Claim::Mine(ClaimGuard { claims: self.claims.clone(), prompt: prompt.clone(), settled: rx })
    }

    /// Tells the claim in flight for `prompt`, if any, how the prompt was settled.
    pub fn settled(&self, prompt: &PromptId, settled: Settled) {
        if let Some(claim) = self.claims.lock().expect("claims lock").get(prompt) {
            claim.send_replace(Some(settled));
        }
    }
}

/// Why an `output` frame could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// `output` before any `screen`.
    #[error("output before the first screen")]
    NoScreen,
    /// The update does not fit the screen.
    #[error(transparent)]
    Screen(#[from] ScreenError),
}

/// The result of [`Hub::claim`].
#[derive(Debug)]
pub enum Claim {
    /// This request may answer; the claim is released when the guard drops.
    Mine(ClaimGuard),
    /// Another answer is in flight; the watch turns `Some` when it settles, or closes when the
    /// claim is released without a settlement.
    Busy(watch::Receiver<Option<Settled>>),
}

/// An answer claim; dropping it lets the next answer try.
#[derive(Debug)]
pub struct ClaimGuard {
    claims: Claims,
    prompt: PromptId,
    /// Filled when `cr` settles the prompt.
    pub settled: watch::Receiver<Option<Settled>>,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        self.claims.lock().expect("claims lock").remove(&self.prompt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cr_proto::{Row, RowChange, Span};

    fn sid() -> SessionId {
        SessionId::new("s1").unwrap()
    }

    #[test]
    fn screen_versions_and_shared_updates() {
        let hub = Hub::default();
        let rx = hub.watch_screen(&sid());
        assert!(rx.borrow().is_none());
        let up = ScreenUpdate {
            changes: vec![RowChange { row: 0, line: Row(vec![Span::plain("hi")]) }],
            ..ScreenUpdate::default()
        };
        assert_eq!(hub.apply_output(&sid(), &up), Err(OutputError::NoScreen));
        hub.set_screen(&sid(), Screen::blank(2, 10)).unwrap();
        hub.apply_output(&sid(), &up).unwrap();
        let state = rx.borrow().clone().unwrap();
        assert_eq!(state.version, 2);
        assert_eq!(state.screen.text(), "hi\n\n");
        assert!(state.update.as_deref().unwrap().contains("\"hi\""));
        let bad = ScreenUpdate {
            changes: vec![RowChange { row: 5, line: Row::default() }],
            ..ScreenUpdate::default()
        };
        assert!(matches!(hub.apply_output(&sid(), &bad), Err(OutputError::Screen(_))));
        assert_eq!(hub.screen(&sid()).unwrap().version, 2, "a refused update changes nothing");
        assert!(hub.set_screen(&sid(), Screen::blank(0, 10)).is_err());
    }

    #[test]
    fn a_new_link_replaces_and_closes_the_old_one() {
        let hub = Hub::default();
        let dev = DeviceId::new("dev_a").unwrap();
        let first = hub.attach(&sid(), &dev);
        let second = hub.attach(&sid(), &dev);
        assert!(first.close.borrow().as_deref().unwrap().contains("replaced"));
        assert!(second.close.borrow().is_none());
        assert!(!hub.detach(&sid(), first.id), "the old link is no longer the live one");
        assert!(hub.is_linked(&sid()));
        assert_eq!(hub.linked_devices(), std::slice::from_ref(&dev));
        assert_eq!(hub.close_device(&dev, "revoked"), 1);
        assert_eq!(second.close.borrow().as_deref(), Some("revoked"));
        assert!(!hub.is_linked(&sid()));
    }

    #[test]
    fn one_claim_at_a_time() {
        let hub = Hub::default();
        let p = PromptId::new("p1").unwrap();
        let Claim::Mine(guard) = hub.claim(&p) else { panic!("first claim") };
        let Claim::Busy(mut waiting) = hub.claim(&p) else { panic!("second claim") };
        let s = Settled { status: PromptStatus::Approved, by: AnsweredBy::Phone };
        hub.settled(&p, s);
        assert_eq!(*guard.settled.borrow(), Some(s));
        assert_eq!(*waiting.borrow_and_update(), Some(s));
        drop(guard);
        assert!(matches!(hub.claim(&p), Claim::Mine(_)));
    }
}
