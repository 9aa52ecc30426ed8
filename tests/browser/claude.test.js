//! The real `claude` (against the mock Messages API) under `cr`: its permission dialogs become cards the phone answers.
//
// Needs a Claude Code installed by tests/claude/install.sh (CI's .ci/run does) and node: without
// them the tests fail and say what to install, unless CR_SKIP_CLAUDE=1 asks to skip them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {
  Relay, Workstation, launchBrowser, newPage, login, cleanup, shot, tempDir, waitFor, ROOT, WAIT_MS,
} from './harness.js';

const VERSION = process.env.CR_CLAUDE_VERSION || '2.1.112';
const CLAUDE_DIR = process.env.CR_CLAUDE_DIR || path.join(os.homedir(), '.cache', 'claude-remote', 'claude');
const CLAUDE = path.join(CLAUDE_DIR, VERSION, 'bin', 'claude');
const MOCK = process.env.CR_MOCK_ANTHROPIC || path.join(ROOT, 'tests', 'claude', 'mock-anthropic.mjs');
const API_KEY = 'sk-ant-api03-browser-tests-not-a-real-key-0123456789abcdef';
/** Claude Code starts slowly on a busy 2-core machine (node parses a 10 MB cli.js). */
const CLAUDE_WAIT_MS = 90_000;

const missing = !fs.existsSync(CLAUDE) ? `no Claude Code ${VERSION} at ${CLAUDE} (run tests/claude/install.sh ${VERSION})`
  : !fs.existsSync(MOCK) ? `no mock API at ${MOCK}` : null;
/** Skipped only on request; a missing Claude Code is otherwise a failure, never a quiet pass. */
const skip = missing && process.env.CR_SKIP_CLAUDE === '1' ? `CR_SKIP_CLAUDE=1: ${missing}` : false;

/** Fails the test when what it needs is missing (and skipping was not asked for). */
function requireClaude() {
  if (missing) assert.fail(`${missing}; set CR_SKIP_CLAUDE=1 to skip on purpose`);
}

let relay;
let browser;
let config;
let mock;

/** Starts the mock Messages API; resolves with its port and log file. */
async function startMock() {
  const log = path.join(tempDir('cr-mock-'), 'requests.jsonl');
  const proc = spawn(process.execPath, [MOCK, '--port', '0', '--log', log], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`mock exited with ${code}`)));
  });
  const port = Number(/^listening (\d+)$/.exec(first)[1]);
  return { proc, port, log };
}

before(async () => {
  if (missing) return; // each test fails (or is skipped) on its own
  relay = await Relay.start();
  config = await relay.pairDevice('claude-box');
  browser = await launchBrowser();
  mock = await startMock();
});
after(async () => {
  if (mock) mock.proc.kill();
  await cleanup();
});

