// Banter chat page: the DOM and the Socket.IO session (protocol v1, see
// docs/protocol.md). Every string that comes from a user is put into the page
// with textContent, never parsed as HTML.
//
// One session per tab. After a reconnect the page says `hello` again with its
// resume token and, per room, the last seq it holds (`since`), then fills any
// gap with `since` calls; RoomLog drops what it already has, so nothing is
// shown twice and nothing is missed. Unacknowledged sends stay in the outbox
// and are sent again with their original clientId.

import {
  RoomLog, canonicalRoom, checkNickname, clientIdMaker, dmPeer, dmRoom, errorText, groupWith, hue,
  initials, isDM, typingText,
} from './model.js';
import * as msgUI from './msgstate.js';
import * as receipts from './receipts.js';
import * as notify from './notify.js';
import { badgeText } from './msgmodel.js';
import { attachmentNode, initFiles, onRoomShown, onSession as filesOnSession } from './files.js';
import { initSearch } from './search.js';

const $ = (id) => document.getElementById(id);

const ACK_TIMEOUT_MS = 10000;
const TYPING_REFRESH_MS = 3000; // protocol: refresh every ~3 s, TTL 5 s
const TYPING_IDLE_MS = 4000; // stop after this long without a keystroke
const PAGE = 50;

// Storage may be unavailable (private modes, disabled cookies): the page then
// simply forgets between loads.
const storage = {
  get(area, key, fallback) {
    try {
      const v = window[area].getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  },
  set(area, key, value) {
    try {
      if (value === undefined) window[area].removeItem(key);
      else window[area].setItem(key, JSON.stringify(value));
    } catch { /* not persisted */ }
  },
};

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return [...a].map((b) => b.toString(16).padStart(2, '0')).join('');
}

class Room {
  constructor(name) {
    this.name = name;
    this.log = new RoomLog();
    this.members = new Map(); // lowercased nickname -> nickname
    this.count = 0; // users in the room (a large room: more than members holds)
    this.large = false; // a large room: counts, no per-user presence (docs/protocol.md)
    this.moreMembers = false; // a large room: members holds a page, the server has more
    this.membersAfter = ''; // the last name of the last page, in the server's order
    this.typing = [];
    this.unread = 0;
    this.wanted = true; // join it in every session (false: only listed)
    this.joined = false; // the current session is a member
    this.joining = false; // a join (or hello) for it is in flight
    this.filling = false;
    this.loadingOlder = false;
    this.peer = ''; // DM rooms: the other user's nickname as last seen
    this.lastRev = 0; // the highest change rev held (msgstate.js)
    this.read = 0; // the reader's read marker (receipts.js)
    this.mentions = 0; // unread messages mentioning the reader
    this.readers = new Map(); // lowercased nickname -> others' markers
  }

  get title() {
    return isDM(this.name) ? this.peer : `#${this.name}`;
  }
}

const state = {
  nickname: '',
  key: '', // the nickname's key (hello ack): what messages' mentions hold
  compose: null, // replying to or editing a message (msgstate.js)
  token: '', // resume token of the chat session (hello ack)
  jwt: '', // sign-in token (JWT) from the application that linked here: #token=…
  socket: null,
  ready: false, // hello acknowledged on the current connection
  everReady: false,
  replaced: false,
  defaultRoom: 'general',
  limits: { maxMessageBytes: 4096 },
  rooms: new Map(),
  current: '',
  outbox: [], // {clientId, room, to, text, state: 'pending'|'failed', error, tries, inflight}
  known: new Set(), // public rooms the server listed
  typingRoom: '',
  typingSentAt: 0,
  typingIdle: 0,
  reconnectTimer: 0,
  sessions: 0, // successful hellos since the page loaded
};
const nextClientId = clientIdMaker(randomHex(6));

// ---- session -------------------------------------------------------------

function call(event, args) {
  const s = state.socket;
  if (!s || !s.connected) return Promise.resolve({ ok: false, error: { code: 'not_connected', message: 'Not connected.' } });
  return new Promise((resolve) => {
    s.timeout(ACK_TIMEOUT_MS).emit(event, args, (err, ack) => {
      if (err) resolve({ ok: false, error: { code: 'timeout', message: 'No answer from the server.' } });
      else if (!ack || typeof ack !== 'object') resolve({ ok: false, error: { code: 'internal', message: 'Bad answer from the server.' } });
      else resolve(ack);
    });
  });
}

function seenKey() {
  return `banter.seen.${state.nickname.toLowerCase()}`;
}

function start(nickname) {
  state.nickname = nickname;
  state.token = storage.get('sessionStorage', `banter.token.${nickname.toLowerCase()}`, '');
  state.replaced = false;
  const saved = storage.get('localStorage', 'banter.rooms', null);
  const names = Array.isArray(saved) && saved.length ? saved : [state.defaultRoom];
  for (const n of names) {
    const r = canonicalRoom(n);
    if (r && !state.rooms.has(r)) state.rooms.set(r, new Room(r));
  }
  state.current = storage.get('localStorage', 'banter.room', '') || names[0];
  if (!state.rooms.has(state.current)) state.current = [...state.rooms.keys()][0];
  showChat();
  connect();
}

