//! The page's pure pieces, run in Chromium as the relay serves them: answer mapping, diff lines, widths, fitting, cards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, launchBrowser, newPage, cleanup } from './harness.js';

let relay;
let page;

before(async () => {
  relay = await Relay.start();
  const browser = await launchBrowser();
  page = await newPage(browser, relay);
  await page.goto('/'); // the login screen is enough: the modules are what is under test
});
after(cleanup);

test('each choice maps to the route and body of docs/design.md', async () => {
  const got = await page.evaluate(async () => {
    const { answerRequest } = await import('./cards.js');
    return [
      answerRequest('p1', { type: 'approve' }),
      answerRequest('p1', { type: 'always' }),
      answerRequest('p1', { type: 'reject', message: '  ' }),
      answerRequest('p1', { type: 'reject', message: 'use cargo' }),
      answerRequest('p1', { type: 'option', id: '2' }),
      answerRequest('p1', { type: 'answers', answers: { 'Which?': 'A, B' } }),
    ];
  });
  assert.deepEqual(got, [
    { path: 'api/prompts/p1/approve', body: {} },
    { path: 'api/prompts/p1/approve', body: { always: true } },
    { path: 'api/prompts/p1/reject', body: {} },
    { path: 'api/prompts/p1/reject', body: { message: 'use cargo' } },
    { path: 'api/prompts/p1/answer', body: { option: '2' } },
    { path: 'api/prompts/p1/answer', body: { answers: { 'Which?': 'A, B' } } },
  ]);
});

test('outcome notes say who answered', async () => {
  const got = await page.evaluate(async () => {
    const { outcomeText } = await import('./cards.js');
    return [
      outcomeText('approved', 'phone', true), outcomeText('rejected', 'phone', true),
      outcomeText('resolved_locally', 'terminal', false), outcomeText('approved', 'phone', false),
      outcomeText('expired', 'relay', false),
    ];
  });
  assert.deepEqual(got, ['Approved', 'Rejected', 'Answered on the terminal', 'Answered on another phone',
    'Expired: the question went away unanswered']);
});

test('diff lines are classed by their sign, including Claude Code’s numbered form', async () => {
  const got = await page.evaluate(async () => {
    const { diffClass } = await import('./cards.js');
    return ['+added', '-removed', ' context', '@@ -1 +1 @@', '+++ b/x', '--- a/x', ' 12 +new', ' 3 -old', ' 4  same']
      .map(diffClass);
  });
  assert.deepEqual(got, ['add', 'del', 'ctx', 'hunk', 'meta', 'meta', 'add', 'del', 'ctx']);
});

test('cell widths, fitting and contrast', async () => {
  const got = await page.evaluate(async () => {
    const t = await import('./term.js');
    return {
      widths: ['a', '❯', '─', '日', '🚀', '\u0301'].map((c) => t.cellWidth(c.codePointAt(0))),
      fit100: t.fitFontSize(376, 100, 0.6),
      fitNarrow: t.fitFontSize(376, 20, 0.6),
      fitHuge: t.fitFontSize(376, 1000, 0.6),
      pale: t.contrast(t.readable('#afd7ff', '#ffffff', '#1f2328'), '#ffffff'),
      kept: t.readable('#afd7ff', '#0f1115', '#d8dce2'),
      text: t.screenText(t.fromSnapshot({ rows: 2, cols: 5, cursor: { row: 0, col: 0, visible: true }, lines: [[{ text: 'ab  ' }], []] })),
    };
  });
  assert.deepEqual(got.widths, [1, 1, 1, 2, 2, 0]);
  assert.ok(got.fit100 > 6 && got.fit100 < 6.3, `100 columns in 376 px: ${got.fit100}`);
  assert.equal(got.fitNarrow, 15, 'capped at the largest size');
  assert.equal(got.fitHuge, 4, 'never below the smallest size');
  assert.ok(got.pale >= 3, 'a pale colour on white is darkened until readable');
  assert.equal(got.kept, '#afd7ff', 'a readable colour is kept');
  assert.equal(got.text, 'ab\n\n');
});

test('a question card answers with one label per question, multi-select joined in option order', async () => {
  const got = await page.evaluate(async () => {
    const { buildCard } = await import('./cards.js');
    const choices = [];
    const card = buildCard({
      id: 'q1', session_id: 's1', kind: 'question', title: 'Questions', body: 'Which database?\nWhich features?', options: [],
      questions: [
        { question: 'Which database?', header: 'DB', multi_select: false, options: [{ id: '1', label: 'Postgres' }, { id: '2', label: 'SQLite' }] },
        { question: 'Which features?', header: 'Features', multi_select: true, options: [{ id: '1', label: 'Auth' }, { id: '2', label: 'Metrics' }, { id: '3', label: 'Search' }] },
      ],
    }, null, (c) => choices.push(c));
    document.body.appendChild(card);
    const pick = (q, label) => [...card.querySelectorAll(`[data-question="${q}"]`)].find((b) => b.dataset.label === label).click();
    const submit = card.querySelector('.submit-answers');
    const before = submit.disabled;
    pick(1, 'Search');
    pick(1, 'Auth');
    pick(0, 'SQLite');
    const after = submit.disabled;
    submit.click();
    const repeatedBody = card.querySelector('.card-body') !== null;
    card.remove();
    return { before, after, choices, repeatedBody };
  });
  assert.equal(got.repeatedBody, false, 'a body that only repeats the questions is not shown twice');
  assert.equal(got.before, true, 'cannot send before every question has an answer');
  assert.equal(got.after, false);
  assert.deepEqual(got.choices, [{ type: 'answers', answers: { 'Which database?': 'SQLite', 'Which features?': 'Auth, Search' } }]);
});

test('prompt bodies are text whatever they contain', async () => {
  const got = await page.evaluate(async () => {
    const { buildCard } = await import('./cards.js');
    const evil = '<img src=x onerror="window.__pwned=1">\n+<b>added</b>\n-<script>window.__pwned=2</script>';
    const out = {};
    for (const format of ['text', 'command', 'diff', 'markdown']) {
      const card = buildCard({ id: 'x', session_id: 's', kind: 'tool', title: '<i>t</i>', body: evil, format, options: [{ id: 'approve', label: '<u>Yes</u>' }] }, { name: '<s>n</s>' }, () => {});
      document.body.appendChild(card);
      out[format] = { tags: card.querySelectorAll('img, b, script, i, u, s').length, text: card.querySelector('.card-body').textContent };
      card.remove();
    }
    await new Promise((r) => setTimeout(r, 100));
    out.pwned = window.__pwned || 0;
    return out;
  });
  for (const format of ['text', 'command', 'diff', 'markdown']) {
    assert.equal(got[format].tags, 0, format);
    assert.match(got[format].text, /<img src=x onerror="window.__pwned=1">/, format);
  }
  assert.equal(got.pwned, 0);
});
