//! The session list and the session view: live appearance, the rendered screen, markup shown as text, layout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startAll, Workstation, newPage, login, cleanup, shot, renderedText, overflow,
  waitFor, PHONE, DESKTOP, WAIT_MS,
} from './harness.js';

let relay, browser, config; // set once for the file by before()
before(async () => ({ relay, browser, config } = await startAll({ pair: 'test-box' })));
after(cleanup);

/** Opens the session `name` from the list and waits for its screen to show `text`. */
async function openSession(page, name, text) {
  const item = page.locator('.sess', { hasText: name });
  await item.waitFor({ timeout: WAIT_MS });
  await item.click();
  await page.locator('#session-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  await page.locator('#screen', { hasText: text }).waitFor({ timeout: WAIT_MS }).catch(async (e) => {
    await shot(page, `failed-${name}`);
    throw new Error(`${e.message}\nthe page shows:\n${await renderedText(page)}`);
  });
}

/** Waits until the page's screen and `GET /text` agree, and returns the text. */
async function sameAsRelay(page, id) {
  let last = '';
  return waitFor(async () => {
    const relayText = (await relay.api(`/api/sessions/${id}/text`)).text;
    const pageText = await renderedText(page);
    last = `page:\n${pageText}\nrelay:\n${relayText}`;
    return pageText === relayText && pageText;
  }, 'the rendered screen to equal GET /text').catch((e) => {
    throw new Error(`${e.message}\n${last}`);
  });
}

test('a new session appears in the list live, with its details', async () => {
  const page = await newPage(browser, relay);
  await login(page, relay);
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  const ws = await Workstation.start(relay, config, 'styles-demo', ['styles']);
  const item = page.locator('.sess', { hasText: 'styles-demo' });
  await item.waitFor({ timeout: WAIT_MS }); // no reload: the feed brought it
  await page.locator('.sess', { hasText: 'styles-demo' }).locator('.badge', { hasText: 'running' }).waitFor({ timeout: WAIT_MS });
  const text = await item.innerText();
  assert.match(text, /fake_program\.py styles/, 'the command');
  assert.match(text, /test-box/, 'the device');
  assert.match(text, /started (just now|\d+ min ago)/, 'the age');
  const cwd = await item.locator('.s-cwd').getAttribute('title');
  assert.equal(cwd, process.cwd(), 'the working directory');
  await ws.stop();
  // cr goes away: the badge follows live (ended, or disconnected if cr could not say goodbye).
  await item.locator('.badge', { hasText: /ended|disconnected/ }).waitFor({ timeout: WAIT_MS });
  assert.deepEqual(page.problems, []);
});

