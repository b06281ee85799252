// Banter chat page: what a message shows besides its text, and what one can
// do with it (protocol 1.2, docs/protocol.md "Message state"): the quote of
// the message it answers (click: jump to it), links and mentions, "edited",
// tombstones, reaction pills, and an action bar to react, reply, edit and
// delete one's own messages. Changes arrive as events (edited, reaction,
// deleted) or, after a reconnect, from `changes`; msgmodel.js keeps the
// newest state of each message. Everything a user typed goes into the page
// through textContent (richtext.js).

import { applyDeleted, applyMessage, applyReaction, reacted, requote } from './msgmodel.js';
import { fillText } from './richtext.js';

const QUICK_EMOJIS = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];
const DELETE_CONFIRM_MS = 4000;

let app = null; // what app.js lends: state, call, el, messageNode, attachmentNode, jumpTo, regroup, showNotice, errorText, isDM

/** initMsgState wires the module to the page (app.js calls it once). */
export function initMsgState(ctx) {
  app = ctx;
  const composer = document.getElementById('composer');
  const bar = document.createElement('div');
  bar.id = 'compose-bar';
  bar.className = 'compose-bar';
  bar.hidden = true;
  composer.parentNode.insertBefore(bar, composer);
  document.addEventListener('click', (e) => {
    const picker = document.querySelector('.reaction-picker');
    if (picker && !picker.contains(e.target) && !e.target.closest('.act-react')) picker.remove();
  });
}

const mine = (m) => String(m.from).toLowerCase() === app.state.nickname.toLowerCase();

function withinWindow(m) {
  const w = app.state.limits.editWindowMs;
  return !Number.isFinite(w) || Date.now() - m.ts < w;
}

/**
 * fill adds to a message's li/body (built by app.js's messageNode) the
 * quote, the text with links and mentions, "edited", reactions and the
 * action bar.
 */
export function fill(li, body, m, roomName) {
  const { el, state } = app;
  if (m.replyTo && typeof m.replyTo === 'object') body.appendChild(quoteNode(m.replyTo, roomName));
  // A file's caption may be empty; a tombstone has no file (deleted with it).
  const file = !m.deleted && m.attachment && typeof m.attachment === 'object' ? m.attachment : null;
  if (m.deleted || m.text || !file) {
    const text = el('p', m.deleted ? 'msg-text deleted' : 'msg-text');
    if (m.deleted) text.textContent = 'This message was deleted.';
    else fillText(text, m.text, state.key);
    body.appendChild(text);
  }
  if (file) body.appendChild(app.attachmentNode(file));
  li.classList.toggle('deleted', !!m.deleted);
  li.classList.toggle('mentions-me', !m.deleted && !mine(m) && Array.isArray(m.mentions) && m.mentions.includes(state.key));
  if (Number.isFinite(m.edited) && m.edited > 0 && !m.deleted) {
    const meta = body.querySelector('.msg-meta');
    const ed = el('span', 'msg-edited', 'edited');
    ed.title = `Edited ${new Date(m.edited).toLocaleString()}`;
    (meta && !li.classList.contains('cont') ? meta : body).appendChild(ed);
  }
  if (Array.isArray(m.reactions) && m.reactions.length && !m.deleted) body.appendChild(reactionsNode(m, roomName));
  if (!m.deleted) body.appendChild(actionsNode(m, roomName));
}

function quoteNode(q, roomName) {
  const { el } = app;
  const b = el('button', q.deleted ? 'msg-quote deleted' : 'msg-quote');
  b.type = 'button';
  b.dataset.seq = String(q.seq);
  b.appendChild(el('span', 'quote-from', q.from));
  if (q.deleted) b.appendChild(el('span', 'quote-text', 'Message deleted'));
  else {
    if (q.file) b.appendChild(el('span', 'quote-file', q.file));
    if (q.text || !q.file) b.appendChild(el('span', 'quote-text', q.text));
  }
  b.title = 'Show the message this one answers';
  b.addEventListener('click', () => app.jumpTo(roomName, q.seq));
  return b;
}

function reactionsNode(m, roomName) {
  const { el, state } = app;
  const row = el('div', 'reactions');
  for (const r of m.reactions) {
    if (!r || typeof r.emoji !== 'string') continue;
    const me = reacted(r, state.nickname);
    const b = el('button', me ? 'reaction mine' : 'reaction');
    b.type = 'button';
    b.setAttribute('aria-pressed', String(me));
    b.dataset.emoji = r.emoji;
    b.appendChild(el('span', 'reaction-emoji', r.emoji));
    b.appendChild(el('span', 'reaction-count', String(r.count)));
    const users = Array.isArray(r.users) ? r.users : [];
    b.title = users.join(', ') + (r.count > users.length ? ` and ${r.count - users.length} more` : '');
    b.setAttribute('aria-label', `${r.emoji} ${r.count}: ${b.title}`);
    b.addEventListener('click', () => react(roomName, m.seq, r.emoji, me));
    row.appendChild(b);
  }
  return row;
}

