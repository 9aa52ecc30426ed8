//! The page: login, session list, session view, question cards and input, wired to the relay.
//
// Data flow: the feed (one EventSource) and REST snapshots update `state`; `render*` functions
// draw from `state`; buttons POST to the relay and the outcome (or the feed) settles the card.
// `state` is the only owner of what the page knows; nothing else keeps copies.

import { Feed } from './feed.js';
import * as term from './term.js';
import { buildCard, answerRequest, outcomeText } from './cards.js';
import { h, ago, shortPath } from './dom.js';
import { Alerts } from './alerts.js';

/** Transcript lines fetched per page while scrolling up (the relay's default page). */
const TRANSCRIPT_PAGE = 200;
/** Transcript lines kept in the DOM; older ones are dropped and re-fetched on scroll up. */
const MAX_TRANSCRIPT_LINES = 5000;
/** Start loading older lines when the user is this close to the top, in px. */
const LOAD_OLDER_PX = 400;
/** Within this many px of the bottom, the view follows new output. */
const STICK_PX = 48;
/** How long a note ("Answered on the terminal") stays, in ms. */
const NOTE_MS = 6000;
/** Ages in the list are refreshed this often, in ms. */
const AGE_REFRESH_MS = 30000;
/** Returning to the page after this long hidden refetches everything, in ms (a phone may have frozen the page). */
const RESYNC_AFTER_HIDDEN_MS = 15000;
/** `before` value meaning "the newest lines" (larger than any sequence number). */
const NEWEST = Number.MAX_SAFE_INTEGER;
/** Text sizes the zoom button steps through, as multiples of the fitted size. */
const ZOOM_STEPS = [1, 1.75, 2.5];
/** Terminal line height as a multiple of the font size (rounded to device pixels in `fit`). */
const LINE_HEIGHT = 1.22;

const STATUS_ORDER = { waiting: 0, running: 1, disconnected: 2, ended: 3 };

const $ = (id) => document.getElementById(id);

const state = {
  view: 'loading', // 'login' | 'list' | 'session'
  sessions: new Map(), // id -> Session
  prompts: new Map(), // id -> pending Prompt, every session
  settled: new Set(), // prompt ids known to be final: a late snapshot must not revive them
  answering: new Map(), // prompt id -> choice this page is sending
  lateSettle: new Map(), // prompt id -> {status, by} seen on the feed while our answer was in flight
  announced: new Set(), // prompt ids the user was alerted about
  primed: false, // true after the first snapshot: later prompts are "new"
  open: null, // the open session: {id, model, fromFeed, firstSeq, lastSeq, hasOlder, loadingOlder, missing}
  zoom: 1,
  hiddenAt: 0,
};

const alerts = new Alerts();
const feed = new Feed({
  onEvent: (name, data) => onEvent(name, data),
  onStatus: (status) => renderConn(status),
  onOpen: () => resync(),
  onRefused: () => checkLogin(),
});
const cardEls = new Map(); // prompt id -> card element currently built
const themeCache = new Map();
let theme = null;
let advance = 0.6; // monospace advance per px of font size, measured at start

// ---- HTTP ----------------------------------------------------------------------------------

/** `fetch` with JSON in and out; never throws: network failures come back as status 0. */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  const type = res.headers.get('content-type') || '';
  try {
    data = type.includes('json') ? await res.json() : await res.text();
  } catch {
    data = null;
  }
  return { ok: res.ok, status: res.status, data };
}

function errorText(r, fallback) {
  if (r.data && typeof r.data.error === 'string') return r.data.error;
  if (r.status === 0) return 'Could not reach the relay. Check the connection and try again.';
  return `${fallback} (HTTP ${r.status})`;
}

// ---- start, login, routing -----------------------------------------------------------------

async function start() {
  measureAdvance();
  readTheme();
  bindUi();
  alerts.init();
  renderMenu();
  if (/\/login\/?$/.test(location.pathname)) {
    await login();
    return;
  }
  await enter();
}