function connect() {
  if (typeof io !== 'function') {
    setConn('offline', 'Cannot load the chat client');
    return;
  }
  const socket = io({
    autoConnect: false, reconnectionDelay: 500, reconnectionDelayMax: 5000,
    // Read at every (re)connection: the sign-in token, if any.
    auth: (cb) => cb(state.jwt ? { token: state.jwt } : {}),
  });
  state.socket = socket;
  socket.on('connect', () => onConnect(socket));
  socket.on('disconnect', (reason) => onDisconnect(socket, reason));
  socket.on('connect_error', (err) => {
    if (socket !== state.socket) return;
    const code = err && err.data && err.data.code;
    if (code === 'unauthenticated' || code === 'token_expired' || code === 'token_invalid') {
      // Refused by the server, not a network problem: retrying cannot help.
      stop();
      setConn('offline', 'Not signed in');
      showLogin(signInText(code, err.message));
      return;
    }
    setConn(navigator.onLine === false ? 'offline' : 'reconnecting');
  });
  socket.io.on('reconnect_attempt', () => {
    if (socket === state.socket) setConn(navigator.onLine === false ? 'offline' : 'reconnecting');
  });
  socket.on('message', onMessage);
  socket.on('presence', onPresence);
  socket.on('members', onMembers);
  socket.on('typing', onTyping);
  socket.on('edited', msgUI.onEdited);
  socket.on('reaction', msgUI.onReaction);
  socket.on('deleted', msgUI.onDeleted);
  socket.on('read', receipts.onRead);
  socket.on('error', (e) => showNotice(errorText(e)));
  socket.on('bye', (b) => {
    if (b && b.reason === 'replaced') {
      state.replaced = true;
      socket.io.reconnection(false);
      setConn('offline', 'Signed in elsewhere');
    }
  });
  setConn('connecting');
  socket.connect();
}

async function onConnect(socket) {
  if (socket !== state.socket) return;
  setConn('connecting', 'Signing in…');
  const since = {};
  const rooms = [];
  for (const r of state.rooms.values()) {
    if (!r.wanted) continue; // listed by `rooms` but never opened
    r.joining = true;
    if (r.log.frontier > 0) since[r.name] = r.log.frontier;
    else rooms.push(r.name);
  }
  const hello = { nickname: state.nickname, rooms, since };
  if (state.token) hello.resume = state.token;
  const ack = await call('hello', hello);
  if (socket !== state.socket) return;
  if (!ack.ok) {
    for (const r of state.rooms.values()) r.joining = false;
    const code = ack.error && ack.error.code;
    if (code === 'nickname_taken' || code === 'invalid_nickname') {
      stop();
      showLogin(errorText(ack.error));
      return;
    }
    // Anything else (unavailable, timeout) is worth another try on a new
    // connection.
    showNotice(errorText(ack.error));
    socket.disconnect();
    scheduleReconnect();
    return;
  }
  state.nickname = ack.nickname || state.nickname;
  state.key = ack.key || state.nickname.toLowerCase();
  state.token = ack.token || '';
  storage.set('sessionStorage', `banter.token.${state.nickname.toLowerCase()}`, state.token);
  storage.set('localStorage', 'banter.nickname', state.nickname);
  state.limits = { ...state.limits, ...(ack.limits || {}) };
  if (ack.defaultRoom) state.defaultRoom = ack.defaultRoom;
  state.ready = true;
  state.everReady = true;
  state.sessions++;
  setConn('connected');
  filesOnSession();
  renderMe();
  // Signing in from the form: the next thing to do is write.
  const idle = !document.activeElement || document.activeElement === document.body;
  if (state.sessions === 1 && idle && !window.matchMedia('(max-width: 760px)').matches) $('text').focus();
  for (const res of ack.rooms || []) {
    if (res.ok) applyJoin(res);
    else joinFailed(res.room, res.error);
  }
  for (const r of state.rooms.values()) r.joining = false;
  if (!state.rooms.has(state.current)) switchRoom(state.defaultRoom);
  renderAll();
  for (const item of state.outbox) if (item.state === 'pending') trySend(item);
  refreshRoomIndex();
}

function onDisconnect(socket, reason) {
  if (socket !== state.socket) return;
  state.ready = false;
  state.typingRoom = '';
  for (const r of state.rooms.values()) {
    r.joined = false;
    r.typing = [];
  }
  renderTyping();
  if (state.replaced) {
    setConn('offline', 'Signed in elsewhere');
    return;
  }
  if (reason === 'io client disconnect') return;
  setConn(navigator.onLine === false ? 'offline' : 'reconnecting');
  // The client reconnects by itself except when the server closed the
  // socket on purpose (shutdown, slow consumer): then we do.
  if (reason === 'io server disconnect') scheduleReconnect();
}

function scheduleReconnect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(() => {
    if (state.socket && !state.socket.connected && !state.replaced) state.socket.connect();
  }, 1000 + Math.random() * 1000);
}

function stop() {
  clearTimeout(state.reconnectTimer);
  if (state.socket) {
    const s = state.socket;
    state.socket = null;
    s.disconnect();
  }
  state.ready = false;
}