function actionsNode(m, roomName) {
  const { el } = app;
  const bar = el('div', 'msg-actions');
  const add = (cls, label, icon, fn) => {
    const b = el('button', `msg-action ${cls}`, icon);
    b.type = 'button';
    b.title = label;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', (e) => { e.stopPropagation(); fn(b); });
    bar.appendChild(b);
    return b;
  };
  add('act-react', 'React', '☺', (b) => openPicker(b, roomName, m));
  add('act-reply', 'Reply', '↩', () => startReply(roomName, m));
  if (mine(m) && withinWindow(m)) {
    add('act-edit', 'Edit', '✎', () => startEdit(roomName, m));
    add('act-delete', 'Delete', '🗑', (b) => confirmDelete(b, roomName, m));
  }
  return bar;
}

function openPicker(anchor, roomName, m) {
  document.querySelector('.reaction-picker')?.remove();
  const { el } = app;
  const picker = el('div', 'reaction-picker');
  picker.setAttribute('role', 'menu');
  for (const e of QUICK_EMOJIS) {
    const b = el('button', 'pick', e);
    b.type = 'button';
    b.setAttribute('role', 'menuitem');
    b.setAttribute('aria-label', `React with ${e}`);
    const current = (m.reactions || []).find((r) => r.emoji === e);
    b.addEventListener('click', () => {
      picker.remove();
      react(roomName, m.seq, e, !!current && reacted(current, app.state.nickname));
    });
    picker.appendChild(b);
  }
  anchor.parentNode.appendChild(picker);
  picker.querySelector('button').focus();
}

async function react(roomName, seq, emoji, remove) {
  const ack = await app.call('react', { room: roomName, seq, emoji, remove });
  if (!ack.ok) {
    app.showNotice(app.errorText(ack.error));
    return;
  }
  onReaction({ room: ack.room, seq: ack.seq, rev: ack.rev, reactions: ack.reactions });
}

function confirmDelete(b, roomName, m) {
  if (b.dataset.confirm !== '1') {
    b.dataset.confirm = '1';
    b.textContent = 'Delete?';
    b.classList.add('confirm');
    setTimeout(() => {
      if (!b.isConnected) return;
      b.dataset.confirm = '';
      b.textContent = '🗑';
      b.classList.remove('confirm');
    }, DELETE_CONFIRM_MS);
    return;
  }
  app.call('delete', { room: roomName, seq: m.seq }).then((ack) => {
    if (!ack.ok) app.showNotice(app.errorText(ack.error));
    else onDeleted({ room: ack.room, seq: ack.seq, rev: ack.rev });
  });
}

// ---- composing: replies and edits ----------------------------------------

function renderBar() {
  const bar = document.getElementById('compose-bar');
  const c = app.state.compose;
  if (!c || c.room !== app.state.current) {
    bar.hidden = true;
    bar.replaceChildren();
    return;
  }
  const { el } = app;
  bar.hidden = false;
  bar.dataset.mode = c.mode;
  const label = el('span', 'compose-label');
  if (c.mode === 'reply') {
    label.append('Replying to ', el('strong', '', c.from), ': ', el('span', 'compose-quote', c.text));
  } else {
    label.append('Editing your message · Esc to cancel');
  }
  const cancel = el('button', 'icon-button compose-cancel', '✕');
  cancel.type = 'button';
  cancel.setAttribute('aria-label', c.mode === 'reply' ? 'Cancel the reply' : 'Cancel the edit');
  cancel.addEventListener('click', () => cancelCompose());
  bar.replaceChildren(label, cancel);
}

function startReply(roomName, m) {
  const text = m.text || (m.attachment ? `📎 ${m.attachment.name}` : '');
  app.state.compose = { mode: 'reply', room: roomName, seq: m.seq, id: m.id, from: m.from, text };
  renderBar();
  document.getElementById('text').focus();
}

