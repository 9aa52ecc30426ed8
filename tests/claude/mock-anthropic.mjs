//! A dependency-free mock of the Anthropic Messages API that drives the real Claude Code into
//! real permission dialogs, for the claude lab and the `cr` end-to-end tests.
//!
//! Usage: node tests/claude/mock-anthropic.mjs [--port 0] [--host 127.0.0.1] [--log FILE]
//! The first stdout line is `listening <port>`. Point Claude Code at it with
//! `ANTHROPIC_BASE_URL=http://127.0.0.1:<port>` and any fake `ANTHROPIC_API_KEY`.
//!
//! Routes: `POST /v1/messages` (SSE when the body says `"stream": true`, JSON otherwise) and
//! `POST /v1/messages/count_tokens`. Anything else gets a 404 in the API's error shape. Every
//! request is appended to the `--log` file as one JSON line:
//! `{"ts","method","path","body","reply"}` (`body` is the parsed request, `reply` what the mock
//! decided: `{"kind":"text","text"}` or `{"kind":"tool_use","name","input"}`).
//!
//! # Scenario grammar
//!
//! The mock reads the **last message whose role is `user`** (Claude Code 2.1.3xx appends a
//! `system`-role message after it, so the last message is not always the user's). In its text
//! blocks it looks for a line starting with `RUN:<VERB>`; the rest of that line is the argument:
//!
//! | directive                         | reply                                                      |
//! |-----------------------------------|------------------------------------------------------------|
//! | `RUN:BASH <command>`              | `Bash {command, description}`                              |
//! | `RUN:EDIT <path>\|<old>\|<new>`   | `Read {file_path}` first, then `Edit {file_path, old_string, new_string}` (Claude Code refuses to edit a file it has not read) |
//! | `RUN:WRITE <path>\|<content>`     | `Write {file_path, content}`                               |
//! | `RUN:READ <path>`                 | `Read {file_path}`                                         |
//! | `RUN:FETCH <url>`                 | `WebFetch {url, prompt}`                                   |
//! | `RUN:PLAN <plan text>`            | in plan mode, `Write` of the plan file named in Claude Code's plan-mode reminder first; then `ExitPlanMode {plan}` |
//! | `RUN:ASK <question>\|<opt>\|<opt>…` | `AskUserQuestion` with one single-select question. Several questions are separated by ` ;; `; a question starting with `*` is multiSelect, e.g. `RUN:ASK Which db?\|Postgres\|SQLite ;; *Which features?\|Auth\|Metrics\|Logs` |
//! | `RUN:MCP <server>\|<tool>\|<json>` | `mcp__<server>__<tool>` with the JSON object as input      |
//! | `RUN:TEXT <text>`                 | a plain text answer; `\n` in the argument becomes a newline |
//!
//! In every argument `\n` stands for a newline and `\|` for a literal `|`. Other replies:
//! - The last user message carries a `tool_result` (and no new directive): a text quoting every
//!   tool_result, `MOCK tool_result[ error]: <content>`, then any plain text the user added as
//!   `MOCK user said: <text>`, with `stop_reason: end_turn`. A test sees on screen and in the log
//!   what Claude received (the rejection message, the user's feedback, the answers).
//! - A tool_result answering one of the mock's preparatory calls (ids ending `_prep`, see EDIT
//!   and PLAN) is not quoted: the mock goes on with the second step of the directive.
//! - Requests without tools (title generation, topic detection): a short text. The Bash
//!   command-prefix check (`Command: <cmd>` with the prefix-detection policy) gets the
//!   command's first word, as the real model tends to answer.
//! - No directive at all: `MOCK: no RUN: directive`.
//!
//! The model, ids and token counts in the replies are made up; nothing here talks to the network.

import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';