// ---- rooms ---------------------------------------------------------------

function ensureRoom(name) {
  let r = state.rooms.get(name);
  if (!r) {
    r = new Room(name);
    state.rooms.set(name, r);
  }
  if (isDM(name) && !r.peer && state.nickname) r.peer = dmPeer(name, state.nickname);
  return r;
}

// knownCase finds how a user spells their nickname (DM room names only have
// it lowercased) among the members of the rooms we are in.
function knownCase(lower) {
  for (const r of state.rooms.values()) {
    const n = r.members.get(lower);
    if (n) return n;
  }
  return '';
}

function applyJoin(res) {
  const room = ensureRoom(res.room);
  room.wanted = true;
  room.joined = true;
  room.joining = false;
  room.members = new Map((res.members || []).map((n) => [n.toLowerCase(), n]));
  room.moreMembers = !!res.moreMembers;
  room.membersAfter = (res.members || []).at(-1) || '';
  room.large = room.moreMembers;
  room.count = Number.isInteger(res.memberCount) ? res.memberCount : room.members.size;
  if (isDM(room.name)) {
    for (const n of room.members.values()) if (n.toLowerCase() !== state.nickname.toLowerCase()) room.peer = n;
  }
  const log = room.log;
  const msgs = Array.isArray(res.messages) ? res.messages : [];
  const fresh = log.size === 0 && log.frontier === 0;
  log.lastSeq = Math.max(log.lastSeq, res.lastSeq || 0);
  const added = log.add(msgs);
  if (fresh) {
    log.anchor(msgs.length ? msgs[0].seq - 1 : (res.lastSeq || 0));
    log.hasOlder = !!res.more || (msgs.length > 0 && msgs[0].seq > 1 && res.more !== false);
  }
  learnPeers(room, added);
  showAdded(room, added, { live: false });
  msgUI.afterJoin(room, res, fresh);
  receipts.afterJoin(room, res);
  if (room.name === state.current) renderRoom();
  fill(room);
}

function joinFailed(name, error) {
  const room = state.rooms.get(name);
  if (room) {
    state.rooms.delete(name);
    persistRooms();
  }
  showNotice(`Could not join ${name}: ${errorText(error)}`);
  if (state.current === name) switchRoom(state.defaultRoom);
}

async function joinRoom(name) {
  const room = ensureRoom(name);
  room.wanted = true;
  if (!state.ready || room.joining) return room;
  room.joining = true;
  const ack = await call('join', { room: name, limit: PAGE });
  room.joining = false;
  if (ack.ok) applyJoin(ack);
  else if (ack.error && ack.error.code !== 'not_connected' && ack.error.code !== 'timeout') joinFailed(name, ack.error);
  persistRooms();
  renderRooms();
  return room;
}

// fill asks `since` for what lies between the frontier and the newest seq the
// room is known to have: the rest of a catch-up, or a gap.
async function fill(room) {
  if (room.filling || !room.joined) return;
  room.filling = true;
  try {
    while (state.ready && room.joined && room.log.missing()) {
      const from = room.log.frontier;
      const ack = await call('since', { room: room.name, after: from, limit: 200 });
      if (!ack.ok || !Array.isArray(ack.messages) || ack.messages.length === 0) break;
      const added = room.log.add(ack.messages);
      showAdded(room, added, { live: false });
      if (room.log.frontier === from) break; // the server had nothing to close the gap
    }
  } finally {
    room.filling = false;
  }
}

async function loadOlder(room) {
  const log = room.log;
  if (room.loadingOlder || !log.hasOlder || !state.ready) return;
  room.loadingOlder = true;
  renderOlder();
  const before = log.oldest || log.frontier + 1;
  const ack = await call('history', { room: room.name, before, limit: PAGE });
  room.loadingOlder = false;
  if (ack.ok && Array.isArray(ack.messages)) {
    const added = log.add(ack.messages);
    log.hasOlder = ack.messages.length > 0 && Math.min(...ack.messages.map((m) => m.seq)) > 1;
    learnPeers(room, added);
    showAdded(room, added, { live: false });
  } else if (ack.error) {
    showNotice(errorText(ack.error));
  }
  renderOlder();
  // A short first page does not fill the screen, so no scroll would ever
  // ask for more.
  const sc = $('scroller');
  if (room.name === state.current && log.hasOlder && sc.scrollHeight <= sc.clientHeight) loadOlder(room);
}

async function leaveRoom(name) {
  if (name === state.defaultRoom) return;
  const ack = await call('leave', name);
  if (!ack.ok && ack.error.code !== 'not_member') {
    showNotice(errorText(ack.error));
    return;
  }
  state.rooms.delete(name);
  persistRooms();
  switchRoom(state.defaultRoom);
}

