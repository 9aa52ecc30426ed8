//! The feed: the page's one `EventSource`, its reconnects, and the hold/release gate for resyncs.
//
// The browser reconnects an `EventSource` by itself after a network error and sends
// `Last-Event-ID`, so the relay replays prompts and transcript lines. When the relay refuses the
// stream outright (a restart answering 502 through a proxy, or 401), the browser gives up; the
// feed then starts a new `EventSource` with backoff. After every (re)open the app refetches its
// state, holding events that arrive meanwhile so they apply on top of the fresh snapshot.

/** Event names the relay sends (SPEC section 3). */
export const EVENTS = [
  'session_start', 'session_update', 'session_end', 'prompt', 'prompt_response',
  'screen', 'output', 'lines',
];

/** First delay before re-creating a refused stream, in ms; doubles up to `MAX_BACKOFF_MS`. */
const FIRST_BACKOFF_MS = 500;
/** Longest wait between attempts, in ms: a phone coming back should not wait long. */
const MAX_BACKOFF_MS = 15000;

export class Feed {
  /**
   * `onEvent(name, data)` for each event, `onStatus(status)` with `connecting`, `live`,
   * `reconnecting` or `offline`, `onOpen()` after each successful (re)connect, `onRefused()`
   * when the relay closed the stream for good (the app checks whether the login is still valid).
   */
  constructor({ onEvent, onStatus, onOpen, onRefused }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onOpen = onOpen;
    this.onRefused = onRefused;
    this.es = null;
    this.session = null;
    this.generation = 0;
    this.backoff = FIRST_BACKOFF_MS;
    this.timer = null;
    this.held = null;
    this.status = 'connecting';
  }

  /** Opens the stream for all sessions plus `session`'s screen stream (null for none). */
  connect(session) {
    this.session = session;
    this.restart(true);
  }

  /**
   * Drops the current stream and opens a new one now (after coming back online, say).
   * `switching` is true when the page just changed which session it shows: the indicator then
   * keeps its state instead of flashing "reconnecting".
   */
  restart(switching = false) {
    this.stop();
    const gen = ++this.generation;
    const url = this.session ? `events?session=${encodeURIComponent(this.session)}` : 'events';
    const es = new EventSource(url, { withCredentials: true });
    this.es = es;
    if (!switching && this.status === 'live') this.setStatus('reconnecting');
    es.onopen = () => {
      if (gen !== this.generation) return;
      this.backoff = FIRST_BACKOFF_MS;
      this.setStatus('live');
      this.onOpen();
    };
    es.onerror = () => {
      if (gen !== this.generation) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser will not retry this one; we do, with backoff.
        this.setStatus('offline');
        this.es = null;
        this.timer = setTimeout(() => this.restart(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
        this.onRefused();
      } else {
        this.setStatus('reconnecting');
      }
    };
    for (const name of EVENTS) {
      es.addEventListener(name, (e) => {
        if (gen !== this.generation) return;
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return; // A malformed event is the relay's bug; skipping it beats breaking the page.
        }
        if (this.held) this.held.push([name, data]);
        else this.onEvent(name, data);
      });
    }
  }

  /** Closes the stream and cancels any pending reconnect. */
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.es) this.es.close();
    this.es = null;
    this.held = null;
  }

  /** True while the browser holds an open stream. */
  get open() {
    return !!this.es && this.es.readyState === EventSource.OPEN;
  }

  /** Queues events instead of delivering them (while a snapshot is being fetched). */
  hold() {
    if (!this.held) this.held = [];
  }

  /** Delivers the queued events in order and resumes live delivery. */
  release() {
    const queue = this.held || [];
    this.held = null;
    for (const [name, data] of queue) this.onEvent(name, data);
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
