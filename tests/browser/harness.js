//! Test harness: the real relay, a real `cr` in tmux running a fake program, and headless Chromium.
//
// Nothing is built here: `just test` runs `cargo build -p cr-server -p cr` first, and these
// helpers spawn `target/debug/cr-server` and `target/debug/cr`. Every process and temp dir a
// test starts is stopped by `cleanup()` (registered with `after`).

import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
export const CR_SERVER = process.env.CR_SERVER_BIN || path.join(TARGET, 'debug', 'cr-server');
export const CR = process.env.CR_BIN || path.join(TARGET, 'debug', 'cr');
export const FAKE = path.join(HERE, 'fixtures', 'fake_program.py');
export const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Generous deadline for anything a test waits on: the machine is shared and slow at times. */
export const WAIT_MS = 30_000;
/** Poll interval while waiting for a condition. */
const POLL_MS = 100;

export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
export const DESKTOP = { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 };

const cleanups = [];

/** Stops everything the tests of this file started, newest first. */
export async function cleanup() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      console.error('cleanup:', e.message);
    }
  }
}

export function tempDir(prefix = 'cr-browser-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits until `fn()` returns a truthy value (or a resolved promise of one) and returns it. */
export async function waitFor(fn, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---- the relay -----------------------------------------------------------------------------

export class Relay {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.db = path.join(dir, 'relay.db');
    this.url = `http://127.0.0.1:${port}`;
    this.proc = null;
    this.log = path.join(dir, 'relay.log');
  }

  /** Starts a relay on a free loopback port with a fresh database. */
  static async start() {
    const relay = new Relay(tempDir('cr-relay-'), await freePort());
    await relay.spawn();
    cleanups.push(() => relay.stop());
    return relay;
  }

  async spawn() {
    const out = fs.openSync(this.log, 'a');
    this.proc = spawn(CR_SERVER, ['serve', '--listen', `127.0.0.1:${this.port}`, '--db', this.db, '--public-url', this.url], {
      stdio: ['ignore', out, out],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    });
    fs.closeSync(out);
    const proc = this.proc;
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`cr-server exited with ${proc.exitCode}: ${fs.readFileSync(this.log, 'utf8').slice(-2000)}`);
      const r = await fetch(`${this.url}/healthz`).catch(() => null);
      return r && r.ok;
    }, 'the relay to answer /healthz');
  }

  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the relay and starts it again on the same port and database. */
  async restart() {
    await this.stop();
    await this.spawn();
  }

  async admin(...args) {
    const { stdout } = await run(CR_SERVER, [...args, '--db', this.db, '--public-url', this.url], { env: process.env });
    return stdout;
  }

  /** A fresh one-time login link, as `cr-server login-link --json` prints it. */
  async loginLink() {
    return JSON.parse(await this.admin('login-link', '--json'));
  }

  /** Pairs a new device and returns the `CR_CONFIG` path for `cr`. */
  async pairDevice(name = 'test-box') {
    const { code } = JSON.parse(await this.admin('pair-code', '--name', name, '--json'));
    const dir = tempDir('cr-device-');
    const config = path.join(dir, 'config.toml');
    await run(CR, ['pair', this.url, code, '--name', name], { env: { ...process.env, CR_CONFIG: config } });
    return config;
  }

  /** JSON from the relay's API with a bearer token (made on first use). */
  async api(pathname, init = {}) {
    if (!this.token) this.token = JSON.parse(await this.admin('token', 'create', 'browser-tests', '--json')).token;
    const r = await fetch(`${this.url}${pathname}`, {
      ...init,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json', ...(init.headers || {}) },
    });
    const text = await r.text();
    let data = text;
    try {
      data = JSON.parse(text);
    } catch {
      // Plain text routes (`/text`) stay text.
    }
    return { status: r.status, data, text };
  }
}

// ---- cr in tmux ----------------------------------------------------------------------------

let tmuxCount = 0;

/** A `cr` session in its own tmux server, so the test can type "at the keyboard". */
export class Workstation {
  constructor(relay, config, name) {
    this.relay = relay;
    this.config = config;
    this.name = name;
    this.socket = `cr-browser-${process.pid}-${++tmuxCount}`;
    this.state = tempDir('cr-state-');
  }

  /** Runs `cr --name NAME -- python3 fake_program.py ARGS…` in a 100x30 tmux window. */
  static async start(relay, config, name, args, options = {}) {
    return Workstation.run(relay, config, name, ['python3', FAKE, ...args], options);
  }