/** `/login#TOKEN`: trade the one-time token for the cookie, and drop it from the address bar first. */
async function login() {
  let token = '';
  try {
    token = decodeURIComponent(location.hash.slice(1)).trim();
  } catch {
    token = '';
  }
  // Replace, not push: the token leaves the address bar and the history before anything else.
  history.replaceState(null, '', './');
  if (!token) {
    showLogin('nolink');
    return;
  }
  const r = await api('POST', 'api/login', { token });
  if (r.ok) {
    await enter();
    return;
  }
  if (r.status === 429) {
    showLogin('ratelimited');
    return;
  }
  if (r.status === 0) {
    showLogin('unreachable');
    return;
  }
  // The link failed; if this phone is logged in already, that is no reason to stop it.
  const probe = await api('GET', 'api/sessions');
  if (probe.ok) {
    await enter();
    note('That login link was used or has expired, but this phone is still logged in.');
    return;
  }
  showLogin('expired');
}

/** Checks the login, then shows the view the address names and opens the feed. */
async function enter() {
  const r = await api('GET', 'api/sessions');
  if (r.status === 401) {
    showLogin('nolink');
    return;
  }
  if (r.ok && Array.isArray(r.data)) replaceSessions(r.data);
  route();
}

function sessionFromHash() {
  const m = /^#s=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  return m ? m[1] : null;
}

function route() {
  const id = sessionFromHash();
  if (id) openSession(id);
  else showList();
}

function showList() {
  state.view = 'list';
  state.open = null;
  setView('list');
  renderAll();
  if (feed.session !== null || (!feed.es && !feed.timer)) feed.connect(null);
}

function openSession(id) {
  state.view = 'session';
  state.open = {
    id, model: null, fromFeed: false, firstSeq: null, lastSeq: 0, hasOlder: false,
    loadingOlder: false, missing: false, stick: true,
  };
  state.zoom = 1;
  $('transcript').replaceChildren();
  $('screen').replaceChildren();
  setView('session');
  renderAll();
  feed.connect(id);
}

function setView(view) {
  const app = $('app');
  app.dataset.view = view;
  $('login-view').hidden = view !== 'login';
  $('list-view').hidden = view !== 'list';
  $('session-view').hidden = view !== 'session';
  $('input').hidden = view !== 'session';
  $('back').hidden = view !== 'session';
  $('dock').hidden = view === 'login';
  $('conn').hidden = view === 'login';
  $('menu-btn').hidden = view === 'login';
}

const LOGIN_REASONS = {
  nolink: ['Log in from your workstation', 'This page needs a one-time login link.'],
  expired: ['This login link has expired or was already used', 'Make a new one:'],
  loggedout: ['You are logged out', 'To log in again, make a new login link:'],
  session: ['Your login has ended', 'It expired or was logged out elsewhere. Make a new login link:'],
  ratelimited: ['Too many login attempts', 'Wait a minute, then open a fresh login link:'],
  unreachable: ['The relay did not answer', 'Check the connection, then open the login link again (or make a new one):'],
};

function showLogin(reason) {
  feed.stop();
  state.view = 'login';
  state.open = null;
  state.sessions.clear();
  state.prompts.clear();
  const [title, text] = LOGIN_REASONS[reason] || LOGIN_REASONS.nolink;
  $('login-title').textContent = title;
  $('login-reason').textContent = text;
  $('title').textContent = 'claude-remote';
  $('subtitle').textContent = '';
  setView('login');
  renderCards();
  updateTitle();
}

/**
 * The relay refused the feed: find out whether it is down, the login is gone, or the open
 * session does not exist (the session stream answers 404 for an unknown id).
 */
async function checkLogin() {
  const r = await api('GET', 'api/sessions');
  if (r.status === 401) {
    showLogin('session');
    return;
  }
  const open = state.open;
  if (!r.ok || !open || open.missing) return;
  const d = await api('GET', `api/sessions/${encodeURIComponent(open.id)}`);
  if (d.status === 404 && state.open === open) {
    open.missing = true;
    replaceSessions(Array.isArray(r.data) ? r.data : []);
    feed.connect(null); // keep the list and the cards live
    renderAll();
  }
}

// ---- snapshots -----------------------------------------------------------------------------

/**
 * Refetches everything after the feed (re)opens. Events arriving meanwhile are held and applied
 * on top, so the page ends up at the latest state whatever order things arrive in.
 */