async function refreshRoomIndex() {
  const ack = await call('rooms');
  if (!ack.ok || !Array.isArray(ack.rooms)) return;
  const seen = storage.get('localStorage', seenKey(), {});
  for (const info of ack.rooms) {
    if (typeof info.room !== 'string') continue;
    if (state.rooms.has(info.room)) receipts.fromIndex(state.rooms.get(info.room), info);
    if (!isDM(info.room)) {
      state.known.add(info.room);
      continue;
    }
    const existed = state.rooms.has(info.room);
    const room = ensureRoom(info.room);
    if (!existed) room.wanted = false;
    if (info.read) receipts.fromIndex(room, info);
    else if (!room.joined && room.log.size === 0) room.unread = Math.max(0, (info.lastSeq || 0) - (seen[info.room] || 0));
  }
  renderRooms();
}

function persistRooms() {
  const names = [...state.rooms.values()].filter((r) => !isDM(r.name) && r.wanted !== false).map((r) => r.name);
  storage.set('localStorage', 'banter.rooms', names);
}

function markSeen(room) {
  receipts.markRead(room);
  const seen = storage.get('localStorage', seenKey(), {});
  const newest = room.log.newest;
  if (newest > (seen[room.name] || 0)) {
    seen[room.name] = newest;
    storage.set('localStorage', seenKey(), seen);
  }
}

function learnPeers(room, msgs) {
  if (!isDM(room.name)) return;
  for (const m of msgs) if (m.from && m.from.toLowerCase() !== state.nickname.toLowerCase()) room.peer = m.from;
}

// ---- server events -------------------------------------------------------

function onMessage(m) {
  if (!m || typeof m.room !== 'string' || !Number.isSafeInteger(m.seq)) return;
  let room = state.rooms.get(m.room);
  if (!room || (!room.joined && !room.joining)) {
    // Someone sent us a DM (the server joined us to the room), or a room we
    // only knew from the index: what came before is history.
    room = ensureRoom(m.room);
    room.wanted = true;
    room.joined = true;
    if (room.log.size === 0) room.log.anchor(m.seq - 1);
  }
  resolveOwn(m);
  const added = room.log.add([m]);
  if (added.length === 0) msgUI.refresh(room, m); // held from a send's ack: the event has the quote and mentions
  learnPeers(room, added);
  showAdded(room, added, { live: true });
  receipts.onMessage(room, added);
  notify.onMessages(room, added);
  fill(room);
}

function onPresence(p) {
  if (!p || typeof p.room !== 'string') return;
  const room = state.rooms.get(p.room);
  if (!room) return;
  if (p.action === 'joined') room.members.set(p.nickname.toLowerCase(), p.nickname);
  else if (p.action === 'left') room.members.delete(p.nickname.toLowerCase());
  else if (p.action === 'renamed' && p.from) {
    room.members.delete(p.from.toLowerCase());
    room.members.set(p.nickname.toLowerCase(), p.nickname);
  }
  if (!room.large) room.count = room.members.size;
  if (room.name === state.current) renderUsers();
  if (p.action !== 'left') renderRooms(); // a DM partner's spelling may be known now
}

// onMembers: a large room's count (no per-user presence there), or the
// whole list again when it became small (docs/protocol.md, Large rooms).
function onMembers(m) {
  if (!m || typeof m.room !== 'string' || !Number.isInteger(m.count)) return;
  const room = state.rooms.get(m.room);
  if (!room) return;
  room.count = m.count;
  room.large = !!m.large;
  if (!room.large && Array.isArray(m.nicknames)) {
    room.members = new Map(m.nicknames.filter((n) => typeof n === 'string').map((n) => [n.toLowerCase(), n]));
    room.moreMembers = false;
  }
  if (room.name === state.current) renderUsers();
}

// loadMoreMembers loads the next page of a large room's member list.
// Pages follow the server's order (nicknames folded for case and look-alike
// letters), not the page's: the next one starts after the last name the
// server listed.
async function loadMoreMembers(room) {
  const ack = await call('members', { room: room.name, after: room.membersAfter, limit: 100 });
  if (!ack.ok) {
    showNotice(errorText(ack.error));
    return;
  }
  const page = (ack.members || []).filter((n) => typeof n === 'string');
  for (const n of page) room.members.set(n.toLowerCase(), n);
  if (page.length) room.membersAfter = page.at(-1);
  room.moreMembers = !!ack.more && page.length > 0;
  if (room.name === state.current) renderUsers();
}

function onTyping(t) {
  if (!t || typeof t.room !== 'string' || !Array.isArray(t.nicknames)) return;
  const room = state.rooms.get(t.room);
  if (!room) return;
  room.typing = t.nicknames.filter((n) => typeof n === 'string');
  if (room.name === state.current) renderTyping();
}

// ---- sending ---------------------------------------------------------------

function submitMessage() {
  const box = $('text');
  const text = box.value;
  const room = state.rooms.get(state.current);
  if (!room || text.trim() === '') return;
  if (new TextEncoder().encode(text).length > state.limits.maxMessageBytes) {
    showNotice(`That message is too long (at most ${state.limits.maxMessageBytes} bytes).`);
    return;
  }
  const compose = msgUI.submit(text); // an edit, or the message this one answers
  if (compose.handled) {
    box.value = '';
    stopTyping();
    return;
  }
  const item = { clientId: nextClientId(), room: room.name, to: isDM(room.name) ? room.peer : '', text, replyTo: compose.replyTo, state: 'pending', error: '', tries: 0 };
  state.outbox.push(item);
  box.value = '';
  stopTyping();
  renderPending(true);
  trySend(item);
}