/** `cr -- claude` in a fresh project directory with a throw-away HOME, as research section 8 says. */
async function startClaude(name) {
  const home = tempDir('cr-claude-home-');
  const project = fs.realpathSync(tempDir('cr-claude-project-'));
  fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({
    hasCompletedOnboarding: true,
    customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] },
    projects: { [project]: { hasTrustDialogAccepted: true } },
  }));
  const ws = await Workstation.run(relay, config, name, [CLAUDE, '--permission-mode', 'default'], {
    cwd: project,
    env: {
      HOME: home,
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${mock.port}`,
      ANTHROPIC_API_KEY: API_KEY,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_NO_FLICKER: '0',
      PATH: process.env.PATH,
    },
  });
  await ws.waitScreen(/for shortcuts|manual mode on/, 'Claude Code to be ready for input').catch(async (e) => {
    throw new Error(`${e.message}\n${await ws.screen()}`);
  });
  return { ws, project };
}

/** Waits for the first card; on timeout the error shows what the terminal showed. */
async function firstCard(page, ws) {
  const card = page.locator('.card').first();
  await card.waitFor({ timeout: CLAUDE_WAIT_MS }).catch(async (e) => {
    throw new Error(`${e.message}\nthe terminal shows:\n${await ws.screen()}`);
  });
  return card;
}

/** What the mock answered, one entry per request it logged. */
function mockReplies() {
  if (!fs.existsSync(mock.log)) return [];
  return fs.readFileSync(mock.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).reply || {});
}

/** Types a scenario line into Claude Code as the user would. */
async function say(ws, text) {
  await ws.tmux('send-keys', '-t', '0', '-l', text);
  // Enter only once the text shows in the input box: typed too early it is lost, and text with
  // Enter in one burst is taken for a paste.
  await ws.waitScreen(text.slice(0, 24), 'Claude Code to echo the typed text');
  await ws.keys('Enter');
}

test('real claude: a Bash permission becomes a card; Approve runs it, Reject with a message tells Claude', { skip, timeout: 600_000 }, async () => {
  requireClaude();
  const { ws, project } = await startClaude('real-claude');
  const page = await newPage(browser, relay);
  await login(page, relay);
  await page.locator('.sess', { hasText: 'real-claude' }).click();
  await page.locator('#session-view').waitFor({ state: 'visible', timeout: WAIT_MS });

  // Approve: the command runs.
  const approved = path.join(project, 'approved.txt');
  await say(ws, `RUN:BASH touch ${approved}`);
  const card = await firstCard(page, ws);
  assert.match(await card.locator('.card-body').innerText(), /touch .*approved\.txt/);
  assert.equal(await page.locator('.card').count(), 1, 'one dialog, one card');
  await shot(page, 'phone-real-claude-card');
  await card.locator('[data-option="approve"]').click();
  await page.locator('.card').waitFor({ state: 'detached', timeout: WAIT_MS });
  await waitFor(() => fs.existsSync(approved), 'the approved command to run', CLAUDE_WAIT_MS);
  // The turn ends when Claude Code has sent the tool's result and shown the reply; a prompt
  // typed before that is queued into the running turn instead of starting a new one.
  await ws.waitScreen(/MOCK tool_result/, 'Claude Code to finish the approved turn', CLAUDE_WAIT_MS);
  await ws.waitScreen(/for shortcuts/, 'Claude Code to be ready for input', CLAUDE_WAIT_MS);

  // Reject with a message: the command does not run, and Claude gets the message.
  const rejected = path.join(project, 'rejected.txt');
  await say(ws, `RUN:BASH touch ${rejected}`);
  const second = await firstCard(page, ws);
  await second.locator('[data-option="reject"]').click();
  await second.locator('.reject-form textarea').fill('please use echo instead');
  await second.locator('.confirm-reject').click();
  await page.locator('.card').waitFor({ state: 'detached', timeout: WAIT_MS });
  await waitFor(() => fs.existsSync(mock.log) && fs.readFileSync(mock.log, 'utf8').includes('please use echo instead'),
    'Claude to receive the rejection message', CLAUDE_WAIT_MS);
  assert.equal(fs.existsSync(rejected), false, 'the rejected command did not run');
  await ws.stop();
  assert.deepEqual(page.problems, []);
});

test('real claude: an AskUserQuestion becomes a card with the choices', { skip, timeout: 600_000 }, async () => {
  requireClaude();
  const { ws } = await startClaude('real-claude-asks');
  const page = await newPage(browser, relay);
  await login(page, relay);
  await say(ws, 'RUN:ASK Which database should we use?|Postgres|SQLite');
  const card = await firstCard(page, ws);
  await shot(page, 'phone-real-claude-question');
  await card.locator('.btn', { hasText: 'SQLite' }).first().click();
  const submit = card.locator('.submit-answers');
  if (await submit.count() && await submit.isVisible()) await submit.click();
  await page.locator('.card').waitFor({ state: 'detached', timeout: WAIT_MS });
  // The tool_result Claude Code sends back carries the answer as "question"="label".
  await waitFor(() => mockReplies().some((r) => r.kind === 'text' && /"Which database should we use\?"="SQLite"/.test(r.text)),
    'Claude to receive the answer', CLAUDE_WAIT_MS);
  await ws.stop();
  assert.deepEqual(page.problems, []);
});
