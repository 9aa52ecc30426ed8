//! Question cards: how a `Prompt` is drawn, which request each button sends, and what an outcome says.
//
// Building a card is pure DOM work from the prompt's data; the buttons call back into the app
// with an answer `choice`, and `answerRequest` turns a choice into the route and body the relay
// expects (docs/design.md "Prompt option ids").

import { h } from './dom.js';

export const OPTION_APPROVE = 'approve';
export const OPTION_ALWAYS = 'always';
export const OPTION_REJECT = 'reject';

/**
 * The request for a choice: `{path, body}` relative to the page. Choices are
 * `{type:'approve'}`, `{type:'always'}`, `{type:'reject', message}`, `{type:'option', id}`,
 * `{type:'answers', answers}`.
 */
export function answerRequest(promptId, choice) {
  const base = `api/prompts/${encodeURIComponent(promptId)}`;
  switch (choice.type) {
    case 'approve': return { path: `${base}/approve`, body: {} };
    case 'always': return { path: `${base}/approve`, body: { always: true } };
    case 'reject': {
      const message = (choice.message || '').trim();
      return { path: `${base}/reject`, body: message ? { message } : {} };
    }
    case 'option': return { path: `${base}/answer`, body: { option: choice.id } };
    case 'answers': return { path: `${base}/answer`, body: { answers: choice.answers } };
    default: throw new Error(`unknown choice ${choice.type}`);
  }
}

/** The choice an option button stands for. */
export function choiceFor(option) {
  if (option.id === OPTION_APPROVE) return { type: 'approve' };
  if (option.id === OPTION_ALWAYS) return { type: 'always' };
  if (option.id === OPTION_REJECT) return { type: 'reject' };
  return { type: 'option', id: option.id };
}

/**
 * What to tell the user once a prompt is settled. `mine` is true when this page's own answer
 * settled it (the POST got 200).
 */
export function outcomeText(status, by, mine) {
  if (mine) {
    return {
      approved: 'Approved', rejected: 'Rejected', answered: 'Answered',
    }[status] || 'Answered';
  }
  if (status === 'expired' || by === 'relay') return 'Expired: the question went away unanswered';
  if (status === 'resolved_locally' || by === 'terminal') return 'Answered on the terminal';
  if (by === 'phone') return 'Answered on another phone';
  return 'Answered elsewhere';
}

/** Joins the labels picked for a multi-select question the way Claude Code does. */
export function joinLabels(labels) {
  return labels.join(', ');
}

// ---- drawing -------------------------------------------------------------------------------

/**
 * Builds the card for `prompt`. `session` (may be null) labels which session asks, for the
 * session list. `onChoice(choice)` is called when the user answers.
 */
export function buildCard(prompt, session, onChoice) {
  const titleId = `card-title-${prompt.id}`;
  const card = h('article', {
    className: `card kind-${prompt.kind}`,
    'data-prompt': prompt.id,
    'aria-labelledby': titleId,
  });
  const head = h('header', { className: 'card-head' });
  if (session) {
    head.appendChild(h('p', { className: 'card-session', text: session.name || session.id }));
  }
  const title = h('h2', { className: 'card-title', id: titleId, text: prompt.title || kindTitle(prompt.kind) });
  if (prompt.tool) title.appendChild(h('span', { className: 'chip', text: prompt.tool }));
  head.appendChild(title);
  card.appendChild(head);

  if (prompt.body && !repeatsQuestions(prompt)) card.appendChild(buildBody(prompt.body, prompt.format || 'text'));

  const status = h('p', { className: 'card-status', role: 'status' });
  if (prompt.questions && prompt.questions.length) {
    card.appendChild(buildQuestions(prompt, onChoice));
  }
  const options = (prompt.options || []).filter((o) => o && typeof o.id === 'string');
  if (options.length) card.appendChild(buildOptions(prompt, options, onChoice));
  card.appendChild(status);
  return card;
}

/** True when the body only says what the question blocks below say anyway. */
function repeatsQuestions(prompt) {
  const qs = prompt.questions || [];
  if (!qs.length) return false;
  const said = new Set(qs.flatMap((q) => [q.question, q.header]).map((t) => (t || '').trim()));
  return prompt.body.split('\n').every((line) => !line.trim() || said.has(line.trim()));
}

function kindTitle(kind) {
  return {
    tool: 'Permission', plan: 'Plan', question: 'Question', choice: 'Choose', confirm: 'Confirm',
  }[kind] || 'Question';
}

