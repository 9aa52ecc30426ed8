//! Login through a one-time link, what a used link says, and logout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAll, newPage, login, cleanup, shot, WAIT_MS } from './harness.js';

let relay, browser; // set once for the file by before()
before(async () => ({ relay, browser } = await startAll()));
after(cleanup);

test('without a login the page says how to get one', async () => {
  const page = await newPage(browser, relay);
  await page.goto('/');
  await page.locator('#login-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  const text = await page.locator('#login-view').innerText();
  assert.match(text, /cr qr/);
  assert.match(text, /cr-server login-link/);
  assert.equal(await page.locator('#list-view').isVisible(), false);
  assert.deepEqual(page.problems, []);
});

test('a login link logs the phone in and drops the token from the address bar', async () => {
  const page = await newPage(browser, relay);
  const link = await login(page, relay);
  const url = new URL(page.url());
  assert.equal(url.hash, '', 'the token is gone from the address bar');
  assert.equal(url.pathname, '/');
  assert.ok(!page.url().includes(link.token));
  const cookie = (await page.context().cookies()).find((c) => c.name === 'cr_session');
  assert.ok(cookie, 'the relay set the cr_session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  // The token never reached the relay in a URL: the page read it from the fragment.
  await page.reload();
  await page.locator('#list-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  await shot(page, 'phone-list-empty');
  assert.deepEqual(page.problems, []);
});

test('a used link explains what to run instead', async () => {
  const first = await newPage(browser, relay);
  const link = await login(first, relay);
  const second = await newPage(browser, relay); // another phone, never logged in
  await second.goto(link.url);
  await second.locator('#login-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.match(await second.locator('#login-title').innerText(), /expired or was already used/);
  const text = await second.locator('#login-view').innerText();
  assert.match(text, /cr qr/);
  assert.match(text, /cr-server login-link/);
  assert.ok(!second.url().includes(link.token), 'even a failed token leaves the address bar');
  await shot(second, 'phone-login-used-link');

  // A made-up token gets the same explanation.
  const third = await newPage(browser, relay);
  await third.goto('/login#not-a-real-token');
  await third.locator('#login-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.match(await third.locator('#login-title').innerText(), /expired or was already used/);
  for (const p of [first, second, third]) assert.deepEqual(p.problems, []);
});

test('logout ends the phone session', async () => {
  const page = await newPage(browser, relay);
  await login(page, relay);
  await page.click('#menu-btn');
  await page.click('#logout-btn');
  await page.locator('#login-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.match(await page.locator('#login-title').innerText(), /logged out/);
  const status = await page.evaluate(async () => (await fetch('api/sessions', { credentials: 'same-origin' })).status);
  assert.equal(status, 401, 'the cookie no longer works');
  await page.reload();
  await page.locator('#login-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.deepEqual(page.problems, []);
});