async function resync() {
  const gen = feed.generation;
  feed.hold();
  try {
    const list = await api('GET', 'api/sessions');
    if (gen !== feed.generation) return;
    if (list.status === 401) {
      showLogin('session');
      return;
    }
    if (!list.ok || !Array.isArray(list.data)) return;
    replaceSessions(list.data);
    const open = state.open;
    const ids = new Set(list.data.filter((s) => s.pending > 0).map((s) => s.id));
    if (open) ids.add(open.id);
    const details = await Promise.all([...ids].map(async (id) => [id, await api('GET', `api/sessions/${encodeURIComponent(id)}`)]));
    if (gen !== feed.generation) return;
    const prompts = [];
    for (const [id, r] of details) {
      if (r.ok && r.data) {
        prompts.push(...(r.data.prompts || []));
        if (open && id === open.id) applyDetail(open, r.data);
      } else if (open && id === open.id && r.status === 404) {
        open.missing = true;
      }
    }
    replacePrompts(prompts);
    if (open && !open.missing) await catchUpTranscript(open);
  } finally {
    if (gen === feed.generation) feed.release();
    state.primed = true;
    renderAll();
  }
}

function replaceSessions(list) {
  state.sessions.clear();
  for (const s of list) state.sessions.set(s.id, s);
}

function replacePrompts(list) {
  const fresh = new Map();
  for (const p of list) {
    if (p.status === 'pending' && !state.settled.has(p.id)) fresh.set(p.id, p);
  }
  // Cards whose prompts vanished while the feed was down were settled somewhere else.
  for (const [id, p] of state.prompts) {
    if (!fresh.has(id) && !state.answering.has(id)) dropCard(id, p, 'Answered elsewhere while this page was offline');
  }
  state.prompts = fresh;
  for (const p of fresh.values()) announce(p);
}

function applyDetail(open, detail) {
  state.sessions.set(detail.id, stripDetail(detail));
  // The feed's own `screen` is newer than any snapshot fetched alongside it.
  if (detail.screen && !open.fromFeed) {
    open.model = term.fromSnapshot(detail.screen);
    drawScreen();
  }
}

function stripDetail(detail) {
  const { screen: _screen, prompts: _prompts, ...session } = detail;
  return session;
}

// ---- feed events ---------------------------------------------------------------------------

function onEvent(name, data) {
  switch (name) {
    case 'session_start':
    case 'session_update':
    case 'session_end':
      if (data && data.id) {
        state.sessions.set(data.id, data);
        renderSessions();
        renderHeader();
      }
      break;
    case 'prompt':
      addPrompt(data);
      break;
    case 'prompt_response':
      settlePrompt(data.prompt_id, data.status, data.by, false);
      break;
    case 'screen':
      if (state.open && data && data.lines) {
        state.open.model = term.fromSnapshot(data);
        state.open.fromFeed = true;
        drawScreen();
      }
      break;
    case 'output':
      if (state.open && state.open.model && data) {
        const dirty = term.applyUpdate(state.open.model, data);
        drawRows(dirty);
        if (typeof data.title === 'string') renderHeader();
      }
      break;
    case 'lines':
      if (state.open && Array.isArray(data)) appendLines(state.open, data);
      break;
    default:
      break;
  }
}

function addPrompt(p) {
  if (!p || !p.id || p.status !== 'pending' || state.settled.has(p.id)) return;
  state.prompts.set(p.id, p);
  announce(p);
  renderCards();
  updateTitle();
}

/** Alerts once per prompt, and only for prompts that arrive while the page is running. */
function announce(p) {
  if (state.announced.has(p.id)) return;
  state.announced.add(p.id);
  if (!state.primed) return;
  const session = state.sessions.get(p.session_id);
  const where = session ? session.name : 'a session';
  $('announce').textContent = `New question from ${where}: ${p.title}`;
  alerts.question({
    title: `${where}: ${p.title || 'question'}`,
    body: (p.body || '').slice(0, 180),
    tag: p.id,
    url: `./#s=${encodeURIComponent(p.session_id)}`,
  });
}

/** A prompt reached its final state; `mine` when this page's answer did it. */
function settlePrompt(id, status, by, mine) {
  if (!id) return;
  if (state.answering.has(id) && !mine) {
    // Our request is still out; its answer says whether we won, so wait for it.
    state.lateSettle.set(id, { status, by });
    return;
  }
  state.settled.add(id);
  const p = state.prompts.get(id);
  state.prompts.delete(id);
  dropCard(id, p, p ? outcomeText(status, by, mine) : null);
  renderCards();
  updateTitle();
}

function dropCard(id, prompt, text) {
  const el = cardEls.get(id);
  cardEls.delete(id);
  if (!el) return;
  el.remove();
  if (text && prompt) note(`${prompt.title || 'Question'}: ${text}`, 'settled');
}

// ---- answering -----------------------------------------------------------------------------