test('the rendered screen matches GET /text and keeps the styles', async () => {
  const ws = await Workstation.start(relay, config, 'styled', ['styles']);
  const id = await ws.sessionId();
  const page = await newPage(browser, relay);
  await login(page, relay);
  await openSession(page, 'styled', 'white-on-blue');
  const text = await sameAsRelay(page, id);
  assert.match(text, /bold underline inverse italic dim/);
  assert.match(text, /wide: 日本語 box: ┌──┐ arrow: ❯ done/);

  const style = (word) => page.evaluate((w) => {
    const el = [...document.querySelectorAll('#screen span')].find((s) => s.textContent === w);
    if (!el) return null;
    const cs = getComputedStyle(el);
    return { cls: el.className, color: cs.color, bg: cs.backgroundColor, weight: cs.fontWeight, deco: cs.textDecorationLine, italic: cs.fontStyle };
  }, word);
  assert.equal((await style('bold')).weight, '700');
  assert.equal((await style('underline')).deco, 'underline');
  assert.equal((await style('italic')).italic, 'italic');
  const inverse = await style('inverse');
  const plainBg = await page.evaluate(() => getComputedStyle(document.getElementById('scroller')).backgroundColor);
  assert.notEqual(inverse.bg, 'rgba(0, 0, 0, 0)', 'inverse paints a background');
  assert.notEqual(inverse.bg, plainBg);
  assert.match((await style('red')).cls, /\bf1\b/, 'palette colour 1 follows the theme');
  assert.equal((await style('orange208')).color, 'rgb(255, 135, 0)', '256-colour palette');
  assert.equal((await style('rgb')).color, 'rgb(18, 171, 255)', '24-bit colour');
  const wob = await style('white-on-blue');
  assert.match(wob.cls, /\bf15\b/);
  assert.match(wob.cls, /\bg4\b/);
  assert.equal(await page.locator('#screen .cur').count(), 1, 'the cursor is drawn once');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('output containing markup is shown as text and runs nothing', async () => {
  const ws = await Workstation.start(relay, config, 'markup', ['html']);
  const id = await ws.sessionId();
  const page = await newPage(browser, relay);
  await page.addInitScript(() => {
    window.__ran = [];
    window.alert = (m) => window.__ran.push(String(m));
  });
  await login(page, relay);
  await openSession(page, 'markup', '<img src=x onerror=alert(1)>');
  await page.locator('#screen', { hasText: '<script>alert(2)</script> & &amp; <b>not bold</b>' }).waitFor({ timeout: WAIT_MS });
  await page.locator('#screen', { hasText: '<iframe src=javascript:alert(3)></iframe>' }).waitFor({ timeout: WAIT_MS });
  await sameAsRelay(page, id);
  const found = await page.evaluate(() => ({
    elements: document.querySelectorAll('#term img, #term script, #term iframe, #term b').length,
    ran: window.__ran,
  }));
  assert.equal(found.elements, 0, 'no element was created from terminal text');
  assert.deepEqual(found.ran, [], 'no alert() ran');

  // The same text typed from the phone goes to the program as text, and comes back as text.
  await page.fill('#text', '<img src=y onerror=alert(4)>');
  await page.click('#send');
  await ws.waitScreen("GOT '<img src=y onerror=alert(4)>'");
  await page.locator('#screen', { hasText: "GOT '<img src=y onerror=alert(4)>'" }).waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator('#term img').count(), 0);
  assert.deepEqual(await page.evaluate(() => window.__ran), []);
  await shot(page, 'phone-markup-as-text');
  await ws.stop();
  assert.deepEqual(page.problems, [], 'no dialog, page error or CSP violation');
});

test('the key row and the text box type into the program', async () => {
  const ws = await Workstation.start(relay, config, 'keys', ['dialog']);
  const page = await newPage(browser, relay);
  await login(page, relay);
  await openSession(page, 'keys', 'Do you want to proceed?');
  await page.click('.key[data-key="down"]');
  await ws.waitScreen(/❯ 2\. Yes, and/, 'focus on option 2 after ↓');
  await page.click('.key[data-key="down"]');
  await ws.waitScreen(/❯ 3\. No/, 'focus on option 3 after ↓↓');
  await page.click('.key[data-key="up"]');
  await ws.waitScreen(/❯ 2\. Yes, and/, 'focus back on option 2 after ↑');
  await page.click('.key[data-key="enter"]');
  const screen = await ws.waitScreen('CHOSE 2');
  assert.match(screen, /KEYS '\\x1b\[B' '\\x1b\[B' '\\x1b\[A' '\\r'/, 'exactly the keys tapped');
  // Now the program reads lines: the text box sends text and Enter.
  await page.fill('#text', 'hello from the phone');
  await page.press('#text', 'Enter');
  await ws.waitScreen("GOT 'hello from the phone'");
  assert.equal(await page.inputValue('#text'), '', 'the box is cleared once sent');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('history loads backwards as the user scrolls up', async () => {
  const ws = await Workstation.start(relay, config, 'history', ['lines', '700']);
  const id = await ws.sessionId();
  // Let the relay store the whole history first, so the page finds it there (not live).
  await waitFor(async () => {
    const r = await relay.api(`/api/sessions/${id}/transcript?after=0&limit=1000`);
    return Array.isArray(r.data) && r.data.some((l) => l.line === 'history line 0600');
  }, 'the history to reach the relay');
  const page = await newPage(browser, relay);
  await login(page, relay);
  await openSession(page, 'history', 'END OF HISTORY');
  const seqs = () => page.evaluate(() => [...document.querySelectorAll('#transcript .row')].map((r) => r.textContent));
  await waitFor(async () => (await seqs()).length > 0, 'the newest transcript lines');
  const first = await seqs();
  assert.ok(!first.includes('history line 0001'), 'only the newest page is loaded at first');
  await waitFor(async () => {
    await page.evaluate(() => { document.getElementById('scroller').scrollTop = 0; });
    return (await seqs()).includes('history line 0001');
  }, 'scrolling up to reach the first line');
  const lines = (await seqs()).filter((l) => l.startsWith('history line'));
  const numbers = lines.map((l) => Number(l.slice(-4)));
  assert.deepEqual(numbers, numbers.slice().sort((a, b) => a - b), 'in order');
  assert.equal(new Set(numbers).size, numbers.length, 'no duplicates');
  assert.equal(numbers[0], 1);
  // The lines still on screen are not in the transcript; everything above them is, without gaps.
  const onScreen = (await renderedText(page)).split('\n').filter((l) => l.startsWith('history line')).map((l) => Number(l.slice(-4)));
  const all = [...numbers, ...onScreen];
  assert.deepEqual(all, Array.from({ length: 700 }, (_, i) => i + 1));
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

for (const [label, device] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  test(`at ${device.viewport.width}x${device.viewport.height} (${label}) nothing overflows sideways`, async () => {
    const ws = await Workstation.start(relay, config, `layout-${label}`, ['dialog']);
    const page = await newPage(browser, relay, device);
    await login(page, relay);
    await page.locator('.sess', { hasText: `layout-${label}` }).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await overflow(page), [], 'session list');
    await shot(page, `${label}-list`);
    await openSession(page, `layout-${label}`, 'Do you want to proceed?');
    await page.locator('.card').first().waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await overflow(page), [], 'session view');
    const fit = await page.evaluate(() => {
      const s = document.getElementById('scroller');
      const t = document.getElementById('term');
      return { scroll: s.scrollWidth, client: s.clientWidth, term: t.getBoundingClientRect().width, font: parseFloat(getComputedStyle(t).fontSize) };
    });
    assert.ok(fit.scroll <= fit.client, `the terminal fits its box (${fit.scroll} > ${fit.client})`);
    assert.ok(fit.font <= 15 && fit.font >= 4, `font size ${fit.font}`);
    // Touch targets: every visible button is at least 44 px both ways.
    const small = await page.evaluate(() => [...document.querySelectorAll('button, a.sess, .card-open')]
      .filter((b) => b.offsetParent !== null)
      .map((b) => ({ b: b.textContent.trim().slice(0, 20), r: b.getBoundingClientRect() }))
      .filter(({ r }) => r.width > 0 && (r.width < 44 || r.height < 44))
      .map(({ b, r }) => `${b} ${Math.round(r.width)}x${Math.round(r.height)}`));
    assert.deepEqual(small, [], 'touch targets of 44 px or more');
    await shot(page, `${label}-session`);
    // Larger text: the terminal grows and scrolls inside its box; the page itself never does.
    await page.click('#zoom-btn');
    const zoomed = await page.evaluate(() => parseFloat(getComputedStyle(document.getElementById('term')).fontSize));
    assert.ok(zoomed > fit.font * 1.5, `zoomed ${zoomed} > ${fit.font}`);
    assert.deepEqual(await overflow(page), [], 'zoomed session view');
    await page.click('#zoom-btn');
    assert.equal(await page.locator('#zoom-btn').innerText(), 'Fit');
    await page.click('#zoom-btn');
    const back = await page.evaluate(() => parseFloat(getComputedStyle(document.getElementById('term')).fontSize));
    assert.equal(back, fit.font, 'back to the fitted size');
    await ws.stop();
    assert.deepEqual(page.problems, []);
  });
}

test('light and dark themes follow the system', async () => {
  const bg = async (scheme) => {
    const page = await newPage(browser, relay, PHONE, { colorScheme: scheme });
    await login(page, relay);
    const colour = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await shot(page, `phone-list-${scheme}`);
    await page.context().close();
    return colour;
  };
  const light = await bg('light');
  const dark = await bg('dark');
  const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0);
  assert.ok(lum(light) > 600, `light background ${light}`);
  assert.ok(lum(dark) < 150, `dark background ${dark}`);
});
