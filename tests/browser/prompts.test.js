//! Question cards: they appear, their buttons type the right keys, and a card settled elsewhere goes away.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startAll, Workstation, newPage, login, cleanup, shot, waitFor, WAIT_MS,
} from './harness.js';

let relay, browser, config; // set once for the file by before()
before(async () => ({ relay, browser, config } = await startAll({ pair: 'test-box' })));
after(cleanup);

/** A logged-in phone with the dialog program running; resolves once its card shows. */
async function phoneWithCard(name, { open = false, args = ['dialog'] } = {}) {
  const page = await newPage(browser, relay);
  await page.addInitScript(() => {
    // Watch the real alert paths: the tone's oscillators and the vibration motor.
    window.__alerts = { tones: 0, vibrations: [] };
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...a) {
      window.__alerts.tones += 1;
      return start.apply(this, a);
    };
    navigator.vibrate = (pattern) => {
      window.__alerts.vibrations.push(pattern);
      return true;
    };
  });
  await login(page, relay);
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  await page.mouse.click(5, 300); // a first gesture, so the page may play sound
  const ws = await Workstation.start(relay, config, name, args);
  if (open) {
    await page.locator('.sess', { hasText: name }).click();
    await page.locator('#session-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  }
  // Only this session's card: other tests' sessions may still be waiting on the list.
  const card = open ? page.locator('.card').first()
    : page.locator('.card', { has: page.locator('.card-session', { hasText: name }) }).first();
  await card.waitFor({ timeout: WAIT_MS });
  return { page, ws, card };
}

test('a question card appears, and Approve types the right key', async () => {
  const { page, ws, card } = await phoneWithCard('approve-me');
  await ws.waitScreen('Do you want to proceed?');
  assert.match(await card.innerText(), /python3 -c "print\(42\)"|Bash command|Do you want to proceed/);
  assert.equal(await card.locator('[data-option="approve"]').count(), 1, 'an Approve button');
  assert.equal(await card.locator('[data-option="reject"]').count(), 1, 'a Reject button');
  const always = card.locator('[data-option="always"]');
  assert.equal(await always.count(), 1, 'an Always button');
  assert.match(await always.innerText(), /don’t ask again for: python3 \*/, 'Always shows what it allows');
  assert.match(await card.locator('.card-session').innerText(), /approve-me/, 'the card names its session');
  assert.match(await page.title(), /^\(1\) /, 'the title counts the waiting question');
  assert.match(await page.locator('.sess', { hasText: 'approve-me' }).locator('.badge').innerText(), /waiting · 1/);
  await waitFor(() => page.evaluate(() => window.__alerts.tones > 0), 'the chime');
  assert.ok((await page.evaluate(() => window.__alerts.vibrations.length)) > 0, 'a vibration');
  assert.match(await page.locator('#announce').innerText(), /New question from approve-me/);
  await shot(page, 'phone-card-list');

  await card.locator('[data-option="approve"]').click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await page.locator('.note', { hasText: 'Approved' }).waitFor({ timeout: WAIT_MS });
  const screen = await ws.waitScreen('CHOSE 1: Yes');
  assert.match(screen, /KEYS '1'\s*$/m, 'the program got exactly the digit 1');
  await waitFor(async () => !/^\(\d+\)/.test(await page.title()), 'the title count to clear');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('Always picks the don’t-ask-again option', async () => {
  const { page, ws, card } = await phoneWithCard('always-me');
  await card.locator('[data-option="always"]').click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  const screen = await ws.waitScreen('CHOSE 2');
  assert.match(screen, /CHOSE 2: Yes, and don’t ask again for: python3 \*/);
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('Reject with a message tells the program what to do instead', async () => {
  const { page, ws, card } = await phoneWithCard('reject-me', { open: true });
  await shot(page, 'phone-card-session');
  await card.locator('[data-option="reject"]').click();
  const box = card.locator('.reject-form textarea');
  await box.waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.equal(await card.locator('[data-option="approve"]').isVisible(), false, 'the choice is now only reject');
  await box.fill('use cargo test instead');
  await shot(page, 'phone-card-reject');
  await card.locator('.confirm-reject').click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await page.locator('.note', { hasText: 'Rejected' }).waitFor({ timeout: WAIT_MS });
  await ws.waitScreen('REJECTED WITH MESSAGE: use cargo test instead');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('a question answered at the keyboard first closes the card', async () => {
  const { page, ws, card } = await phoneWithCard('keyboard-first', { open: true });
  await ws.waitScreen('Do you want to proceed?');
  await ws.keys('3'); // the person at the workstation says No
  await ws.waitScreen('CHOSE 3: No');
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await page.locator('.note', { hasText: 'Answered on the terminal' }).waitFor({ timeout: WAIT_MS });
  await shot(page, 'phone-answered-on-terminal');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('a [y/N] question gets a card whose yes types y', async () => {
  const { page, ws, card } = await phoneWithCard('yes-no', { args: ['yn'] });
  const yes = card.locator('[data-option="approve"], .btn.choice', { hasText: /^(Approve|y|yes)/i }).first();
  await yes.click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await ws.waitScreen("ANSWER 'y'");
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('while the workstation is offline the card stays and says so', async () => {
  const { page, ws, card } = await phoneWithCard('offline-box');
  const pid = await ws.pid();
  process.kill(pid, 'SIGSTOP'); // cr freezes: its link stops answering heartbeats
  try {
    await page.locator('.sess', { hasText: 'offline-box' }).locator('.badge', { hasText: 'disconnected' })
      .waitFor({ timeout: WAIT_MS });
    await card.locator('[data-option="approve"]').click();
    await card.locator('.card-status.error', { hasText: 'workstation is offline' }).waitFor({ timeout: WAIT_MS });
    assert.equal(await card.isVisible(), true, 'the card stays');
    await shot(page, 'phone-card-offline');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // cr comes back; the same card now works.
  await page.locator('.sess', { hasText: 'offline-box' }).locator('.badge', { hasText: 'waiting' })
    .waitFor({ timeout: WAIT_MS });
  await card.locator('[data-option="approve"]').click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await ws.waitScreen('CHOSE 1: Yes');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('a card answered on another phone closes with a note on this one', async () => {
  const { page, ws, card } = await phoneWithCard('two-phones');
  // A newer session that is merely running: the waiting one is still listed first.
  const bystander = await Workstation.start(relay, config, 'bystander', ['lines', '1']);
  await page.locator('.sess', { hasText: 'bystander' }).waitFor({ timeout: WAIT_MS });
  assert.match(await page.locator('.sess').first().innerText(), /two-phones/, 'the waiting session first');
  await bystander.stop();
  const other = await newPage(browser, relay);
  await login(other, relay);
  const otherCard = other.locator('.card', { has: other.locator('.card-session', { hasText: 'two-phones' }) }).first();
  await otherCard.waitFor({ timeout: WAIT_MS });
  await otherCard.locator('[data-option="approve"]').click();
  await ws.waitScreen('CHOSE 1: Yes');
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  await page.locator('.note', { hasText: 'Answered on another phone' }).waitFor({ timeout: WAIT_MS });
  await ws.stop();
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
});

test('after opting in, a question shows a system notification while the page is in the background', async () => {
  const page = await newPage(browser, relay);
  await page.context().grantPermissions(['notifications'], { origin: relay.url });
  // The user is in another app: the page is open but has no focus.
  await page.addInitScript(() => {
    document.hasFocus = () => false;
  });
  await login(page, relay);
  await page.click('#menu-btn');
  assert.match(await page.locator('#notify-btn').innerText(), /Turn on notifications/);
  await page.click('#notify-btn');
  await page.locator('#notify-btn', { hasText: 'Notifications: on' }).waitFor({ timeout: WAIT_MS });
  assert.ok(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())), 'the service worker');
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  const ws = await Workstation.start(relay, config, 'notify-me', ['dialog']);
  await page.locator('.card', { has: page.locator('.card-session', { hasText: 'notify-me' }) }).waitFor({ timeout: WAIT_MS });
  const shown = await waitFor(() => page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications();
    return list.length > 0 && list.map((n) => ({ title: n.title, body: n.body, url: n.data && n.data.url }));
  }), 'a system notification');
  assert.match(shown[0].title, /^notify-me: /, 'the notification names the session');
  assert.match(shown[0].url, /#s=/, 'tapping it opens the session');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});