async function answer(prompt, choice) {
  if (state.answering.has(prompt.id) || !state.prompts.has(prompt.id)) return;
  state.answering.set(prompt.id, choice);
  cardBusy(prompt.id, 'Sending…');
  const { path, body } = answerRequest(prompt.id, choice);
  const r = await api('POST', path, body);
  state.answering.delete(prompt.id);
  const late = state.lateSettle.get(prompt.id);
  state.lateSettle.delete(prompt.id);
  if (r.ok) {
    const status = (r.data && r.data.status) || (choice.type === 'reject' ? 'rejected' : choice.type === 'option' || choice.type === 'answers' ? 'answered' : 'approved');
    settlePrompt(prompt.id, status, 'phone', true);
  } else if (r.status === 409) {
    settlePrompt(prompt.id, r.data && r.data.status, r.data && r.data.by, false);
  } else if (r.status === 404) {
    settlePrompt(prompt.id, 'expired', 'relay', false);
  } else if (r.status === 401) {
    showLogin('session');
  } else if (late) {
    settlePrompt(prompt.id, late.status, late.by, false);
  } else if (r.status === 503) {
    cardIdle(prompt.id, 'The workstation is offline (cr is not connected). Nothing was sent; try again when it is back.', true);
  } else if (r.status === 504) {
    cardIdle(prompt.id, 'The workstation did not confirm in time. If it applied the answer, this card closes by itself.', true);
  } else {
    cardIdle(prompt.id, errorText(r, 'The answer was refused'), true);
  }
}

function cardBusy(id, text) {
  const el = cardEls.get(id);
  if (!el) return;
  el.classList.add('busy');
  el.setAttribute('aria-busy', 'true');
  for (const b of el.querySelectorAll('button, textarea')) b.disabled = true;
  const status = el.querySelector('.card-status');
  status.textContent = text;
  status.classList.remove('error');
}

function cardIdle(id, text, isError) {
  const el = cardEls.get(id);
  if (!el) return;
  el.classList.remove('busy');
  el.removeAttribute('aria-busy');
  for (const b of el.querySelectorAll('button, textarea')) b.disabled = false;
  const submit = el.querySelector('.submit-answers');
  if (submit) submit.disabled = [...el.querySelectorAll('fieldset')].some((f) => !f.querySelector('[aria-pressed="true"]'));
  const status = el.querySelector('.card-status');
  status.textContent = text || '';
  status.classList.toggle('error', !!isError);
}

// ---- input ---------------------------------------------------------------------------------

async function sendInput(body) {
  const open = state.open;
  if (!open) return false;
  const r = await api('POST', `api/sessions/${encodeURIComponent(open.id)}/input`, body);
  if (r.ok) return true;
  if (r.status === 401) showLogin('session');
  else if (r.status === 503) note('The workstation is offline: nothing was typed.', 'error');
  else note(errorText(r, 'Input was refused'), 'error');
  return false;
}

// ---- transcript ----------------------------------------------------------------------------

async function catchUpTranscript(open) {
  if (open.firstSeq === null) {
    const r = await api('GET', `api/sessions/${encodeURIComponent(open.id)}/transcript?before=${NEWEST}&limit=${TRANSCRIPT_PAGE}`);
    if (!r.ok || !Array.isArray(r.data) || state.open !== open) return;
    open.hasOlder = r.data.length >= TRANSCRIPT_PAGE;
    open.firstSeq = r.data.length ? r.data[0].seq : NEWEST;
    appendLines(open, r.data);
    return;
  }
  // Fill whatever the feed missed while it was down (the feed may also replay; seqs dedupe).
  for (;;) {
    const r = await api('GET', `api/sessions/${encodeURIComponent(open.id)}/transcript?after=${open.lastSeq}&limit=1000`);
    if (!r.ok || !Array.isArray(r.data) || state.open !== open || r.data.length === 0) return;
    appendLines(open, r.data);
    if (r.data.length < 1000) return;
  }
}

function appendLines(open, lines) {
  const fresh = lines.filter((l) => l && typeof l.seq === 'number' && l.seq > open.lastSeq);
  if (!fresh.length) return;
  const stick = atBottom();
  const box = $('transcript');
  const frag = document.createDocumentFragment();
  for (const l of fresh) frag.appendChild(lineEl(l));
  box.appendChild(frag);
  open.lastSeq = fresh[fresh.length - 1].seq;
  if (open.firstSeq === null || open.firstSeq === NEWEST) open.firstSeq = fresh[0].seq;
  while (box.childElementCount > MAX_TRANSCRIPT_LINES) {
    box.firstElementChild.remove();
    open.hasOlder = true;
    open.firstSeq = Number(box.firstElementChild.dataset.seq);
  }
  if (stick) scrollToBottom();
}