/** The body, shown according to its format; always as text. */
export function buildBody(body, format) {
  const box = h('div', { className: `card-body fmt-${format}`, tabIndex: 0 });
  if (format === 'diff') {
    const pre = h('pre', { className: 'diff' });
    for (const line of body.split('\n')) {
      pre.appendChild(h('span', { className: `dl ${diffClass(line)}`, text: line + '\n' }));
    }
    box.appendChild(pre);
    box.setAttribute('aria-label', 'Changes');
  } else if (format === 'command') {
    box.appendChild(h('pre', { className: 'cmd', text: body }));
    box.setAttribute('aria-label', 'Command');
  } else if (format === 'markdown') {
    const pre = h('pre', { className: 'md' });
    for (const line of body.split('\n')) {
      pre.appendChild(h('span', { className: /^#{1,6} /.test(line) ? 'mh' : '', text: line + '\n' }));
    }
    box.appendChild(pre);
  } else {
    box.appendChild(h('pre', { className: 'txt', text: body }));
  }
  return box;
}

/** The class of one diff line: added, removed, hunk header, file header, or context. */
export function diffClass(line) {
  if (line.startsWith('+++') || line.startsWith('---')) return 'meta';
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  // Claude Code's own dialogs number the lines: " 12 +new", " 12 -old".
  const m = /^\s*\d+ ([+-])/.exec(line);
  if (m) return m[1] === '+' ? 'add' : 'del';
  return 'ctx';
}

function buildOptions(prompt, options, onChoice) {
  const box = h('div', { className: 'card-actions' });
  const approve = options.find((o) => o.id === OPTION_APPROVE);
  const always = options.find((o) => o.id === OPTION_ALWAYS);
  const reject = options.find((o) => o.id === OPTION_REJECT);
  const others = options.filter((o) => o !== approve && o !== always && o !== reject);

  for (const option of others) {
    box.appendChild(optionButton(option, 'btn choice', () => onChoice({ type: 'option', id: option.id })));
  }
  if (always) {
    // The label says exactly what "always" allows (a command prefix, a folder): keep it visible.
    box.appendChild(optionButton(always, 'btn always', () => onChoice({ type: 'always' }), 'Always'));
  }
  if (approve || reject) {
    const row = h('div', { className: 'yesno' });
    if (reject) {
      row.appendChild(optionButton(reject, 'btn reject', () => openReject(box), 'Reject'));
    }
    if (approve) {
      row.appendChild(optionButton(approve, 'btn approve', () => onChoice({ type: 'approve' }), 'Approve'));
    }
    box.appendChild(row);
  }
  if (reject) box.appendChild(buildRejectForm(box, onChoice, prompt.id));
  return box;
}

function optionButton(option, className, onClick, name) {
  const btn = h('button', { type: 'button', className, 'data-option': option.id });
  if (name) {
    btn.appendChild(h('span', { className: 'btn-name', text: name }));
    if (option.label && option.label.toLowerCase() !== name.toLowerCase()) {
      btn.appendChild(h('span', { className: 'btn-label', text: option.label }));
    }
  } else {
    btn.appendChild(h('span', { className: 'btn-name', text: option.label || option.id }));
  }
  if (option.description) btn.appendChild(h('span', { className: 'btn-desc', text: option.description }));
  btn.addEventListener('click', onClick);
  return btn;
}

function buildRejectForm(box, onChoice, promptId) {
  const id = `reject-msg-${promptId}`;
  const form = h('form', { className: 'reject-form', hidden: true });
  form.appendChild(h('label', { htmlFor: id, text: 'Tell Claude what to do instead (optional)' }));
  const text = h('textarea', { id, rows: 2, maxLength: 4000, enterKeyHint: 'send' });
  form.appendChild(text);
  const row = h('div', { className: 'yesno' });
  const cancel = h('button', { type: 'button', className: 'btn neutral', text: 'Cancel' });
  cancel.addEventListener('click', () => {
    form.hidden = true;
    box.classList.remove('rejecting');
  });
  row.appendChild(cancel);
  row.appendChild(h('button', { type: 'submit', className: 'btn reject confirm-reject', text: 'Send rejection' }));
  form.appendChild(row);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onChoice({ type: 'reject', message: text.value });
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'Escape') {
      cancel.click();
      box.querySelector('.btn.reject').focus();
    }
  });
  return form;
}

function openReject(box) {
  const form = box.querySelector('.reject-form');
  form.hidden = false;
  box.classList.add('rejecting');
  form.querySelector('textarea').focus();
}

function buildQuestions(prompt, onChoice) {
  const box = h('div', { className: 'questions' });
  const picked = new Map(prompt.questions.map((q) => [q.question, new Set()]));
  const single = prompt.questions.length === 1 && !prompt.questions[0].multi_select;
  const submit = h('button', { type: 'button', className: 'btn approve submit-answers', text: 'Send answers', disabled: true });
  const refresh = () => {
    submit.disabled = [...picked.values()].some((s) => s.size === 0);
  };
  prompt.questions.forEach((q, qi) => {
    const group = h('fieldset', { className: 'question' });
    const legend = h('legend');
    if (q.header) legend.appendChild(h('span', { className: 'chip', text: q.header }));
    legend.appendChild(h('span', { className: 'q-text', text: q.question }));
    group.appendChild(legend);
    if (q.multi_select) group.appendChild(h('p', { className: 'hint', text: 'Pick any number' }));
    const buttons = [];
    for (const option of q.options || []) {
      const btn = optionButton(option, 'btn choice pick', () => {
        const set = picked.get(q.question);
        if (q.multi_select) {
          if (set.has(option.label)) set.delete(option.label);
          else set.add(option.label);
        } else {
          set.clear();
          set.add(option.label);
        }
        for (const b of buttons) b.setAttribute('aria-pressed', String(set.has(b.dataset.label)));
        refresh();
        // One single-choice question: the tap is the answer, as a digit is in Claude Code.
        if (single) submit.click();
      });
      btn.dataset.label = option.label;
      btn.setAttribute('aria-pressed', 'false');
      btn.dataset.question = String(qi);
      buttons.push(btn);
      group.appendChild(btn);
    }
    box.appendChild(group);
  });
  submit.addEventListener('click', () => {
    const answers = {};
    for (const [question, set] of picked) {
      const q = prompt.questions.find((x) => x.question === question);
      // Keep the program's order of options, not the order of taps.
      const labels = (q.options || []).map((o) => o.label).filter((l) => set.has(l));
      answers[question] = joinLabels(labels);
    }
    onChoice({ type: 'answers', answers });
  });
  if (!single) box.appendChild(submit);
  return box;
}
