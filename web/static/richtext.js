// Banter chat page: message text with links and mentions. tokenize is pure
// (web/msgstate_test.go checks it in headless Chromium); fillText puts the
// tokens into an element with textContent and createElement only, never
// HTML parsing, so nothing a user typed can become markup.

// Links: http(s) URLs, and www. hosts (opened as https). Anything else —
// javascript:, data:, vbscript:, file: — stays text.
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
// What usually ends a sentence rather than a URL.
const TRAILING = /[.,;:!?'"”’»…)\]}]+$/;

/**
 * safeHref returns the URL to put in href for a link the text contains, or
 * '' when it is not an http(s) URL. The URL is parsed and re-serialized.
 */
export function safeHref(raw) {
  let s = String(raw);
  if (/^www\./i.test(s)) s = `https://${s}`;
  let u;
  try {
    u = new URL(s);
  } catch {
    return '';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
  if (!u.hostname) return '';
  return u.href;
}

// A mention: "@" at the start or after a character that is not a letter,
// digit or "_", then a word up to white space (docs/protocol.md).
const isWord = (ch) => /[\p{L}\p{N}_]/u.test(ch);

/**
 * mentionKey approximates the server's nickname key (case, compatibility
 * forms and runs of spaces); the server's `mentions` list is authoritative.
 */
export function mentionKey(nick) {
  return String(nick).normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * tokenize splits text into [{t: 'text'|'link'|'mention', s, href?, key?}],
 * whose s concatenated give text back.
 */
export function tokenize(text) {
  const out = [];
  const push = (tok) => {
    if (tok.s === '') return;
    const last = out[out.length - 1];
    if (tok.t === 'text' && last && last.t === 'text') last.s += tok.s;
    else out.push(tok);
  };
  const mentions = (s) => {
    let start = 0;
    const chars = [...s];
    let pos = 0;
    const offs = chars.map((c) => { const o = pos; pos += c.length; return o; }); // code-unit offsets
    for (let i = 0; i < chars.length; i++) {
      if (chars[i] !== '@' || (i > 0 && isWord(chars[i - 1]))) continue;
      let j = i + 1;
      while (j < chars.length && !/\s/u.test(chars[j]) && chars[j] !== '@') j++;
      const word = chars.slice(i + 1, j).join('').replace(TRAILING, '');
      if (word === '' || word.includes(':')) continue;
      const end = offs[i] + 1 + word.length;
      push({ t: 'text', s: s.slice(start, offs[i]) });
      push({ t: 'mention', s: s.slice(offs[i], end), key: mentionKey(word) });
      start = end;
      i = j - 1;
    }
    push({ t: 'text', s: s.slice(start) });
  };
  let last = 0;
  for (const m of String(text).matchAll(URL_RE)) {
    let url = m[0];
    // Keep a closing parenthesis that closes one inside the URL.
    let trail = '';
    const t = url.match(TRAILING);
    if (t) {
      trail = t[0];
      url = url.slice(0, -trail.length);
      while (trail.startsWith(')') && (url.match(/\(/g) || []).length > (url.match(/\)/g) || []).length) {
        url += ')';
        trail = trail.slice(1);
      }
    }
    const href = safeHref(url);
    if (!href) continue;
    mentions(text.slice(last, m.index));
    push({ t: 'link', s: url, href });
    last = m.index + url.length;
  }
  mentions(String(text).slice(last));
  return out;
}

/**
 * fillText puts text into el: links open in a new tab without telling the
 * target who sent the reader (rel noopener noreferrer) nor passing rank
 * (nofollow ugc); mentions are highlighted, the reader's own (myKey) more.
 */
export function fillText(el, text, myKey) {
  el.replaceChildren();
  for (const tok of tokenize(text)) {
    if (tok.t === 'text') {
      el.append(tok.s);
    } else if (tok.t === 'link') {
      const a = document.createElement('a');
      a.href = tok.href;
      a.textContent = tok.s;
      a.rel = 'noopener noreferrer nofollow ugc';
      a.target = '_blank';
      el.append(a);
    } else {
      const span = document.createElement('span');
      span.className = tok.key === myKey ? 'mention self' : 'mention';
      span.textContent = tok.s;
      el.append(span);
    }
  }
}