async function trySend(item) {
  if (!state.ready || item.inflight) return;
  item.inflight = true;
  item.tries++;
  const reply = item.replyTo ? { replyTo: item.replyTo } : {};
  const ack = item.to
    ? await call('dm', { to: item.to, text: item.text, clientId: item.clientId, ...reply })
    : await call('send', { room: item.room, text: item.text, clientId: item.clientId, ...reply });
  item.inflight = false;
  if (!state.outbox.includes(item)) return; // its message event came first
  if (ack.ok) {
    // Until its message event comes (with its quote and mentions), the
    // ack's message: a reply shows its quote from what the page holds.
    const m = { id: ack.id, room: ack.room || item.room, seq: ack.seq, from: state.nickname, text: item.text, clientId: item.clientId, ts: ack.ts };
    resolveOwn(m);
    const room = ensureRoom(m.room);
    showAdded(room, room.log.add([m]), { live: false });
    return;
  }
  const code = ack.error && ack.error.code;
  if ((code === 'timeout' || code === 'not_connected' || code === 'unavailable') && (!state.ready || item.tries < 5)) {
    // Stays pending; sent again (same clientId) now or once the session is
    // back. A server that keeps failing while connected ends as "failed".
    if (state.ready) setTimeout(() => trySend(item), 1000);
    return;
  }
  if (code === 'rate_limited' && item.tries < 5) {
    setTimeout(() => trySend(item), 1000);
    return;
  }
  item.state = 'failed';
  item.error = errorText(ack.error);
  renderPending(false);
}

function resolveOwn(m) {
  if (!m.clientId || !m.from || m.from.toLowerCase() !== state.nickname.toLowerCase()) return;
  const i = state.outbox.findIndex((it) => it.clientId === m.clientId);
  if (i < 0) return;
  state.outbox.splice(i, 1);
  renderPending(false);
}

function sendTyping(room, typing) {
  if (state.ready && state.socket) state.socket.volatile.emit('typing', { room, typing });
}

function onInput() {
  const text = $('text').value;
  if (text.trim() === '') {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (state.typingRoom !== state.current || now - state.typingSentAt > TYPING_REFRESH_MS) {
    if (state.typingRoom && state.typingRoom !== state.current) sendTyping(state.typingRoom, false);
    state.typingRoom = state.current;
    state.typingSentAt = now;
    sendTyping(state.current, true);
  }
  clearTimeout(state.typingIdle);
  state.typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingIdle);
  if (state.typingRoom) sendTyping(state.typingRoom, false);
  state.typingRoom = '';
  state.typingSentAt = 0;
}

