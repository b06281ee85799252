// Search on the chat page: a search box in the room header, a panel of
// results (newest first, the matched words marked, everything inserted as
// text), and a click that jumps to the message in its room.

let ctx = null; // what app.js shares: see initSearch
let query = '';
let next = '';
let results = [];

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * marked returns the nodes of text with the ranges (UTF-16 [start, end),
 * as the server sends them) wrapped in <mark>: text nodes only.
 */
export function marked(text, ranges) {
  const out = [];
  let at = 0;
  const sorted = (Array.isArray(ranges) ? ranges : [])
    .filter((r) => Array.isArray(r) && Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0] < r[1])
    .sort((a, b) => a[0] - b[0]);
  for (const [s, e] of sorted) {
    if (s < at || e > text.length) continue;
    if (s > at) out.push(document.createTextNode(text.slice(at, s)));
    out.push(el('mark', '', text.slice(s, e)));
    at = e;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

// excerpt keeps long texts short around the first match.
function excerpt(text, ranges) {
  const LIMIT = 240;
  if (text.length <= LIMIT) return { text, ranges };
  const first = (ranges && ranges.length) ? Math.min(...ranges.map((r) => r[0])) : 0;
  const start = Math.max(0, Math.min(first - 60, text.length - LIMIT));
  const shift = (r) => [r[0] - start + 1, r[1] - start + 1];
  const cut = `…${text.slice(start, start + LIMIT)}…`;
  return { text: cut, ranges: (ranges || []).filter((r) => r[0] >= start && r[1] <= start + LIMIT).map(shift) };
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function resultNode(hit) {
  const m = hit.message;
  const h = hit.highlights || {};
  const li = el('li');
  const b = el('button', 'search-hit');
  b.type = 'button';
  b.dataset.room = m.room;
  b.dataset.seq = String(m.seq);
  const head = el('span', 'search-head');
  head.appendChild(el('span', 'search-room', ctx.roomTitle(m.room)));
  head.appendChild(el('span', 'search-from', m.from));
  if (Number.isFinite(m.ts)) head.appendChild(el('time', 'search-time', dateFmt.format(m.ts)));
  b.appendChild(head);
  if (m.text) {
    const x = excerpt(m.text, h.text);
    const p = el('span', 'search-text');
    p.append(...marked(x.text, x.ranges));
    b.appendChild(p);
  }
  if (m.attachment && typeof m.attachment.name === 'string') {
    const f = el('span', 'search-file');
    f.append('📎 ', ...marked(m.attachment.name, h.name));
    b.appendChild(f);
  }
  b.addEventListener('click', () => {
    close();
    ctx.jumpTo(m.room, m.seq);
  });
  li.appendChild(b);
  return li;
}

function render(status) {
  const panel = $('search-panel');
  panel.hidden = false;
  $('search-status').textContent = status;
  $('search-results').replaceChildren(...results.map(resultNode));
  $('search-more').hidden = !next;
}

async function run(more) {
  const args = { text: query, limit: 20 };
  if (more) args.before = next;
  $('search-status').textContent = 'Searching…';
  $('search-panel').hidden = false;
  const asked = query;
  const ack = await ctx.call('search', args);
  if (asked !== query) return; // a newer search started meanwhile
  if (!ack.ok) {
    results = [];
    next = '';
    render(ctx.errorText(ack.error));
    return;
  }
  results = more ? results.concat(ack.results || []) : (ack.results || []);
  next = ack.more ? ack.next : '';
  const n = results.length;
  render(n === 0 ? `Nothing found for “${query}”.` : `${n}${ack.more ? '+' : ''} result${n === 1 ? '' : 's'} for “${query}”, newest first`);
}

function close() {
  $('search-panel').hidden = true;
}

/**
 * initSearch wires the search box. shared: {call, roomTitle(room),
 * jumpTo(room, seq), errorText(err)}.
 */
export function initSearch(shared) {
  ctx = shared;
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('search').value.trim();
    if (!q) {
      close();
      return;
    }
    query = q;
    next = '';
    run(false);
  });
  $('search-more').addEventListener('click', () => run(true));
  $('search-close').addEventListener('click', close);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('search-panel').hidden) close();
  });
}