function lineEl(l) {
  const el = h('div', { className: 'row tl', 'data-seq': String(l.seq) });
  term.renderRow(el, [{ text: String(l.line) }], -1, theme, themeCache);
  return el;
}

async function loadOlder() {
  const open = state.open;
  if (!open || !open.hasOlder || open.loadingOlder || open.firstSeq === null) return;
  open.loadingOlder = true;
  $('older').hidden = false;
  const r = await api('GET', `api/sessions/${encodeURIComponent(open.id)}/transcript?before=${open.firstSeq}&limit=${TRANSCRIPT_PAGE}`);
  $('older').hidden = true;
  open.loadingOlder = false;
  if (!r.ok || !Array.isArray(r.data) || state.open !== open) return;
  const older = r.data.filter((l) => l.seq < open.firstSeq);
  open.hasOlder = r.data.length >= TRANSCRIPT_PAGE;
  if (!older.length) return;
  const scroller = $('scroller');
  const before = scroller.scrollHeight;
  const frag = document.createDocumentFragment();
  for (const l of older) frag.appendChild(lineEl(l));
  $('transcript').prepend(frag);
  open.firstSeq = older[0].seq;
  // Keep what the user was reading where it was.
  scroller.scrollTop += scroller.scrollHeight - before;
}

// ---- screen --------------------------------------------------------------------------------

function drawScreen() {
  const open = state.open;
  const box = $('screen');
  if (!open || !open.model) {
    box.replaceChildren();
    return;
  }
  const stick = atBottom();
  const m = open.model;
  const rows = [];
  for (let i = 0; i < m.rows; i++) {
    const el = h('div', { className: 'row' });
    term.renderRow(el, m.lines[i], cursorCol(m, i), theme, themeCache);
    rows.push(el);
  }
  box.replaceChildren(...rows);
  box.classList.toggle('alt', m.alternate);
  fit();
  renderHeader();
  if (stick) scrollToBottom();
}

function drawRows(dirty) {
  const open = state.open;
  const box = $('screen');
  if (!open || !open.model || box.childElementCount !== open.model.rows) {
    drawScreen();
    return;
  }
  const stick = atBottom();
  for (const i of dirty) {
    const el = box.children[i];
    if (el) term.renderRow(el, open.model.lines[i], cursorCol(open.model, i), theme, themeCache);
  }
  if (stick) scrollToBottom();
}

function cursorCol(m, row) {
  return m.cursor && m.cursor.visible && m.cursor.row === row ? m.cursor.col : -1;
}

/** Sizes the terminal font so the screen's columns fill the width (times the pinch zoom). */
function fit() {
  const open = state.open;
  const scroller = $('scroller');
  if (!open || !open.model || state.view !== 'session') return;
  const style = getComputedStyle(scroller);
  const width = scroller.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const size = term.fitFontSize(width, open.model.cols, advance) * state.zoom;
  // Rows land on whole device pixels, so small text keeps even spacing.
  const dpr = window.devicePixelRatio || 1;
  const lineHeight = Math.max(1, Math.round(size * LINE_HEIGHT * dpr)) / dpr;
  const termEl = $('term');
  termEl.style.fontSize = `${size}px`;
  termEl.style.setProperty('--lh', `${lineHeight}px`);
  termEl.style.width = `${open.model.cols}ch`;
  const zoomBtn = $('zoom-btn');
  const atMax = state.zoom >= ZOOM_STEPS[ZOOM_STEPS.length - 1] - 0.01;
  zoomBtn.textContent = atMax ? 'Fit' : 'A+';
  zoomBtn.setAttribute('aria-label', atMax ? 'Fit the width' : 'Larger text');
}

function measureAdvance() {
  const probe = h('span', { className: 'term measure', text: 'M'.repeat(100) });
  probe.style.fontSize = '100px';
  document.body.appendChild(probe);
  const w = probe.getBoundingClientRect().width;
  probe.remove();
  if (w > 0) advance = w / 100 / 100;
}

function readTheme() {
  const s = getComputedStyle(document.documentElement);
  const bg = s.getPropertyValue('--term-bg').trim();
  const fg = s.getPropertyValue('--term-fg').trim();
  theme = /^#[0-9a-f]{6}$/i.test(bg) && /^#[0-9a-f]{6}$/i.test(fg) ? { bg, fg } : null;
}