function startEdit(roomName, m) {
  app.state.compose = { mode: 'edit', room: roomName, seq: m.seq, id: m.id, from: m.from, text: m.text };
  const box = document.getElementById('text');
  box.value = m.text;
  renderBar();
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

/** cancelCompose leaves reply or edit mode (an edit's text is cleared). */
export function cancelCompose() {
  const c = app.state.compose;
  app.state.compose = null;
  if (c && c.mode === 'edit') document.getElementById('text').value = '';
  renderBar();
}

/** roomChanged is called when another room is shown. */
export function roomChanged() {
  const c = app.state.compose;
  if (c && c.room !== app.state.current && c.mode === 'edit') cancelCompose();
  else renderBar();
}

/**
 * submit handles the composer's text in edit mode (true: handled) or
 * returns the id to reply to (replyTo) for a new message.
 */
export function submit(text) {
  const c = app.state.compose;
  if (!c || c.room !== app.state.current) return { handled: false, replyTo: '' };
  if (c.mode === 'reply') {
    app.state.compose = null;
    renderBar();
    return { handled: false, replyTo: c.id };
  }
  app.state.compose = null;
  renderBar();
  if (text === c.text) return { handled: true };
  app.call('edit', { room: c.room, seq: c.seq, text }).then((ack) => {
    if (!ack.ok) {
      app.showNotice(app.errorText(ack.error));
      return;
    }
    onEdited(ack.message);
  });
  return { handled: true };
}

/**
 * takeReply ends reply mode in roomName and returns the id of the message
 * answered ('' when not replying there): files sent while replying answer
 * it (files.js).
 */
export function takeReply(roomName) {
  const c = app.state.compose;
  if (!c || c.mode !== 'reply' || c.room !== roomName) return '';
  app.state.compose = null;
  renderBar();
  return c.id;
}

/** composerKey: ArrowUp in an empty composer edits one's last message; Esc cancels. */
export function composerKey(e) {
  const box = e.target;
  if (e.key === 'Escape' && app.state.compose) {
    e.preventDefault();
    cancelCompose();
    return true;
  }
  if (e.key === 'ArrowUp' && box.value === '' && !app.state.compose) {
    const room = app.state.rooms.get(app.state.current);
    const last = room && room.log.sorted().reverse().find((m) => mine(m) && !m.deleted);
    if (last && withinWindow(last)) {
      e.preventDefault();
      startEdit(room.name, last);
      return true;
    }
  }
  return false;
}

// ---- changes --------------------------------------------------------------

function rerender(roomName, m) {
  if (roomName !== app.state.current || !m) return;
  const old = document.querySelector(`#messages li[data-seq="${m.seq}"]`);
  if (!old) return;
  const room = app.state.rooms.get(roomName);
  const li = app.messageNode(m, roomName);
  old.replaceWith(li);
  app.regroup(li, room);
}

// noteRev records a change's rev; a jump past the next one reveals changes
// missed (a lost event): ask for them.
function noteRev(room, rev) {
  if (!Number.isSafeInteger(rev)) return;
  if (room.lastRev > 0 && rev > room.lastRev + 1) fetchChanges(room);
  else room.lastRev = Math.max(room.lastRev, rev);
}

function changed(room, m) {
  if (!m) return;
  rerender(room.name, m);
  for (const r of requote(room.log, m)) rerender(room.name, r);
  app.afterChange(room);
}

/**
 * refresh replaces a held message by the same message as the server sent
 * it (its event after the send's ack: with its quote and mentions).
 */
export function refresh(room, m) {
  const held = room.log.bySeq.get(m.seq);
  if (!held || (held.rev || 0) > (m.rev || 0)) return;
  room.log.bySeq.set(m.seq, m);
  rerender(room.name, m);
}

/** onEdited applies an `edited` event (or an edit's ack). */
export function onEdited(m) {
  if (!m || typeof m.room !== 'string') return;
  const room = app.state.rooms.get(m.room);
  if (!room) return;
  noteRev(room, m.rev);
  changed(room, applyMessage(room.log, m));
}

/** onReaction applies a `reaction` event (or a reaction's ack). */
export function onReaction(ev) {
  if (!ev || typeof ev.room !== 'string') return;
  const room = app.state.rooms.get(ev.room);
  if (!room) return;
  noteRev(room, ev.rev);
  const m = applyReaction(room.log, ev);
  if (m) rerender(room.name, m);
}

/** onDeleted applies a `deleted` event (or a deletion's ack). */
export function onDeleted(ev) {
  if (!ev || typeof ev.room !== 'string') return;
  const room = app.state.rooms.get(ev.room);
  if (!room) return;
  noteRev(room, ev.rev);
  const c = app.state.compose;
  if (c && c.room === ev.room && c.seq === ev.seq) cancelCompose();
  changed(room, applyDeleted(room.log, ev));
}

/** fetchChanges asks for what changed after the room's rev. */
export async function fetchChanges(room) {
  if (room.fetchingChanges) return;
  room.fetchingChanges = true;
  try {
    for (let i = 0; i < 50; i++) {
      const ack = await app.call('changes', { room: room.name, after: room.lastRev, limit: 200 });
      if (!ack.ok || !Array.isArray(ack.messages)) return;
      for (const m of ack.messages) {
        changed(room, applyMessage(room.log, m));
        if (Number.isSafeInteger(m.rev)) room.lastRev = Math.max(room.lastRev, m.rev);
      }
      if (!ack.more || ack.messages.length === 0) return;
    }
  } finally {
    room.fetchingChanges = false;
  }
}

/**
 * afterJoin follows a join result: a room the page already held messages
 * of catches up with the changes it missed; a fresh one starts at the
 * result's rev (its page is current).
 */
export function afterJoin(room, res, fresh) {
  const rev = Number.isSafeInteger(res.lastRev) ? res.lastRev : 0;
  if (!fresh && rev > room.lastRev) fetchChanges(room);
  else room.lastRev = Math.max(room.lastRev, rev);
}