// ---- rendering -------------------------------------------------------------

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function avatar(nick, extra) {
  const a = el('span', `avatar${extra ? ` ${extra}` : ''}`, initials(nick));
  // CSSOM, not a style attribute: the CSP forbids inline styles.
  a.style.setProperty('--hue', String(hue(nick)));
  a.setAttribute('aria-hidden', 'true');
  return a;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function messageNode(m, roomName = m.room) {
  const mine = m.from.toLowerCase() === state.nickname.toLowerCase();
  const li = el('li', mine ? 'msg mine' : 'msg');
  li.dataset.seq = String(m.seq);
  li.appendChild(avatar(m.from));
  const body = el('div', 'msg-body');
  const meta = el('div', 'msg-meta');
  meta.appendChild(el('span', 'msg-from', m.from));
  const when = el('time', 'msg-time', Number.isFinite(m.ts) ? timeFmt.format(m.ts) : '');
  if (Number.isFinite(m.ts)) {
    when.dateTime = new Date(m.ts).toISOString();
    when.title = dateFmt.format(m.ts);
  }
  meta.appendChild(when);
  body.appendChild(meta);
  msgUI.fill(li, body, m, roomName); // quote, text with links and mentions, file, reactions, actions
  li.appendChild(body);
  return li;
}

function regroup(li, room) {
  if (!li) return;
  const m = room.log.bySeq.get(Number(li.dataset.seq));
  const prevLi = li.previousElementSibling;
  const prev = prevLi && room.log.bySeq.get(Number(prevLi.dataset.seq));
  li.classList.toggle('cont', groupWith(prev, m));
}

function nearBottom(sc) {
  return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80;
}

// showAdded puts new messages of a room on screen (if it is the one shown)
// and counts unread ones otherwise.
function showAdded(room, added, { live }) {
  if (added.length === 0) return;
  if (room.name !== state.current) {
    if (live) {
      room.unread += added.filter((m) => m.from.toLowerCase() !== state.nickname.toLowerCase()).length;
      renderRooms();
    }
    return;
  }
  const sc = $('scroller');
  const list = $('messages');
  const stick = nearBottom(sc) || added.some((m) => m.from.toLowerCase() === state.nickname.toLowerCase() && live);
  const firstShown = list.firstElementChild ? Number(list.firstElementChild.dataset.seq) : Infinity;
  const prepending = added[added.length - 1].seq < firstShown && list.firstElementChild;
  const oldHeight = sc.scrollHeight;
  const oldTop = sc.scrollTop;
  for (const m of added) {
    const li = messageNode(m);
    let after = list.lastElementChild;
    while (after && Number(after.dataset.seq) > m.seq) after = after.previousElementSibling;
    list.insertBefore(li, after ? after.nextElementSibling : list.firstElementChild);
    regroup(li, room);
    regroup(li.nextElementSibling, room);
  }
  if (prepending) sc.scrollTop = oldTop + (sc.scrollHeight - oldHeight);
  else if (stick) sc.scrollTop = sc.scrollHeight;
  if (!document.hidden) markSeen(room);
  receipts.renderSeen();
  renderOlder();
  renderTitle();
}

function renderMessages() {
  const list = $('messages');
  const room = state.rooms.get(state.current);
  list.setAttribute('aria-busy', 'true');
  list.replaceChildren();
  if (room) {
    for (const m of room.log.sorted()) {
      const li = messageNode(m);
      list.appendChild(li);
      regroup(li, room);
    }
    markSeen(room);
  }
  receipts.renderSeen();
  list.removeAttribute('aria-busy');
  renderPending(true);
  onRoomShown();
  const sc = $('scroller');
  sc.scrollTop = sc.scrollHeight;
  renderOlder();
}

function renderPending(scroll) {
  const list = $('pending');
  list.replaceChildren();
  for (const item of state.outbox) {
    if (item.room !== state.current) continue;
    const li = el('li', `msg mine cont ${item.state}`);
    li.appendChild(avatar(state.nickname));
    const body = el('div', 'msg-body');
    body.appendChild(el('p', 'msg-text', item.text));
    const status = el('p', 'msg-status', item.state === 'failed' ? `Not sent: ${item.error}` : 'Sending…');
    if (item.state === 'failed') {
      const retry = el('button', 'link-button', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => {
        item.state = 'pending';
        item.tries = 0;
        renderPending(false);
        trySend(item);
      });
      const drop = el('button', 'link-button', 'Discard');
      drop.type = 'button';
      drop.addEventListener('click', () => {
        state.outbox.splice(state.outbox.indexOf(item), 1);
        renderPending(false);
      });
      status.append(' ', retry, ' ', drop);
    }
    body.appendChild(status);
    li.appendChild(body);
    list.appendChild(li);
  }
  if (scroll) {
    const sc = $('scroller');
    sc.scrollTop = sc.scrollHeight;
  }
}

function renderOlder() {
  const room = state.rooms.get(state.current);
  const log = room && room.log;
  const btn = $('load-older');
  btn.hidden = !log || !log.hasOlder;
  btn.disabled = !!room && room.loadingOlder;
  btn.textContent = room && room.loadingOlder ? 'Loading…' : 'Load older messages';
  $('history-start').hidden = !room || !room.joined || log.hasOlder;
}

function roomItem(room, label, lead) {
  const li = el('li');
  const b = el('button', 'side-item');
  b.type = 'button';
  b.dataset.room = room.name;
  if (room.name === state.current) b.setAttribute('aria-current', 'page');
  b.appendChild(lead);
  b.appendChild(el('span', 'side-label', label));
  if (room.unread > 0 && room.name !== state.current) {
    const badge = el('span', room.mentions > 0 ? 'badge mention' : 'badge', badgeText(room.unread, room.mentions));
    badge.setAttribute('aria-label', `${room.unread} unread${room.mentions > 0 ? `, ${room.mentions} mentioning you` : ''}`);
    b.appendChild(badge);
  }
  b.addEventListener('click', () => switchRoom(room.name));
  li.appendChild(b);
  return li;
}

function renderRooms() {
  const pub = [...state.rooms.values()].filter((r) => !isDM(r.name))
    .sort((a, b) => (a.name === state.defaultRoom ? -1 : b.name === state.defaultRoom ? 1 : a.name.localeCompare(b.name)));
  $('room-list').replaceChildren(...pub.map((r) => roomItem(r, r.name, el('span', 'hash', '#'))));
  for (const r of state.rooms.values()) {
    if (isDM(r.name) && r.peer === r.peer.toLowerCase()) r.peer = knownCase(r.peer) || r.peer;
  }
  const dms = [...state.rooms.values()].filter((r) => isDM(r.name)).sort((a, b) => a.peer.localeCompare(b.peer));
  $('dm-list').replaceChildren(...dms.map((r) => roomItem(r, r.peer, avatar(r.peer, 'small'))));
  $('dm-empty').hidden = dms.length > 0;
  const dl = $('known-rooms');
  dl.replaceChildren(...[...state.known].filter((n) => !state.rooms.has(n)).sort().map((n) => {
    const o = document.createElement('option');
    o.value = n;
    return o;
  }));
  renderTitle();
}

function renderUsers() {
  const room = state.rooms.get(state.current);
  const me = state.nickname.toLowerCase();
  const names = room ? [...room.members.values()] : [];
  names.sort((a, b) => (a.toLowerCase() === me ? -1 : b.toLowerCase() === me ? 1 : a.localeCompare(b, undefined, { sensitivity: 'base' })));
  $('user-list').replaceChildren(...names.map((n) => {
    const li = el('li');
    const isMe = n.toLowerCase() === me;
    const b = el('button', 'side-item user');
    b.type = 'button';
    b.dataset.nick = n;
    b.appendChild(avatar(n, 'small'));
    b.appendChild(el('span', 'side-label', n));
    if (isMe) {
      b.appendChild(el('span', 'you', 'you'));
      b.disabled = true;
    } else {
      b.title = `Message ${n}`;
      b.setAttribute('aria-label', `Send a direct message to ${n}`);
      b.addEventListener('click', () => openDM(n));
    }
    li.appendChild(b);
    return li;
  }));
  const count = room ? Math.max(room.count, names.length) : 0;
  if (room && room.moreMembers) {
    const li = el('li');
    const b = el('button', 'side-item more-members', `Show more (${count - names.length} not listed)`);
    b.type = 'button';
    b.addEventListener('click', () => loadMoreMembers(room));
    li.appendChild(b);
    $('user-list').appendChild(li);
  }
  $('user-count').textContent = count ? count.toLocaleString() : '';
  $('room-sub').textContent = room && !isDM(room.name) ? `${count.toLocaleString()} online` : (room && room.members.has(room.peer.toLowerCase()) ? 'online' : '');
}

function renderTyping() {
  const room = state.rooms.get(state.current);
  $('typing').textContent = room ? typingText(room.typing, state.nickname) : '';
}

function renderRoom() {
  const room = state.rooms.get(state.current);
  $('room-title').textContent = room ? room.title : '';
  $('leave').hidden = !room || room.name === state.defaultRoom;
  $('text').placeholder = room ? `Message ${room.title}` : 'Message';
  renderUsers();
  renderTyping();
  renderOlder();
}

function renderTitle() {
  let total = 0;
  for (const r of state.rooms.values()) if (r.name !== state.current) total += r.unread;
  document.title = total > 0 ? `(${total}) Banter` : 'Banter';
}

function renderMe() {
  $('me-name').textContent = state.nickname;
  const a = avatar(state.nickname, 'small');
  a.id = 'me-avatar';
  $('me-avatar').replaceWith(a);
}

function renderAll() {
  renderMe();
  renderRooms();
  renderRoom();
  renderMessages();
}

function setConn(s, text) {
  const labels = { connected: 'Connected', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline' };
  $('conn').dataset.state = s;
  $('conn-text').textContent = text || labels[s];
  document.body.dataset.conn = s;
}

let noticeTimer = 0;
function showNotice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, 6000);
}

