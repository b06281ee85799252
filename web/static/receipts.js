// Banter chat page: read state (protocol 1.2). The server keeps each user's
// read marker per room, so unread counts survive reloads and follow the
// user across devices: the page marks the room it shows as read (at most
// once a second and a half), takes its counts from the `rooms` answer and
// keeps them live from messages and `read` events, and shows under the
// reader's last message who has seen it (a DM: "Seen" or "Delivered";
// a small room: "Seen by …"; large rooms send no markers). In DMs it
// reports delivery of the other user's messages (`delivered`), which is
// what the "Delivered" line of the other side shows.

import { countUnread, seenText } from './msgmodel.js';

const MARK_EVERY_MS = 1500;

let app = null; // state, call, isDM, renderRooms

/** initReceipts wires the module to the page (app.js calls it once). */
export function initReceipts(ctx) {
  app = ctx;
  const pending = document.getElementById('pending');
  const p = document.createElement('p');
  p.id = 'seen-by';
  p.className = 'seen-by';
  p.setAttribute('aria-live', 'polite');
  pending.parentNode.insertBefore(p, pending.nextSibling);
}

const isMe = (nick) => String(nick).toLowerCase() === app.state.nickname.toLowerCase();

function setReader(room, m) {
  if (!m || typeof m.nickname !== 'string') return;
  if (isMe(m.nickname)) {
    if (m.read > room.read) room.read = m.read;
    return;
  }
  const key = m.nickname.toLowerCase();
  const old = room.readers.get(key);
  room.readers.set(key, {
    nickname: m.nickname,
    read: Math.max(m.read || 0, old ? old.read : 0),
    delivered: Math.max(m.delivered || 0, old ? old.delivered : 0),
  });
}

/** afterJoin takes the markers of a join result. */
export function afterJoin(room, res) {
  if (res.read) setReader(room, res.read);
  for (const m of Array.isArray(res.readers) ? res.readers : []) setReader(room, m);
  if (room.name === app.state.current) renderSeen();
}

/** fromIndex takes a room's read state from the `rooms` answer. */
export function fromIndex(room, info) {
  const r = info.read;
  if (!r || typeof r !== 'object') return;
  room.read = Math.max(room.read, r.seq || 0);
  if (room.name === app.state.current && !document.hidden) return; // being read now
  room.unread = r.unread || 0;
  room.mentions = r.mentions || 0;
}

/** markRead tells the server the reader has seen the room's newest message. */
export function markRead(room) {
  const newest = room.log.newest;
  if (!app.state.ready || newest <= room.read || room.name !== app.state.current || document.hidden) return;
  room.unread = 0;
  room.mentions = 0;
  if (room.markTimer) return;
  const send = () => {
    room.markTimer = 0;
    const seq = room.log.newest;
    if (seq <= room.read || !app.state.ready) return;
    room.markedAt = Date.now();
    app.call('mark', { room: room.name, read: seq }).then((ack) => {
      if (ack.ok) room.read = Math.max(room.read, ack.read || 0);
    });
  };
  const wait = Math.max(0, (room.markedAt || 0) + MARK_EVERY_MS - Date.now());
  room.markTimer = setTimeout(send, wait);
}

/**
 * onMessage follows a live message: counts it when its room is not being
 * read, and reports delivery of the other user's DMs.
 */
export function onMessage(room, added) {
  const { state } = app;
  for (const m of added) {
    if (isMe(m.from)) continue;
    if (room.name !== state.current || document.hidden) {
      if (Array.isArray(m.mentions) && m.mentions.includes(state.key)) room.mentions = (room.mentions || 0) + 1;
    }
  }
  if (app.isDM(room.name) && added.some((m) => !isMe(m.from))) {
    const seq = Math.max(...added.map((m) => m.seq));
    if (seq > (room.delivered || 0)) {
      room.delivered = seq;
      app.call('mark', { room: room.name, delivered: seq });
    }
  }
  if (room.name === state.current) renderSeen();
}

/** onRead applies a `read` event: the user's own marker, or others'. */
export function onRead(ev) {
  if (!ev || typeof ev.room !== 'string' || !Array.isArray(ev.readers)) return;
  const room = app.state.rooms.get(ev.room);
  if (!room) return;
  let mineMoved = false;
  for (const m of ev.readers) {
    if (isMe(m.nickname) && m.read > room.read) mineMoved = true;
    setReader(room, m);
  }
  if (mineMoved) {
    // Read on another device: count what is left after its marker.
    const c = countUnread(room.log.sorted(), room.read, app.state.nickname, app.state.key);
    room.unread = room.log.size ? c.unread : 0;
    room.mentions = room.log.size ? c.mentions : 0;
    app.renderRooms();
  }
  if (room.name === app.state.current) renderSeen();
}

/** renderSeen shows who has seen the reader's last message of the room. */
export function renderSeen() {
  const p = document.getElementById('seen-by');
  if (!p) return;
  const room = app.state.rooms.get(app.state.current);
  const last = room && room.log.sorted().reverse().find((m) => !m.deleted);
  const text = last && isMe(last.from) ? seenText([...room.readers.values()], last.seq, app.state.nickname, app.isDM(room.name)) : '';
  p.textContent = text;
  p.hidden = text === '';
}
