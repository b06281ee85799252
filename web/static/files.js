// Files on the chat page: the attach button, drag-and-drop, uploads (protocol
// 1's `upload` slot, then the bytes over HTTP), and attachments in messages:
// image previews laid out at their size before they load, other files as
// download links. Every name is put into the page as text.
//
// Downloads need the session's file token (`fileToken`); it is asked for
// after every hello and before it expires, and the links on the page follow.

const TOKEN_MARGIN_MS = 10 * 60 * 1000;
const PREVIEW_MAX = 320; // CSS pixels, the longer side of an image preview

let ctx = null; // what app.js shares: see initFiles
let token = '';
let tokenTimer = 0;

/** humanSize renders a byte count for people. */
export function humanSize(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KB`;
  return `${n} bytes`;
}

function fileURL(a) {
  const base = `/api/v1/files/${encodeURIComponent(a.id)}/${encodeURIComponent(a.name)}`;
  return token ? `${base}?token=${encodeURIComponent(token)}` : '';
}

function isPreviewable(a) {
  return /^image\/(png|jpeg|gif|webp)$/.test(a.type) && a.width > 0 && a.height > 0;
}

// relink points every file link and preview of the page at the current
// token.
function relink() {
  for (const node of document.querySelectorAll('[data-file-id]')) {
    const a = { id: node.dataset.fileId, name: node.dataset.fileName };
    const url = fileURL(a);
    if (!url) continue;
    if (node.tagName === 'IMG') node.src = url;
    else node.href = url;
  }
}

/** onSession asks for a file token: after every hello, and before it expires. */
export async function onSession() {
  clearTimeout(tokenTimer);
  const ack = await ctx.call('fileToken');
  if (!ack.ok || typeof ack.token !== 'string') return;
  token = ack.token;
  relink();
  const wait = Math.max(60 * 1000, (ack.expires || 0) - Date.now() - TOKEN_MARGIN_MS);
  tokenTimer = setTimeout(() => { if (ctx.ready()) onSession(); }, wait);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * attachmentNode renders a message's file: an image preview with its size
 * reserved (width and height are known from the upload), or a file link.
 */
export function attachmentNode(a) {
  const box = el('div', 'file');
  const link = el('a', 'file-link');
  link.dataset.fileId = a.id;
  link.dataset.fileName = a.name;
  link.href = fileURL(a) || '#';
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  if (isPreviewable(a)) {
    const scale = Math.min(1, PREVIEW_MAX / Math.max(a.width, a.height));
    const img = el('img', 'file-preview');
    img.width = Math.max(1, Math.round(a.width * scale));
    img.height = Math.max(1, Math.round(a.height * scale));
    img.alt = a.name;
    img.loading = 'lazy';
    img.decoding = 'async';
    img.dataset.fileId = a.id;
    img.dataset.fileName = a.name;
    const url = fileURL(a);
    if (url) img.src = url;
    link.appendChild(img);
    link.setAttribute('aria-label', `${a.name}, image ${a.width} × ${a.height}`);
    box.classList.add('image');
    box.appendChild(link);
    box.appendChild(el('span', 'file-caption', `${a.name} · ${a.width} × ${a.height} · ${humanSize(a.size)}`));
    return box;
  }
  link.appendChild(el('span', 'file-icon', a.type === 'application/pdf' ? 'PDF' : 'FILE'));
  const label = el('span', 'file-label');
  label.appendChild(el('span', 'file-name', a.name));
  label.appendChild(el('span', 'file-meta', `${humanSize(a.size)} · ${a.type}`));
  link.appendChild(label);
  link.setAttribute('download', a.name);
  box.appendChild(link);
  return box;
}

// ---- uploading -----------------------------------------------------------

function randomId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return `file-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

const uploads = []; // {id, name, room, state: 'uploading'|'failed', error}

function renderUploads() {
  const list = document.getElementById('uploads');
  list.replaceChildren(...uploads.filter((u) => u.room === ctx.current()).map((u) => {
    const li = el('li', `upload ${u.state}`);
    li.appendChild(el('span', 'file-icon', '↑'));
    li.appendChild(el('span', 'upload-name', u.name));
    li.appendChild(el('span', 'upload-status', u.state === 'failed' ? `Not sent: ${u.error}` : 'Uploading…'));
    if (u.state === 'failed') {
      const drop = el('button', 'link-button', 'Dismiss');
      drop.type = 'button';
      drop.addEventListener('click', () => {
        uploads.splice(uploads.indexOf(u), 1);
        renderUploads();
      });
      li.appendChild(drop);
    }
    return li;
  }));
}

function failed(u, text) {
  u.state = 'failed';
  u.error = text;
  renderUploads();
}

/**
 * upload sends one File to a room: a slot, then the bytes (retried on
 * network errors). replyTo: the id of the message it answers, or ''.
 */
export async function upload(file, roomName, replyTo = '') {
  const limits = ctx.limits();
  const u = { id: randomId(), name: file.name || 'file', room: roomName, state: 'uploading', error: '' };
  uploads.push(u);
  renderUploads();
  if (limits.maxFileBytes && file.size > limits.maxFileBytes) {
    failed(u, `the file is ${humanSize(file.size)}, the limit is ${humanSize(limits.maxFileBytes)}.`);
    return;
  }
  if (file.size === 0) {
    failed(u, 'the file is empty.');
    return;
  }
  const args = { room: roomName, name: u.name, size: file.size, contentType: file.type || '', clientId: u.id };
  if (replyTo) args.replyTo = replyTo;
  const slot = await ctx.call('upload', args);
  if (!slot.ok) {
    failed(u, ctx.errorText(slot.error));
    return;
  }
  for (let attempt = 1; ; attempt++) {
    let res;
    let body;
    try {
      res = await fetch(slot.url, {
        method: 'PUT', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' },
        credentials: 'omit', cache: 'no-store',
      });
      body = await res.json();
    } catch {
      // The network failed: the same slot again stores one file, once.
      if (attempt < 4) {
        await new Promise((r) => { setTimeout(r, 1000 * attempt); });
        continue;
      }
      failed(u, 'the upload did not reach the server.');
      return;
    }
    if (!body || !body.ok || !body.message) {
      failed(u, ctx.errorText(body && body.error));
      return;
    }
    uploads.splice(uploads.indexOf(u), 1);
    renderUploads();
    ctx.addMessage(body.message);
    return;
  }
}

function sendFiles(files) {
  const room = ctx.current();
  if (!room || !ctx.ready()) {
    ctx.showNotice('Not connected: try again in a moment.');
    return;
  }
  const replyTo = files.length ? ctx.takeReply(room) : ''; // files sent while replying answer the message
  for (const f of files) upload(f, room, replyTo);
}

/**
 * initFiles wires the attach button and drag-and-drop. shared: {call,
 * ready(), current(), limits(), addMessage(m), takeReply(room),
 * showNotice(text), errorText(err)}.
 */
export function initFiles(shared) {
  ctx = shared;
  const input = document.getElementById('file-input');
  document.getElementById('attach').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    sendFiles([...input.files]);
    input.value = '';
  });
  const zone = document.getElementById('room');
  const overlay = document.getElementById('drop-overlay');
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.textContent = `Drop to send to ${ctx.title()}`;
    overlay.hidden = false;
  });
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  zone.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    sendFiles([...e.dataTransfer.files]);
  });
}

/** onRoomShown re-renders the uploads of the room now shown. */
export function onRoomShown() {
  if (ctx) renderUploads();
}