function atBottom() {
  const s = $('scroller');
  return state.open ? state.open.stick : s.scrollHeight - s.scrollTop - s.clientHeight < STICK_PX;
}

function scrollToBottom() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
}

// ---- drawing -------------------------------------------------------------------------------

function renderAll() {
  renderHeader();
  renderSessions();
  renderCards();
  updateTitle();
}

function renderHeader() {
  const open = state.open;
  if (state.view === 'session' && open) {
    const s = state.sessions.get(open.id);
    $('title').textContent = s ? s.name : open.missing ? 'Session not found' : 'Session';
    const title = open.model && open.model.title ? open.model.title : s && s.title ? s.title : '';
    $('subtitle').textContent = s ? [statusText(s), title || s.command].filter(Boolean).join(' · ') : '';
    renderBanner(s, open);
    const ended = !s || s.status === 'ended' || open.missing;
    for (const el of $('input').querySelectorAll('button, textarea')) el.disabled = ended;
  } else if (state.view === 'list') {
    $('title').textContent = 'Sessions';
    const n = state.sessions.size;
    $('subtitle').textContent = n ? `${n} session${n === 1 ? '' : 's'}` : '';
  }
}

function renderBanner(s, open) {
  const banner = $('banner');
  let text = '';
  let kind = '';
  if (open.missing) {
    text = 'This session does not exist on the relay (it may have been removed).';
    kind = 'error';
  } else if (s && s.status === 'disconnected') {
    text = 'The workstation is offline: the screen is as it was last seen. Answers and input wait until cr reconnects.';
    kind = 'warn';
  } else if (s && s.status === 'ended') {
    const code = s.exit_code === null || s.exit_code === undefined ? 'unknown exit code' : `exit code ${s.exit_code}`;
    text = `Ended ${ago(s.ended_at)}, ${code}.`;
    kind = s.exit_code === 0 ? 'done' : 'warn';
  }
  banner.hidden = !text;
  banner.textContent = text;
  banner.dataset.kind = kind;
}

function statusText(s) {
  switch (s.status) {
    case 'waiting': return `waiting · ${s.pending}`;
    case 'ended': return s.exit_code === null || s.exit_code === undefined ? 'ended' : `ended · exit ${s.exit_code}`;
    default: return s.status;
  }
}

function sortedSessions() {
  return [...state.sessions.values()].sort((a, b) => {
    const d = (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9);
    if (d) return d;
    return Date.parse(b.started_at) - Date.parse(a.started_at);
  });
}

function renderSessions() {
  if (state.view !== 'list') return;
  const list = $('session-list');
  const sessions = sortedSessions();
  $('list-empty').hidden = sessions.length > 0;
  const items = sessions.map((s) => {
    const link = h('a', { className: `sess st-${s.status}`, href: `#s=${encodeURIComponent(s.id)}`, 'data-session': s.id });
    const top = h('div', { className: 's-top' }, [
      h('span', { className: 's-name', text: s.name || s.id }),
      h('span', { className: `badge st-${s.status}`, text: statusText(s) }),
    ]);
    link.appendChild(top);
    link.appendChild(h('code', { className: 's-cmd', text: s.command }));
    const when = s.status === 'ended' && s.ended_at ? `ended ${ago(s.ended_at)}` : `started ${ago(s.started_at)}`;
    const meta = h('p', { className: 's-meta' }, [
      h('span', { className: 's-dev', text: s.device }),
      h('span', { className: 's-cwd', text: shortPath(s.cwd), title: s.cwd }),
      h('span', { className: 's-age', text: when }),
    ]);
    link.appendChild(meta);
    if (s.title) link.appendChild(h('p', { className: 's-title', text: s.title }));
    return h('li', {}, [link]);
  });
  list.replaceChildren(...items);
  renderHeader();
}

