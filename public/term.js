//! Terminal screen model and rendering: applies `screen`/`output` events and draws rows as text nodes.
//
// Everything here is pure data or DOM building; no network, no global state. Terminal text only
// ever reaches the DOM through `textContent` / text nodes, so a program printing markup shows it
// literally.

/** Biggest font size the screen is drawn at, in CSS px: past this a narrow screen wastes width. */
export const MAX_FONT_PX = 15;
/** Smallest fitted font size, in CSS px: below this the screen scrolls sideways inside its box. */
export const MIN_FONT_PX = 4;
/** Pinch zoom limits (multiples of the fitted size). */
export const MAX_ZOOM = 4;

/** Applies a full `Screen` snapshot: returns the new model. */
export function fromSnapshot(screen) {
  return {
    rows: screen.rows,
    cols: screen.cols,
    cursor: screen.cursor || { row: 0, col: 0, visible: false },
    title: screen.title || '',
    alternate: !!screen.alternate,
    lines: screen.lines.slice(0, screen.rows),
  };
}

/**
 * Applies a `ScreenUpdate` in place; returns the set of row indexes to redraw (the changed rows
 * plus the rows the cursor left and entered). Rows outside the screen are ignored, as the relay
 * would never send them.
 */
export function applyUpdate(model, update) {
  const dirty = new Set();
  const old = model.cursor;
  for (const change of update.changes || []) {
    if (change.row < model.rows) {
      model.lines[change.row] = change.line;
      dirty.add(change.row);
    }
  }
  if (update.cursor) {
    model.cursor = update.cursor;
    if (old.row !== update.cursor.row || old.col !== update.cursor.col || old.visible !== update.cursor.visible) {
      dirty.add(old.row);
      dirty.add(update.cursor.row);
    }
  }
  if (typeof update.title === 'string') model.title = update.title;
  if (typeof update.alternate === 'boolean') model.alternate = update.alternate;
  return dirty;
}

/** The screen as `GET /api/sessions/{id}/text` gives it: one line per row, trailing blanks trimmed. */
export function screenText(model) {
  return model.lines.map((row) => rowText(row)).join('\n') + '\n';
}

function rowText(row) {
  return (row || []).map((s) => s.text).join('').trimEnd();
}

// ---- cell widths ---------------------------------------------------------------------------

// [from, to] code point ranges drawn two cells wide (East Asian Wide/Fullwidth and emoji), the
// same ranges terminal emulators treat as wide. Sorted, for a binary search.
const WIDE = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0],
  [0x23f3, 0x23f3], [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f],
  [0x2693, 0x2693], [0x26a1, 0x26a1], [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5],
  [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea], [0x26f2, 0x26f3], [0x26f5, 0x26f5],
  [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b], [0x2728, 0x2728],
  [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55],
  [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf],
  [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f],
  [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x18aff], [0x1b000, 0x1b2ff], [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf], [0x1f18e, 0x1f18e], [0x1f191, 0x1f19a], [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f], [0x1f680, 0x1f6ff], [0x1f7e0, 0x1f7eb], [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff], [0x20000, 0x3fffd],
];

/** Cells a code point occupies: 0 for combining marks and zero-width characters, 2 for wide. */
export function cellWidth(cp) {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)
    || cp === 0x2060 || cp === 0xfeff || (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x20d0 && cp <= 0x20ff)) {
    return 0;
  }
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < WIDE[mid][0]) hi = mid - 1;
    else if (cp > WIDE[mid][1]) lo = mid + 1;
    else return 2;
  }
  return 1;
}

// ---- colours -------------------------------------------------------------------------------

/** The xterm 256-colour palette entries 16-255 as `#rrggbb` (0-15 come from the theme's CSS). */
const PALETTE = (() => {
  const hex = (n) => n.toString(16).padStart(2, '0');
  const out = [];
  const steps = [0, 95, 135, 175, 215, 255];
  for (let i = 16; i < 232; i++) {
    const n = i - 16;
    out[i] = `#${hex(steps[Math.floor(n / 36)])}${hex(steps[Math.floor(n / 6) % 6])}${hex(steps[n % 6])}`;
  }
  for (let i = 232; i < 256; i++) {
    const v = 8 + (i - 232) * 10;
    out[i] = `#${hex(v)}${hex(v)}${hex(v)}`;
  }
  return out;
})();

/** `#rrggbb` for a colour that is not one of the 16 theme colours, or null when it is one. */
export function fixedColor(color) {
  if (typeof color === 'number') return color >= 16 && color < 256 ? PALETTE[color] : null;
  if (typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color)) return color.toLowerCase();
  return null;
}