// ---- navigation ------------------------------------------------------------

function switchRoom(name) {
  if (!state.rooms.has(name)) ensureRoom(name);
  if (state.typingRoom && state.typingRoom !== name) stopTyping();
  state.current = name;
  const room = state.rooms.get(name);
  room.unread = 0;
  room.mentions = 0;
  msgUI.roomChanged();
  if (!isDM(name)) storage.set('localStorage', 'banter.room', name);
  renderRooms();
  renderRoom();
  renderMessages();
  setDrawer(false);
  if (!room.joined && state.ready) joinRoom(name);
  if (!window.matchMedia('(max-width: 760px)').matches) $('text').focus();
}

async function openDM(nick) {
  const name = dmRoom(state.nickname, nick);
  const room = ensureRoom(name);
  room.peer = nick;
  switchRoom(name);
}

// jumpTo shows message seq of a room (a search result, the original of a
// quote): the room is opened (joined if needed) and older pages are loaded
// until the message is there.
async function jumpTo(name, seq) {
  switchRoom(name);
  const room = state.rooms.get(name);
  const settle = () => new Promise((r) => { setTimeout(r, 100); });
  for (let i = 0; i < 200 && !room.log.bySeq.has(seq) && state.current === name; i++) {
    if (room.joining || room.loadingOlder || !state.ready) await settle();
    else if (!room.joined) await joinRoom(name);
    else if (room.log.hasOlder) await loadOlder(room);
    else break;
  }
  const li = $('messages').querySelector(`li[data-seq="${seq}"]`);
  if (!li || state.current !== name) {
    if (state.current === name) showNotice('That message is no longer there.');
    return;
  }
  li.scrollIntoView({ block: 'center' });
  li.classList.remove('flash');
  void li.offsetWidth; // restart the animation
  li.classList.add('flash');
  setTimeout(() => li.classList.remove('flash'), 2500);
}

function setDrawer(open) {
  document.body.classList.toggle('drawer-open', open);
  $('menu-button').setAttribute('aria-expanded', String(open));
  $('scrim').hidden = !open;
}

function signInText(code, message) {
  if (code === 'token_expired') return 'Your sign-in link has expired: open a fresh one from the application that sent you here.';
  if (code === 'unauthenticated') return 'This chat server requires signing in: open it from the link your application gives you.';
  return `Your sign-in link was refused${message ? ` (${message})` : ''}.`;
}

// takeJWT returns a sign-in token given in the URL fragment (#token=…,
// never sent to servers or logs) and removes it from the address bar; a
// token taken earlier in this tab is kept in sessionStorage.
function takeJWT() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const jwt = decodeURIComponent(m[1]);
    storage.set('sessionStorage', 'banter.jwt', jwt);
    history.replaceState(null, '', location.pathname + location.search);
    return jwt;
  }
  return storage.get('sessionStorage', 'banter.jwt', '');
}

