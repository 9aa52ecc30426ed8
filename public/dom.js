//! The one way the page creates elements: properties and text, never markup strings.

/**
 * `h('button', {className: 'btn', text: label, 'aria-pressed': 'false'})`. `text` becomes
 * `textContent`; names with a dash (`aria-*`, `data-*`) become attributes; the rest are set as
 * properties. There is deliberately no way to pass HTML.
 */
export function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'text') el.textContent = value;
    else if (key.includes('-')) el.setAttribute(key, value);
    else el[key] = value;
  }
  for (const child of children) {
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** "now", "4 min", "3 h", "2 d": how long ago `iso` was, short enough for a badge. */
export function age(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.round(m / 60);
  if (hrs < 48) return `${hrs} h`;
  return `${Math.round(hrs / 24)} d`;
}

/** A home directory shortened to `~` for display (the path stays whole in the tooltip). */
export function shortPath(path) {
  const m = /^(\/home\/[^/]+|\/Users\/[^/]+|\/root)(\/.*)?$/.exec(path || '');
  return m ? `~${m[2] || ''}` : path || '';
}

/** "just now", "4 min ago": `age` as a phrase. */
export function ago(iso, now = Date.now()) {
  const a = age(iso, now);
  if (!a) return '';
  return a === 'now' ? 'just now' : `${a} ago`;
}