  /** Runs `cr --name NAME -- COMMAND…` in tmux, with extra environment and working directory. */
  static async run(relay, config, name, command, { cols = 100, rows = 30, env = {}, cwd = process.cwd(), crArgs = [] } = {}) {
    const ws = new Workstation(relay, config, name);
    const vars = {
      CR_CONFIG: config,
      XDG_STATE_HOME: ws.state,
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      ...env,
    };
    const envArgs = Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
    const cmd = `env ${envArgs} ${shellQuote(CR)} --name ${shellQuote(name)} ${crArgs.map(shellQuote).join(' ')} -- ${command.map(shellQuote).join(' ')}`;
    // `; exit $?` keeps the shell as the pane's process and cr as its child: tmux resumes a pane
    // process that stops, and the offline test needs to freeze cr.
    await ws.tmux('new-session', '-d', '-c', cwd, '-x', String(cols), '-y', String(rows), `${cmd}; exit $?`);
    await ws.tmux('set-option', '-g', 'remain-on-exit', 'on');
    cleanups.push(() => ws.stop());
    return ws;
  }

  async tmux(...args) {
    const { stdout } = await run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args]);
    return stdout;
  }

  /** Types keys as tmux names them (`Enter`, `Down`, `1`), like a person at the keyboard. */
  async keys(...keys) {
    await this.tmux('send-keys', '-t', '0', ...keys);
  }

  /** The terminal as the person at the workstation sees it. */
  async screen() {
    return this.tmux('capture-pane', '-p', '-t', '0');
  }

  async stop() {
    await this.tmux('kill-server').catch(() => {});
  }

  /** The pid of `cr` itself: the child of the pane's shell (`env` execs `cr`). */
  async pid() {
    const shell = (await this.tmux('list-panes', '-t', '0', '-F', '#{pane_pid}')).trim();
    const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', shell]);
    return Number(stdout.trim().split(/\s+/)[0]);
  }

  /** The session's id, once the relay lists it under this name. */
  async sessionId() {
    return waitFor(async () => {
      const r = await this.relay.api('/api/sessions');
      const s = Array.isArray(r.data) && r.data.find((x) => x.name === this.name);
      return s && s.id;
    }, `session ${this.name} on the relay`);
  }

  /** Waits until the terminal shows `text` (a string or RegExp). */
  async waitScreen(text, what, timeoutMs) {
    return waitFor(async () => {
      const s = await this.screen();
      return (typeof text === 'string' ? s.includes(text) : text.test(s)) && s;
    }, what || `the terminal to show ${text}`, timeoutMs);
  }
}

function shellQuote(s) {
  return `'${String(s).replace(/'/g, "'\\''")}'`;
}

// ---- the browser ---------------------------------------------------------------------------

/**
 * Debian's Chromium, headless, with no background traffic. Playwright gives every launch a
 * fresh temporary profile (user-data-dir) and removes it on close.
 */
export async function launchBrowser() {
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  cleanups.push(() => b.close());
  return b;
}

/** What most test files start with: a relay, optionally a paired device, and a browser. */
export async function startAll({ pair = null } = {}) {
  const relay = await Relay.start();
  const config = pair ? await relay.pairDevice(pair) : null;
  const browser = await launchBrowser();
  return { relay, config, browser };
}

/**
 * A new browser context (one phone) with its own cookies. Page errors, dialogs and CSP
 * violations are collected in `page.problems` so a test can assert there were none.
 */
export async function newPage(browser, relay, device = PHONE, extra = {}) {
  const context = await browser.newContext({ ...device, baseURL: relay.url, colorScheme: 'dark', ...extra });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    page.problems.push(`dialog: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) page.problems.push(`csp: ${m.text()}`);
  });
  return page;
}

/** Logs `page` in through a fresh login link and waits for the session list. */
export async function login(page, relay) {
  const link = await relay.loginLink();
  await page.goto(link.url);
  await page.locator('#list-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  return link;
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  // Let the cards' short fade-in finish, so the picture shows what the user ends up seeing.
  await page.evaluate(() => Promise.all(document.getAnimations().filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity).map((a) => a.finished.catch(() => {}))));
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** The rendered screen as text, one line per row with trailing blanks trimmed (as `/text`). */
export async function renderedText(page) {
  return page.evaluate(() => [...document.querySelectorAll('#screen > .row')]
    .map((r) => r.textContent.replace(/\s+$/u, '')).join('\n') + '\n');
}

/** Widths that would scroll the page sideways: everything wider than the viewport. */
export async function overflow(page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const wide = [];
    if (document.documentElement.scrollWidth > vw) wide.push(`document ${document.documentElement.scrollWidth}px`);
    if (document.body.scrollWidth > vw) wide.push(`body ${document.body.scrollWidth}px`);
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('.keys, .scroller')) continue; // these two scroll inside themselves by design
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
        wide.push(`${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join('.')} ${Math.round(r.left)}..${Math.round(r.right)}`);
      }
    }
    return wide;
  });
}
