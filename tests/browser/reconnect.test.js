//! The page survives a relay restart: it shows the outage, reconnects by itself and catches up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startAll, Workstation, newPage, login, cleanup, shot, renderedText, waitFor, WAIT_MS,
} from './harness.js';

let relay, browser, config; // set once for the file by before()
before(async () => ({ relay, browser, config } = await startAll({ pair: 'test-box' })));
after(cleanup);

test('a relay restart: the page shows it, reconnects, and catches up on what it missed', async () => {
  const ws = await Workstation.start(relay, config, 'survivor', ['lines', '5']);
  const page = await newPage(browser, relay);
  await login(page, relay);
  await page.locator('.sess', { hasText: 'survivor' }).click();
  await page.locator('#screen', { hasText: 'READY>' }).waitFor({ timeout: WAIT_MS });
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  await page.evaluate(() => {
    // Record every state the connection indicator goes through.
    window.__conn = [];
    new MutationObserver(() => window.__conn.push(document.getElementById('conn').dataset.state))
      .observe(document.getElementById('conn'), { attributes: true, attributeFilter: ['data-state'] });
  });

  await relay.stop();
  await page.locator('#conn:not([data-state="live"])').waitFor({ timeout: WAIT_MS });
  await shot(page, 'phone-reconnecting');
  // While the relay is down the workstation keeps working; the page must catch up afterwards.
  await ws.keys('typed while the relay was down', 'Enter');
  await ws.waitScreen("GOT 'typed while the relay was down'");
  await relay.spawn();

  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 60_000 });
  await page.locator('#screen', { hasText: "GOT 'typed while the relay was down'" }).waitFor({ timeout: WAIT_MS });
  const states = await page.evaluate(() => window.__conn);
  assert.ok(states.some((s) => s !== 'live'), `the outage was shown (${states.join(' → ')})`);
  assert.equal(states.at(-1), 'live');

  // The live stream works again: new output arrives without a reload.
  await ws.keys('after the restart', 'Enter');
  await page.locator('#screen', { hasText: "GOT 'after the restart'" }).waitFor({ timeout: WAIT_MS });
  const id = await ws.sessionId();
  await waitFor(async () => (await renderedText(page)) === (await relay.api(`/api/sessions/${id}/text`)).text,
    'the screen to match the relay after the restart');

  // A question asked after the restart reaches the page too.
  const ws2 = await Workstation.start(relay, config, 'asks-later', ['dialog']);
  await page.click('#back');
  await page.locator('.card', { hasText: 'asks-later' }).waitFor({ timeout: WAIT_MS });
  await ws2.stop();
  await ws.stop();
  assert.deepEqual(page.problems, []);
});