function renderCards() {
  const box = $('cards');
  const open = state.open;
  const visible = [...state.prompts.values()]
    .filter((p) => state.view === 'list' || (open && p.session_id === open.id))
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  if (state.view === 'login') visible.length = 0;
  const keep = new Set(visible.map((p) => p.id));
  for (const [id, el] of cardEls) {
    if (!keep.has(id)) {
      el.remove();
      cardEls.delete(id);
    }
  }
  const els = visible.map((p) => {
    let el = cardEls.get(p.id);
    if (!el) {
      const session = state.view === 'list' ? state.sessions.get(p.session_id) || { name: p.session_id } : null;
      el = buildCard(p, session, (choice) => answer(p, choice));
      if (session) {
        const link = h('a', { className: 'card-open', href: `#s=${encodeURIComponent(p.session_id)}`, text: 'Open session' });
        el.querySelector('.card-head').appendChild(link);
      }
      cardEls.set(p.id, el);
    }
    return el;
  });
  // Re-append only when the order changed, so focus and typed messages survive.
  const current = [...box.children];
  if (current.length !== els.length || current.some((el, i) => el !== els[i])) box.replaceChildren(...els);
  box.dataset.count = String(els.length);
  $('dock').classList.toggle('has-cards', els.length > 0);
  $('app').classList.toggle('with-cards', els.length > 0);
  renderElsewhere();
}

/** In a session view, questions of other sessions are one tap away instead of invisible. */
function renderElsewhere() {
  const link = $('elsewhere');
  const open = state.open;
  const others = state.view === 'session' && open
    ? [...state.prompts.values()].filter((p) => p.session_id !== open.id)
    : [];
  link.hidden = others.length === 0;
  if (!others.length) return;
  const names = [...new Set(others.map((p) => (state.sessions.get(p.session_id) || { name: p.session_id }).name))];
  const count = others.length === 1 ? '1 question' : `${others.length} questions`;
  link.textContent = `${count} waiting in ${names.join(', ')} →`;
  link.href = names.length === 1 ? `#s=${encodeURIComponent(others[0].session_id)}` : '#';
}

function updateTitle() {
  const n = state.prompts.size;
  const s = state.open && state.sessions.get(state.open.id);
  const base = s ? `${s.name} · claude-remote` : 'claude-remote';
  document.title = n ? `(${n}) ${base}` : base;
  if (navigator.setAppBadge) {
    (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
  }
}

const CONN_TEXT = { connecting: 'Connecting', live: 'Live', reconnecting: 'Reconnecting', offline: 'Offline' };

function renderConn(status) {
  const el = $('conn');
  el.dataset.state = status;
  $('conn-text').textContent = CONN_TEXT[status] || status;
}

/** A short message above the cards, read out by screen readers. */
function note(text, kind = 'info') {
  const el = h('p', { className: `note ${kind}`, text });
  $('notes').appendChild(el);
  setTimeout(() => el.remove(), NOTE_MS);
}

function renderMenu() {
  const notify = $('notify-btn');
  notify.hidden = !alerts.notifySupported;
  notify.setAttribute('aria-pressed', String(alerts.notifyOn));
  notify.textContent = alerts.notifyOn ? 'Notifications: on' : window.Notification && Notification.permission === 'denied'
    ? 'Notifications: blocked in browser settings' : 'Turn on notifications';
  const sound = $('sound-btn');
  sound.setAttribute('aria-pressed', String(alerts.soundOn));
  sound.textContent = alerts.soundOn ? 'Sound and vibration: on' : 'Sound and vibration: off';
}

// ---- wiring --------------------------------------------------------------------------------

function bindUi() {
  window.addEventListener('hashchange', () => {
    if (state.view !== 'login') route();
  });
  $('back').addEventListener('click', () => {
    location.hash = '';
  });

  const menu = $('menu');
  const menuBtn = $('menu-btn');
  const closeMenu = () => {
    menu.hidden = true;
    menuBtn.setAttribute('aria-expanded', 'false');
  };
  menuBtn.addEventListener('click', () => {
    menu.hidden = !menu.hidden;
    menuBtn.setAttribute('aria-expanded', String(!menu.hidden));
    renderMenu();
    if (!menu.hidden) menu.querySelector('button:not([hidden])').focus();
  });
  document.addEventListener('click', (e) => {
    if (!menu.hidden && !menu.contains(e.target) && !menuBtn.contains(e.target)) closeMenu();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !menu.hidden) {
      closeMenu();
      menuBtn.focus();
    }
  });
  $('notify-btn').addEventListener('click', async () => {
    if (alerts.notifyOn) alerts.disableNotifications();
    else {
      const result = await alerts.enableNotifications();
      if (result === 'denied') note('Notifications are blocked for this site in the browser settings.', 'error');
    }
    renderMenu();
  });
  $('sound-btn').addEventListener('click', () => {
    alerts.soundOn = !alerts.soundOn;
    if (alerts.soundOn) alerts.chime();
    renderMenu();
  });
  $('logout-btn').addEventListener('click', async () => {
    closeMenu();
    await api('POST', 'api/logout');
    showLogin('loggedout');
  });

  // Input: Enter sends, Shift+Enter is a new line; the text stays if sending fails.
  const text = $('text');
  const form = $('input');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = text.value;
    const ok = await sendInput({ text: value, submit: true });
    if (ok && text.value === value) {
      text.value = '';
      autosize(text);
    }
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  text.addEventListener('input', () => autosize(text));
  for (const key of form.querySelectorAll('.key')) {
    // Keep the focus (and so the phone keyboard) where it is when a key button is tapped.
    key.addEventListener('pointerdown', (e) => e.preventDefault());
    key.addEventListener('click', () => sendInput({ keys: [key.dataset.key] }));
  }

  const scroller = $('scroller');
  let lastTop = 0;
  scroller.addEventListener('scroll', () => {
    const open = state.open;
    if (!open) return;
    // Following the output stops only when the user scrolls up; layout changes (a card opening
    // below, rows arriving) never unstick the view, and reaching the bottom sticks it again.
    const top = scroller.scrollTop;
    if (scroller.scrollHeight - top - scroller.clientHeight < STICK_PX) open.stick = true;
    else if (top < lastTop) open.stick = false;
    lastTop = top;
    $('jump-btn').hidden = open.stick;
    if (top < LOAD_OLDER_PX) loadOlder();
  }, { passive: true });
  $('jump-btn').addEventListener('click', () => {
    if (state.open) state.open.stick = true;
    scrollToBottom();
    $('jump-btn').hidden = true;
  });
  $('zoom-btn').addEventListener('click', () => {
    // Bigger steps, then back to the fitted width; pinching sets any size in between.
    const next = ZOOM_STEPS.find((z) => z > state.zoom + 0.01);
    state.zoom = next || 1;
    fit();
    if (state.open && state.open.stick) scrollToBottom();
  });
  bindPinch(scroller);
  followVisualViewport();
  new ResizeObserver(() => {
    fit();
    if (state.open && state.open.stick) scrollToBottom();
  }).observe(scroller);

  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    readTheme();
    themeCache.clear();
    drawScreen();
  });

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      state.hiddenAt = Date.now();
    } else if (state.view !== 'login' && state.hiddenAt && Date.now() - state.hiddenAt > RESYNC_AFTER_HIDDEN_MS) {
      feed.restart();
    }
  });
  window.addEventListener('online', () => {
    if (state.view !== 'login' && !feed.open) feed.restart();
  });
  setInterval(() => {
    if (state.view === 'list') renderSessions();
    else if (state.view === 'session') renderHeader();
  }, AGE_REFRESH_MS);
}