const args = parseArgs(process.argv.slice(2));
let nextId = 1;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = null;
    const raw = Buffer.concat(chunks).toString('utf8');
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = { unparsed: raw };
    }
    const path = (req.url || '').split('?')[0];
    let reply = null;
    try {
      if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
        reply = { kind: 'count_tokens', input_tokens: estimateTokens(raw) };
        sendJson(res, 200, { input_tokens: reply.input_tokens });
      } else if (req.method === 'POST' && path === '/v1/messages') {
        reply = decide(body || {});
        const message = buildMessage(body || {}, reply, raw);
        if (body && body.stream) sendStream(res, message);
        else sendJson(res, 200, message);
      } else {
        reply = { kind: 'not_found' };
        sendJson(res, 404, {
          type: 'error',
          error: { type: 'not_found_error', message: `mock: no route ${req.method} ${path}` },
        });
      }
    } catch (err) {
      reply = { kind: 'error', error: String(err && err.stack ? err.stack : err) };
      if (!res.headersSent) {
        sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: String(err) } });
      } else {
        res.end();
      }
    }
    log({ ts: new Date().toISOString(), method: req.method, path, body, reply });
  });
});

server.listen(args.port, args.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

function parseArgs(argv) {
  const out = { port: 0, host: '127.0.0.1', log: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--port') out.port = Number(value);
    else if (flag === '--host') out.host = value;
    else if (flag === '--log') out.log = value;
    else {
      process.stderr.write(`mock-anthropic: unknown argument ${flag}\n` +
        'usage: mock-anthropic.mjs [--port N] [--host ADDR] [--log FILE]\n');
      process.exit(2);
    }
    i++;
  }
  return out;
}

function log(entry) {
  if (args.log) appendFileSync(args.log, JSON.stringify(entry) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Deciding the reply

/** The text blocks of a message as strings, skipping Claude Code's `<system-reminder>` blocks. */
function userTexts(message) {
  const content = message.content;
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  return content
    .filter((b) => b && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text)
    .filter((t) => !t.trimStart().startsWith('<system-reminder>'));
}

function toolResults(message) {
  return Array.isArray(message.content)
    ? message.content.filter((b) => b && b.type === 'tool_result')
    : [];
}

/** The first `RUN:<VERB> <arg>` line in a message's text, or null. */
function findDirective(message) {
  for (const text of userTexts(message)) {
    const m = /(?:^|\n)\s*RUN:([A-Z]+)[ \t]?([^\n]*)/.exec(text);
    if (m) return { verb: m[1], arg: m[2].trim() };
  }
  return null;
}

function lastUser(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === 'user') return { message: messages[i], index: i };
  }
  return null;
}

function decide(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  const last = lastUser(messages);
  if (!hasTools) return sideQuery(body, last && last.message);
  if (!last) return text('MOCK: no user message');

  const directive = findDirective(last.message);
  const results = toolResults(last.message);
  if (directive) return directiveReply(directive, body, 1);

  if (results.length > 0) {
    // A result for one of our own preparatory calls: continue the directive that started it.
    const prep = results.find((r) => String(r.tool_use_id || '').endsWith('_prep'));
    if (prep && !prep.is_error) {
      const origin = findOriginDirective(messages, last.index);
      if (origin) return directiveReply(origin, body, 2);
    }
    const quoted = results.map((r) =>
      `MOCK tool_result${r.is_error ? ' error' : ''}: ${resultText(r.content)}`);
    for (const t of userTexts(last.message)) quoted.push(`MOCK user said: ${t}`);
    return text(quoted.join('\n'));
  }
  return text('MOCK: no RUN: directive');
}

/** The directive of the newest user message before `before` that has one. */
function findOriginDirective(messages, before) {
  for (let i = before - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue;
    const d = findDirective(messages[i]);
    if (d) return d;
  }
  return null;
}

function resultText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((b) => (b && b.type === 'text' ? b.text : `[${b && b.type}]`)).join('\n');
  }
  return JSON.stringify(content);
}

/** Requests without tools: title generation, topic detection, the Bash prefix check. */
function sideQuery(body, last) {
  const texts = last ? userTexts(last).join('\n') : '';
  const system = JSON.stringify(body.system || '');
  const command = /(?:^|\n)Command: ([^\n]*)$/.exec(texts.trimEnd());
  if (command && /prefix/i.test(system + texts)) {
    return text(command[1].trim().split(/\s+/)[0] || 'none');
  }
  return text('Mock session');
}

/** Splits an argument on unescaped `|` and undoes the `\n` / `\|` escapes. */
function splitArg(arg) {
  return arg.split(/(?<!\\)\|/).map(unescape);
}

function unescape(s) {
  return s.replace(/\\\|/g, '|').replace(/\\n/g, '\n');
}

