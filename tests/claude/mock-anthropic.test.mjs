//! Tests of the mock Messages API's scenario grammar and wire format: `node --test tests/claude/`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const MOCK = new URL('./mock-anthropic.mjs', import.meta.url).pathname;
const logFile = join(mkdtempSync(join(tmpdir(), 'mock-anthropic-')), 'requests.jsonl');
let child;
let base;

before(async () => {
  child = spawn(process.execPath, [MOCK, '--port', '0', '--log', logFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  const m = /^listening (\d+)$/.exec(first);
  assert.ok(m, `first line was ${first}`);
  base = `http://127.0.0.1:${m[1]}`;
});

after(() => child.kill());

const TOOLS = [{ name: 'Bash', input_schema: { type: 'object' } }];

async function post(path, body) {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** One plain JSON turn whose last user message has `content`. */
async function turn(content, extra = {}) {
  const messages = [{ role: 'user', content }, ...(extra.after || [])];
  const res = await post('/v1/messages', { model: 'm', tools: TOOLS, messages, ...extra.body });
  assert.equal(res.status, 200);
  return JSON.parse(res.text);
}

test('RUN:BASH answers a Bash tool_use', async () => {
  const msg = await turn('RUN:BASH ls -la | wc -l');
  assert.equal(msg.stop_reason, 'tool_use');
  assert.equal(msg.content[0].name, 'Bash');
  assert.equal(msg.content[0].input.command, 'ls -la | wc -l');
  assert.ok(msg.content[0].input.description);
});

test('the last user message counts, even with a system message after it', async () => {
  const msg = await turn([{ type: 'text', text: '<system-reminder>RUN:TEXT no</system-reminder>' },
    { type: 'text', text: 'RUN:READ /etc/hostname' }], { after: [{ role: 'system', content: 'RUN:TEXT no' }] });
  assert.equal(msg.content[0].name, 'Read');
  assert.deepEqual(msg.content[0].input, { file_path: '/etc/hostname' });
});

test('RUN:EDIT reads the file first, then edits it', async () => {
  const first = await turn('RUN:EDIT /p/a.txt|old|new');
  assert.equal(first.content[0].name, 'Read');
  assert.match(first.content[0].id, /_prep$/);
  const messages = [
    { role: 'user', content: 'RUN:EDIT /p/a.txt|old|new' },
    { role: 'assistant', content: first.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: first.content[0].id, content: '1\told' }] },
  ];
  const res = JSON.parse((await post('/v1/messages', { tools: TOOLS, messages })).text);
  assert.equal(res.content[0].name, 'Edit');
  assert.deepEqual(res.content[0].input, { file_path: '/p/a.txt', old_string: 'old', new_string: 'new' });
});

test('RUN:ASK builds questions, ;; separates them and * makes one multiSelect', async () => {
  const msg = await turn('RUN:ASK Which database should we use?|Postgres|SQLite ;; *Which features?|Auth|Metrics|Logs');
  const { questions } = msg.content[0].input;
  assert.equal(msg.content[0].name, 'AskUserQuestion');
  assert.equal(questions.length, 2);
  assert.equal(questions[0].header, 'Database');
  assert.equal(questions[0].multiSelect, false);
  assert.deepEqual(questions[1].options.map((o) => o.label), ['Auth', 'Metrics', 'Logs']);
  assert.equal(questions[1].multiSelect, true);
});

test('RUN:PLAN writes the plan file named in the plan-mode reminder, then exits plan mode', async () => {
  const reminder = 'Plan mode is active. Write your plan to /h/.claude/plans/slug-word.md';
  const msg = await turn([{ type: 'text', text: `<system-reminder>${reminder}</system-reminder>` },
    { type: 'text', text: 'RUN:PLAN Step one\\nStep two' }]);
  assert.equal(msg.content[0].name, 'Write');
  assert.deepEqual(msg.content[0].input, { file_path: '/h/.claude/plans/slug-word.md', content: 'Step one\nStep two' });
  const direct = await turn('RUN:PLAN Just this');
  assert.equal(direct.content[0].name, 'ExitPlanMode');
  assert.deepEqual(direct.content[0].input, { plan: 'Just this' });
});

test('RUN:TEXT unescapes newlines and pipes, and RUN:MCP names the MCP tool', async () => {
  const msg = await turn('RUN:TEXT ❯ 1. Yes\\n  2. No \\| maybe');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.content[0].text, '❯ 1. Yes\n  2. No | maybe');
  const mcp = await turn('RUN:MCP demo|echo|{"text":"hi"}');
  assert.equal(mcp.content[0].name, 'mcp__demo__echo');
  assert.deepEqual(mcp.content[0].input, { text: 'hi' });
});

test('a tool_result is quoted back with the user text beside it', async () => {
  const msg = await turn([
    { type: 'tool_result', tool_use_id: 'toolu_x', is_error: true, content: [{ type: 'text', text: 'rejected: use printf' }] },
    { type: 'text', text: 'try again later' },
  ]);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.content[0].text, 'MOCK tool_result error: rejected: use printf\nMOCK user said: try again later');
});

test('requests without tools get a short text; the Bash prefix check gets the first word', async () => {
  const title = JSON.parse((await post('/v1/messages', { messages: [{ role: 'user', content: 'RUN:BASH ls' }] })).text);
  assert.equal(title.content[0].text, 'Mock session');
  const prefix = JSON.parse((await post('/v1/messages', {
    system: 'Your task is to process Bash commands. This policy spec defines how to determine the prefix',
    messages: [{ role: 'user', content: '<policy_spec>…</policy_spec>\n\nCommand: npm install left-pad' }],
  })).text);
  assert.equal(prefix.content[0].text, 'npm');
});

test('stream: true gives the SSE event sequence with input_json_delta pieces', async () => {
  const res = await post('/v1/messages', {
    stream: true, tools: TOOLS, messages: [{ role: 'user', content: 'RUN:BASH echo ' + 'x'.repeat(100) }],
  });
  assert.match(res.type, /text\/event-stream/);
  const events = res.text.split('\n\n').filter(Boolean).map((chunk) => {
    const [ev, data] = chunk.split('\n');
    return { name: ev.replace('event: ', ''), data: JSON.parse(data.replace('data: ', '')) };
  });
  const names = events.map((e) => e.name);
  assert.equal(names[0], 'message_start');
  assert.equal(names[1], 'content_block_start');
  assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
  const deltas = events.filter((e) => e.name === 'content_block_delta');
  assert.ok(deltas.length > 1, 'the input arrives in several pieces');
  const input = JSON.parse(deltas.map((d) => d.data.delta.partial_json).join(''));
  assert.equal(input.command, 'echo ' + 'x'.repeat(100));
  assert.equal(events.at(-2).data.delta.stop_reason, 'tool_use');
});

test('count_tokens, unknown routes and the request log', async () => {
  const count = await post('/v1/messages/count_tokens', { messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(JSON.parse(count.text).input_tokens > 0);
  const missing = await post('/v2/nothing', {});
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.text).type, 'error');
  const log = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.length >= 10);
  assert.ok(log.some((e) => e.path === '/v1/messages/count_tokens' && e.reply.kind === 'count_tokens'));
  assert.ok(log.some((e) => e.reply.kind === 'tool_use' && e.reply.name === 'Bash'));
});