function showLogin(error) {
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = error || '';
  const input = $('nickname');
  input.value = input.value || state.nickname || storage.get('localStorage', 'banter.nickname', '');
  $('login-button').disabled = false;
  input.focus();
  if (error) input.select();
}

function showChat() {
  $('login').hidden = true;
  $('chat').hidden = false;
  renderAll();
}

function signOut() {
  stop();
  stopTyping();
  storage.set('sessionStorage', `banter.token.${state.nickname.toLowerCase()}`, undefined);
  storage.set('localStorage', 'banter.nickname', undefined);
  state.rooms.clear();
  state.outbox = [];
  state.known.clear();
  state.everReady = false;
  state.token = '';
  state.jwt = '';
  storage.set('sessionStorage', 'banter.jwt', undefined);
  $('nickname').value = state.nickname;
  showLogin('');
}

// ---- wiring ----------------------------------------------------------------

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = $('nickname').value.trim();
    const problem = checkNickname(nick);
    if (problem) {
      $('login-error').textContent = problem;
      $('nickname').focus();
      return;
    }
    $('login-error').textContent = '';
    start(nick);
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    submitMessage();
  });
  const text = $('text');
  text.addEventListener('keydown', (e) => {
    if (msgUI.composerKey(e)) return; // ArrowUp edits one's last message, Esc cancels
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitMessage();
    }
  });
  text.addEventListener('input', onInput);
  text.addEventListener('blur', stopTyping);
  $('join-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('join-room');
    const name = canonicalRoom(input.value);
    if (!name) {
      $('join-error').textContent = 'Room names are 1–64 letters, digits, "-" or "_".';
      return;
    }
    $('join-error').textContent = '';
    input.value = '';
    const room = ensureRoom(name);
    room.wanted = true;
    persistRooms();
    switchRoom(name);
  });
  $('leave').addEventListener('click', () => leaveRoom(state.current));
  $('load-older').addEventListener('click', () => {
    const room = state.rooms.get(state.current);
    if (room) loadOlder(room);
  });
  $('scroller').addEventListener('scroll', () => {
    const room = state.rooms.get(state.current);
    if (room && $('scroller').scrollTop < 120) loadOlder(room);
  }, { passive: true });
  $('menu-button').addEventListener('click', () => setDrawer(!document.body.classList.contains('drawer-open')));
  $('scrim').addEventListener('click', () => setDrawer(false));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') setDrawer(false);
  });
  $('logout').addEventListener('click', signOut);
  document.addEventListener('visibilitychange', () => {
    const room = state.rooms.get(state.current);
    if (!document.hidden && room) {
      room.unread = 0;
      room.mentions = 0;
      markSeen(room);
      renderRooms();
    }
  });
  window.addEventListener('offline', () => {
    if (!state.ready) setConn('offline');
  });
  window.addEventListener('online', () => {
    if (state.socket && !state.socket.connected && !state.replaced) state.socket.connect();
  });

  initFiles({
    call, errorText, showNotice,
    ready: () => state.ready,
    current: () => state.current,
    title: () => (state.rooms.get(state.current) || { title: '' }).title,
    limits: () => state.limits,
    takeReply: (room) => msgUI.takeReply(room),
    addMessage(m) {
      const room = ensureRoom(m.room);
      showAdded(room, room.log.add([m]), { live: false });
    },
  });
  initSearch({ call, errorText, jumpTo, roomTitle: (name) => (isDM(name) ? ensureRoom(name).title : `#${name}`) });

  const ctx = {
    state, call, el, storage, isDM, showNotice, errorText, switchRoom, renderRooms,
    messageNode, attachmentNode, jumpTo, regroup: (li, room) => { regroup(li, room); regroup(li.nextElementSibling, room); },
    afterChange: (room) => { if (room.name === state.current) receipts.renderSeen(); },
  };
  msgUI.initMsgState(ctx);
  receipts.initReceipts(ctx);
  notify.initNotify(ctx);

  state.jwt = takeJWT();
  const saved = storage.get('localStorage', 'banter.nickname', '');
  if (state.jwt) start(''); // the token names the user
  else if (saved && !checkNickname(saved)) start(saved);
  else showLogin('');
  document.body.dataset.ready = '1';
}

// For tests and the curious: read-only views, plus the socket so a test can
// cut the connection and watch the catch-up.
window.banter = Object.freeze({
  get socket() { return state.socket; },
  get ready() { return state.ready; },
  get nickname() { return state.nickname; },
  get sessions() { return state.sessions; },
  seqs(room) { const r = state.rooms.get(room); return r ? r.log.sorted().map((m) => m.seq) : []; },
  message(room, seq) { const r = state.rooms.get(room); const m = r && r.log.bySeq.get(seq); return m ? JSON.parse(JSON.stringify(m)) : null; },
  roomState(room) { const r = state.rooms.get(room); return r ? { unread: r.unread, mentions: r.mentions, read: r.read, lastRev: r.lastRev } : null; },
});

init();