function channels(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two `#rrggbb` colours. */
export function contrast(a, b) {
  const la = luminance(channels(a));
  const lb = luminance(channels(b));
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * Text colours chosen for a dark terminal (Claude Code's default theme) wash out on a light page,
 * and the reverse. A foreground on the default background is moved toward `towards` until it
 * reaches `MIN_CONTRAST`, keeping its hue; explicit backgrounds are left as the program drew them.
 */
export const MIN_CONTRAST = 3;

export function readable(fg, bg, towards) {
  if (contrast(fg, bg) >= MIN_CONTRAST) return fg;
  const a = channels(fg);
  const t = channels(towards);
  for (let k = 1; k <= 10; k++) {
    const mix = a.map((c, i) => Math.round(c + (t[i] - c) * (k / 10)));
    const hex = '#' + mix.map((c) => c.toString(16).padStart(2, '0')).join('');
    if (contrast(hex, bg) >= MIN_CONTRAST) return hex;
  }
  return towards;
}

// ---- rendering -----------------------------------------------------------------------------

/**
 * Draws one row into `el` (replacing its content). `cursorCol` is the cursor's column on this
 * row, or -1. `theme` is `{bg, fg}` as `#rrggbb`, used for the contrast fix; a `cache` Map keeps
 * the adjusted colours.
 */
export function renderRow(el, row, cursorCol, theme, cache) {
  const frag = document.createDocumentFragment();
  let col = 0;
  for (const span of row || []) {
    if (!span || typeof span.text !== 'string' || span.text === '') continue;
    const width = textCells(span.text);
    if (cursorCol >= col && cursorCol < col + width) {
      const [before, at, after] = splitAtCell(span.text, cursorCol - col);
      appendRun(frag, span, before, theme, cache, false);
      appendRun(frag, span, at, theme, cache, true);
      appendRun(frag, span, after, theme, cache, false);
    } else {
      appendRun(frag, span, span.text, theme, cache, false);
    }
    col += width;
  }
  if (cursorCol >= col) {
    // The cursor sits past the row's text: pad with blanks so it shows where the program put it.
    if (cursorCol > col) frag.appendChild(document.createTextNode(' '.repeat(cursorCol - col)));
    appendRun(frag, {}, ' ', theme, cache, true);
  }
  el.replaceChildren(frag);
}

function textCells(text) {
  let n = 0;
  for (const ch of text) n += cellWidth(ch.codePointAt(0));
  return n;
}

/** Splits `text` into [before, the character at cell `cell`, after], by cells. */
function splitAtCell(text, cell) {
  let col = 0;
  let i = 0;
  for (const ch of text) {
    const w = cellWidth(ch.codePointAt(0));
    if (w > 0 && cell < col + w) {
      let end = i + ch.length;
      // Keep combining marks with their base character.
      for (const next of text.slice(end)) {
        if (cellWidth(next.codePointAt(0)) !== 0) break;
        end += next.length;
      }
      return [text.slice(0, i), text.slice(i, end), text.slice(end)];
    }
    col += w;
    i += ch.length;
  }
  return [text, '', ''];
}

/** True for text every monospace font draws on the advance grid (printable ASCII). */
const ASCII_ONLY = /^[\x20-\x7e]*$/;

function appendRun(frag, span, text, theme, cache, isCursor) {
  if (text === '') return;
  const styled = isCursor || span.fg !== undefined || span.bg !== undefined || span.bold
    || span.dim || span.italic || span.underline || span.inverse;
  let host = frag;
  if (styled) {
    host = document.createElement('span');
    styleSpan(host, span, theme, cache, isCursor);
    frag.appendChild(host);
  }
  if (ASCII_ONLY.test(text)) {
    host.appendChild(document.createTextNode(text));
    return;
  }
  // Fallback fonts draw box-drawing, symbols and CJK at their own widths, which would push the
  // rest of the row off the grid (and past the fitted width). Each run of such characters gets a
  // box exactly as wide as the cells it occupies.
  let ascii = '';
  let other = '';
  let cells = 0;
  const flushAscii = () => {
    if (ascii) host.appendChild(document.createTextNode(ascii));
    ascii = '';
  };
  const flushOther = () => {
    if (!other) return;
    const box = document.createElement('span');
    box.className = 'cells';
    box.style.width = `${cells}ch`;
    box.textContent = other;
    host.appendChild(box);
    other = '';
    cells = 0;
  };
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (cp >= 0x20 && cp <= 0x7e) {
      flushOther();
      ascii += ch;
    } else {
      flushAscii();
      other += ch;
      cells += cellWidth(cp);
    }
  }
  flushAscii();
  flushOther();
}

function styleSpan(el, span, theme, cache, isCursor) {
  const classes = [];
  let fg = span.fg;
  let bg = span.bg;
  const inverse = !!span.inverse !== !!isCursor;
  if (span.bold) classes.push('b');
  if (span.dim) classes.push('d');
  if (span.italic) classes.push('i');
  if (span.underline) classes.push('u');
  if (isCursor) classes.push('cur');
  if (inverse) [fg, bg] = [bg, fg];
  // Absent colours are the theme defaults; in inverse they swap, so name them explicitly.
  if (fg === undefined || fg === null) classes.push(inverse ? 'fgbg' : 'fgd');
  else if (typeof fg === 'number' && fg < 16) classes.push(`f${fg}`);
  if (bg === undefined || bg === null) { if (inverse) classes.push('bgfg'); }
  else if (typeof bg === 'number' && bg < 16) classes.push(`g${bg}`);
  el.className = classes.join(' ');
  const fgHex = fg === undefined || fg === null ? null : fixedColor(fg);
  const bgHex = bg === undefined || bg === null ? null : fixedColor(bg);
  if (fgHex) {
    // Only text on the page's own background needs the contrast fix.
    el.style.color = bgHex || inverse ? fgHex : adjusted(fgHex, theme, cache);
  }
  if (bgHex) el.style.backgroundColor = bgHex;
}

function adjusted(hex, theme, cache) {
  if (!theme) return hex;
  const key = `${theme.bg}${hex}`;
  let out = cache.get(key);
  if (!out) {
    out = readable(hex, theme.bg, theme.fg);
    cache.set(key, out);
  }
  return out;
}

/**
 * The font size (CSS px) that fits `cols` columns into `width` px, given the monospace advance
 * per px of font size, clamped to [MIN_FONT_PX, MAX_FONT_PX].
 */
export function fitFontSize(width, cols, advancePerPx) {
  if (!(width > 0) || !(cols > 0) || !(advancePerPx > 0)) return MAX_FONT_PX;
  // A hair under the exact fit, so rounding in layout never adds a scroll bar.
  const size = (width - 2) / (cols * advancePerPx);
  return Math.max(MIN_FONT_PX, Math.min(MAX_FONT_PX, Math.floor(size * 100) / 100));
}