/**
 * iOS Safari ignores `interactive-widget=resizes-content`: the keyboard covers the page instead
 * of shrinking it. Following the visual viewport's height keeps the input and the cards above
 * the keyboard there; where the layout already resizes (Android, desktop) this changes nothing.
 */
function followVisualViewport() {
  const vv = window.visualViewport;
  if (!vv) return;
  const app = $('app');
  const apply = () => {
    const covered = vv.scale === 1 && vv.height < window.innerHeight - 1;
    app.style.height = covered ? `${vv.height}px` : '';
    if (covered && vv.offsetTop > 0) window.scrollTo(0, 0);
  };
  vv.addEventListener('resize', apply);
  vv.addEventListener('scroll', apply);
}

function autosize(el) {
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
}

/** Two-finger pinch on the terminal zooms the terminal text only, never the page layout. */
function bindPinch(scroller) {
  let start = null;
  const dist = (t) => Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY);
  scroller.addEventListener('touchstart', (e) => {
    if (e.touches.length === 2) start = { d: dist(e.touches), zoom: state.zoom };
  }, { passive: true });
  scroller.addEventListener('touchmove', (e) => {
    if (!start || e.touches.length !== 2) return;
    e.preventDefault();
    const ratio = scroller.scrollTop / Math.max(1, scroller.scrollHeight);
    state.zoom = Math.min(term.MAX_ZOOM, Math.max(1, start.zoom * (dist(e.touches) / start.d)));
    fit();
    scroller.scrollTop = ratio * scroller.scrollHeight;
  }, { passive: false });
  scroller.addEventListener('touchend', (e) => {
    if (e.touches.length < 2) start = null;
  }, { passive: true });
}

start();