function directiveReply({ verb, arg }, body, step) {
  switch (verb) {
    case 'BASH':
      return toolUse('Bash', { command: unescape(arg), description: 'Run the scenario command' });
    case 'EDIT': {
      const [filePath, oldString = '', newString = ''] = splitArg(arg);
      if (step === 1) return toolUse('Read', { file_path: filePath }, true);
      return toolUse('Edit', { file_path: filePath, old_string: oldString, new_string: newString });
    }
    case 'WRITE': {
      const [filePath, content = ''] = splitArg(arg);
      return toolUse('Write', { file_path: filePath, content });
    }
    case 'READ':
      return toolUse('Read', { file_path: unescape(arg) });
    case 'FETCH':
      return toolUse('WebFetch', { url: unescape(arg), prompt: 'Summarize this page' });
    case 'PLAN': {
      const plan = unescape(arg);
      const planFile = step === 1 ? planFilePath(body) : null;
      if (planFile) return toolUse('Write', { file_path: planFile, content: plan }, true);
      return toolUse('ExitPlanMode', { plan });
    }
    case 'ASK':
      return toolUse('AskUserQuestion', { questions: arg.split(/\s+;;\s+/).map(question) });
    case 'MCP': {
      const [serverName, tool, json = '{}'] = splitArg(arg);
      return toolUse(`mcp__${serverName}__${tool}`, JSON.parse(json));
    }
    case 'TEXT':
      return text(unescape(arg));
    default:
      return text(`MOCK: unknown directive RUN:${verb}`);
  }
}

function question(spec) {
  const multiSelect = spec.startsWith('*');
  const [q, ...labels] = splitArg(multiSelect ? spec.slice(1) : spec);
  // The header chip is at most 12 characters in Claude Code's schema.
  // "Which database should we use?" -> "Database", as a model would label it.
  const words = q.replace(/[?:].*$/s, '').split(/\s+/).filter(Boolean);
  const word = (/^(which|what)$/i.test(words[0] || '') ? words[1] : words[0]) || 'question';
  const header = (word[0].toUpperCase() + word.slice(1)).slice(0, 12);
  return {
    question: q,
    header,
    options: labels.map((label) => ({ label, description: `Choose ${label}` })),
    multiSelect,
  };
}

/** The plan file Claude Code names in its plan-mode reminder, if this request has one. */
function planFilePath(body) {
  const m = /(\/[^\s"'`]*\/\.claude\/plans\/[\w.-]+\.md)/.exec(JSON.stringify(body.messages || []));
  return m ? m[1] : null;
}

function text(t) {
  return { kind: 'text', text: t };
}

function toolUse(name, input, prep = false) {
  const id = `toolu_mock${nextId++}${prep ? '_prep' : ''}`;
  return { kind: 'tool_use', id, name, input };
}

// ---------------------------------------------------------------------------------------------
// Wire format

function estimateTokens(raw) {
  // About four bytes per token is close enough for Claude Code's context meter.
  return Math.max(1, Math.ceil(raw.length / 4));
}

function buildMessage(body, reply, raw) {
  const block = reply.kind === 'tool_use'
    ? { type: 'tool_use', id: reply.id, name: reply.name, input: reply.input }
    : { type: 'text', text: reply.text };
  return {
    id: `msg_mock${nextId++}`,
    type: 'message',
    role: 'assistant',
    model: body.model || 'claude-mock',
    content: [block],
    stop_reason: reply.kind === 'tool_use' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: estimateTokens(raw),
      output_tokens: 10,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  };
}

function sendJson(res, status, obj) {
  const data = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    'request-id': `req_mock${nextId++}`,
  });
  res.end(data);
}

/** Streams `message` as the Messages API's server-sent events, one content block. */
function sendStream(res, message) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': `req_mock${nextId++}`,
  });
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const block = message.content[0];
  event('message_start', {
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  if (block.type === 'text') {
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    for (const piece of pieces(block.text)) {
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
    }
  } else {
    event('content_block_start', {
      index: 0,
      content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
    });
    for (const piece of pieces(JSON.stringify(block.input))) {
      event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: piece } });
    }
  }
  event('content_block_stop', { index: 0 });
  event('message_delta', {
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  event('message_stop', {});
  res.end();
}

/** Splits a string into deltas the way the real API does (several per block). */
function pieces(s) {
  const size = 40;
  const chars = Array.from(s); // never split a surrogate pair
  const out = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}
