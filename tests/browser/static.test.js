//! The page's static parts as the relay serves them: headers, markup rules, manifest and icons.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { startAll, newPage, login, cleanup, HERE, ROOT, WAIT_MS } from './harness.js';

const run = promisify(execFile);
let relay, browser; // set once for the file by before()
before(async () => ({ relay, browser } = await startAll()));
after(cleanup);

test('the committed icons are what make-icons.py draws', async () => {
  await run('python3', [path.join(HERE, 'make-icons.py'), '--check']);
});

test('the markup has no inline script or style, and nothing from another origin', () => {
  const dir = path.join(ROOT, 'public');
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.html'))) {
    const html = fs.readFileSync(path.join(dir, name), 'utf8');
    assert.doesNotMatch(html, /\sstyle=/i, `${name}: style attribute`);
    assert.doesNotMatch(html, /<style/i, `${name}: <style>`);
    for (const m of html.matchAll(/<script\b[^>]*>/gi)) assert.match(m[0], /\ssrc=/, `${name}: inline script ${m[0]}`);
    assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i, `${name}: a resource from another origin`);
    assert.doesNotMatch(html, /\son[a-z]+=/i, `${name}: an inline event handler`);
  }
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const js = fs.readFileSync(path.join(dir, name), 'utf8');
    assert.doesNotMatch(js, /\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write/, `${name}: markup from strings`);
    assert.doesNotMatch(js, /setAttribute\(\s*['"]style['"]/, `${name}: style attribute`);
    assert.doesNotMatch(js, /\beval\(|new Function\(/, `${name}: eval`);
  }
});

test('the relay serves the page with its CSP, and the page keeps to it', async () => {
  for (const p of ['/', '/login']) {
    const r = await fetch(`${relay.url}${p}`);
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type'), /text\/html/, p);
    assert.match(r.headers.get('content-security-policy') || '', /default-src 'self'/, p);
    const html = await r.text();
    assert.match(html, /interactive-widget=resizes-content/);
    assert.match(html, /viewport-fit=cover/);
  }
  const page = await newPage(browser, relay);
  await login(page, relay);
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
  assert.deepEqual(page.problems, [], 'no CSP violation or page error');
});

test('a web app manifest with icons the relay serves', async () => {
  const html = await (await fetch(`${relay.url}/`)).text();
  const href = /<link rel="manifest" href="([^"]+)"/.exec(html)[1];
  const r = await fetch(new URL(href, `${relay.url}/`));
  assert.equal(r.status, 200);
  const manifest = await r.json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.name && manifest.short_name && manifest.start_url);
  const sizes = new Set();
  for (const icon of manifest.icons) {
    const res = await fetch(new URL(icon.src, r.url));
    assert.equal(res.status, 200, icon.src);
    assert.equal(res.headers.get('content-type').split(';')[0], icon.type, icon.src);
    sizes.add(icon.sizes);
  }
  assert.ok(sizes.has('192x192') && sizes.has('512x512'), 'Android needs 192 and 512');
  assert.ok(manifest.icons.some((i) => i.purpose === 'maskable'), 'a maskable icon');
  const touch = /<link rel="apple-touch-icon" href="([^"]+)"/.exec(html)[1];
  const t = await fetch(new URL(touch, `${relay.url}/`));
  assert.equal(t.status, 200);
  assert.equal(t.headers.get('content-type'), 'image/png');
  for (const module of ['app.js', 'sw.js']) {
    const m = await fetch(`${relay.url}/${module}`);
    assert.match(m.headers.get('content-type'), /javascript/, `${module} must be served as JavaScript`);
  }
});
