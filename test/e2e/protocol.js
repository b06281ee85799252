#!/usr/bin/env node
// Protocol 1 (docs/protocol.md) with socket.io-client 4: hello, join, send
// and its ack, duplicates, typing, dm, nick, leave, rooms, history paging,
// since, catch-up after a reconnect (exactly the missed messages, once),
// resume, and every class of bad input (answered by an error ack, or an
// "error" event without ack; the connection keeps working).
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, until, call, ok, fails, sleep } = require('./chatlib');

const isMsg = (room, seq) => (e) => e[0] === 'message' && e[1].room === room && (seq === undefined || e[1].seq === seq);

scenario('protocol', async (url, check) => {
  // --- hello ---
  const a = await connect(url, { transports: ['polling', 'websocket'] });
  await fails(a, 'not_connected', 'send', { room: 'general', text: 'too early' });
  await fails(a, 'not_connected', 'join', 'general');
  check('events before hello: not_connected');

  const h = await ok(a, 'hello', { nickname: ' Alice ', rooms: ['General'] });
  truthy(h.protocol === 1 && /^[0-9a-f]{16}$/.test(h.id) && /^[0-9a-f]{32}$/.test(h.token), `hello ack ids: ${JSON.stringify(h)}`);
  same(h.nickname, 'Alice', 'nickname trimmed');
  same(h.defaultRoom, 'general', 'defaultRoom');
  same(h.limits, { maxMessageBytes: 4096, pageLimit: 50, maxPageLimit: 200, typingTtlMs: 5000, rateBurst: 60, ratePerSecond: 10, maxRooms: 100 }, 'limits');
  same(h.rooms, [{ ok: true, room: 'general', members: ['Alice'], memberCount: 1, lastSeq: 0, messages: [], more: false }], 'hello join results');
  truthy(!('users' in h), 'no users without watchUsers');
  await waitFor(a, 'own presence', (e) => e[0] === 'presence' && e[1].nickname === 'Alice' && e[1].room === 'general');
  same(a.events.find((e) => e[0] === 'presence')[1], { room: 'general', nickname: 'Alice', action: 'joined' }, 'presence shape');
  check('hello: ack shape, canonical names, own presence');

  await fails(a, 'invalid_argument', 'hello', { nickname: 'Again' });
  check('second hello: invalid_argument');

  const b = await connect(url);
  await fails(b, 'nickname_taken', 'hello', { nickname: 'ALICE' });
  await fails(b, 'invalid_nickname', 'hello', { nickname: '   ' });
  await fails(b, 'invalid_nickname', 'hello', { nickname: 'a:b' });
  await fails(b, 'invalid_nickname', 'hello', { nickname: 'x'.repeat(33) });
  await fails(b, 'invalid_nickname', 'hello', {});
  await fails(b, 'invalid_argument', 'hello', { nickname: 5 });
  await fails(b, 'invalid_argument', 'hello', 'Bob');
  await fails(b, 'invalid_argument', 'hello');
  await fails(b, 'invalid_argument', 'hello', { nickname: 'Bob', rooms: 'general' });
  await fails(b, 'invalid_argument', 'hello', { nickname: 'Bob', since: { general: -1 } });
  await fails(b, 'invalid_argument', 'hello', { nickname: 'Bob', rooms: Array.from({ length: 51 }, (_, i) => `r${i}`) });
  check('hello: every bad input refused, nothing half-done');

  const hb = await ok(b, 'hello', { nickname: 'Bob', rooms: ['general', 'bad room!', 'dm:x:y'], watchUsers: true });
  same(hb.rooms.length, 3, 'one result per room');
  same(hb.rooms[0].members, ['Alice', 'Bob'], 'members');
  same([hb.rooms[1].ok, hb.rooms[1].room, hb.rooms[1].error.code], [false, 'bad room!', 'invalid_room'], 'bad room in hello');
  same([hb.rooms[2].ok, hb.rooms[2].error.code], [false, 'forbidden'], 'foreign DM room in hello');
  same(hb.users.map((u) => u.nickname), ['Alice', 'Bob'], 'users with watchUsers');
  truthy(hb.users.every((u) => typeof u.id === 'string' && typeof u.since === 'number'), 'user shape');
  await waitFor(a, 'Bob joined', (e) => e[0] === 'presence' && e[1].nickname === 'Bob' && e[1].action === 'joined');
  check('hello with rooms (partial failures) and watchUsers');

  // --- send, ack, message events, duplicates ---
  const s1 = await ok(a, 'send', { room: 'general', text: 'hello <b>world</b>', clientId: 'c-1' });
  truthy(s1.room === 'general' && s1.seq === 1 && typeof s1.id === 'string' && typeof s1.ts === 'number' && !('duplicate' in s1), `send ack ${JSON.stringify(s1)}`);
  const [, m1] = await waitFor(b, 'message 1 at Bob', isMsg('general', 1));
  same(m1, { id: s1.id, room: 'general', seq: 1, from: 'Alice', text: 'hello <b>world</b>', clientId: 'c-1', ts: s1.ts }, 'message shape');
  await waitFor(a, 'message 1 at its sender', isMsg('general', 1));
  const dup = await ok(a, 'send', { room: 'general', text: 'changed', clientId: 'c-1' });
  same(dup, { ok: true, id: s1.id, room: 'general', seq: 1, ts: s1.ts, duplicate: true }, 'duplicate ack');
  const s2 = await ok(a, 'send', { room: 'general', text: 'second' });
  await waitFor(b, 'message 2', isMsg('general', 2));
  same(b.events.filter(isMsg('general', 1)).length, 1, 'a duplicate is not delivered again');
  truthy(!('clientId' in b.events.find(isMsg('general', 2))[1]), 'no clientId when none was given');
  check('send: ack, message to all members once, duplicate clientId');

  // --- bad input on send ---
  await fails(a, 'not_member', 'send', { room: 'elsewhere', text: 'x' });
  await fails(a, 'invalid_room', 'send', { room: 'bad room!', text: 'x' });
  await fails(a, 'invalid_room', 'send', { text: 'x' });
  await fails(a, 'empty_message', 'send', { room: 'general', text: '' });
  await fails(a, 'empty_message', 'send', { room: 'general', text: ' \n\t ' });
  await fails(a, 'message_too_large', 'send', { room: 'general', text: 'é'.repeat(2049) });
  await fails(a, 'invalid_argument', 'send', { room: 'general', text: 'x', clientId: 'has space' });
  await fails(a, 'invalid_argument', 'send', { room: 'general', text: 5 });
  await fails(a, 'invalid_argument', 'send', { room: 'general' });
  await fails(a, 'invalid_argument', 'send', { room: ['general'], text: 'x' });
  await fails(a, 'invalid_argument', 'send', 'general');
  await fails(a, 'invalid_argument', 'send');
  await fails(a, 'invalid_argument', 'no-such-event', 1, 2);
  await fails(a, 'invalid_argument', 'chatMessage', 'Alice', 'wrong dialect');
  const before = a.events.length;
  a.emit('send', { room: 'nowhere', text: 'no ack' });
  const [, err] = await waitFor(a, 'error event', (e) => e[0] === 'error', { from: before });
  same(err, { code: 'not_member', message: err.message, event: 'send' }, 'error event shape');
  a.emit('bogus-without-ack');
  await waitFor(a, 'error event for an unknown event', (e) => e[0] === 'error' && e[1].event === 'bogus-without-ack', { from: before });
  const r = await ok(a, 'history', { room: 'general' });
  same(r.messages.map((m) => m.text), ['hello <b>world</b>', 'second'], 'nothing stored by failed sends');
  check('send: every bad input refused with its code; error event without ack; nothing stored');

  // --- typing ---
  let mark = b.events.length;
  a.emit('typing', { room: 'general', typing: true });
  const [, t1] = await waitFor(b, 'typing on', (e) => e[0] === 'typing', { from: mark });
  same(t1, { room: 'general', nicknames: ['Alice'] }, 'typing shape');
  mark = b.events.length;
  await ok(a, 'typing', { room: 'general', typing: false });
  const [, t2] = await waitFor(b, 'typing off', (e) => e[0] === 'typing', { from: mark });
  same(t2, { room: 'general', nicknames: [] }, 'typing cleared');
  await fails(a, 'not_member', 'typing', { room: 'elsewhere', typing: true });
  await fails(a, 'invalid_argument', 'typing', { room: 'general', typing: 'yes' });
  mark = a.events.length;
  a.emit('typing', { room: 'elsewhere', typing: true }); // lossy: no error without ack
  await ok(a, 'rooms');
  truthy(!a.events.slice(mark).some((e) => e[0] === 'error'), 'typing without ack reports nothing');
  check('typing: list on, off; errors only when acked');

  // --- dm ---
  const d = await ok(a, 'dm', { to: 'bob', text: 'psst', clientId: 'd-1' });
  same([d.room, d.seq], ['dm:alice:bob', 1], 'dm ack');
  const [, dmsg] = await waitFor(b, 'dm at Bob', isMsg('dm:alice:bob', 1));
  same([dmsg.from, dmsg.text], ['Alice', 'psst'], 'dm message');
  await fails(a, 'invalid_argument', 'dm', { to: 'ALICE', text: 'me' });
  await fails(a, 'invalid_nickname', 'dm', { to: '', text: 'x' });
  await fails(a, 'invalid_nickname', 'dm', { to: 'a:b', text: 'x' });
  const hd = await ok(b, 'history', { room: 'DM:Bob:Alice' });
  same([hd.room, hd.messages.length], ['dm:alice:bob', 1], 'dm history in any order and case');
  const c = await connect(url);
  await ok(c, 'hello', { nickname: 'Carol' });
  await fails(c, 'forbidden', 'history', { room: 'dm:alice:bob' });
  await fails(c, 'forbidden', 'join', 'dm:alice:bob');
  check('dm: delivered to an online recipient who had not joined; private');

  // --- nick ---
  mark = a.events.length;
  same(await ok(b, 'nick', 'Bobby'), { ok: true, nickname: 'Bobby' }, 'nick ack');
  const [, ren] = await waitFor(a, 'renamed', (e) => e[0] === 'presence' && e[1].action === 'renamed', { from: mark });
  same(ren, { room: 'general', nickname: 'Bobby', action: 'renamed', from: 'Bob' }, 'renamed presence');
  await fails(b, 'nickname_taken', 'nick', 'alice');
  await fails(b, 'invalid_nickname', 'nick', ' ');
  await fails(b, 'invalid_argument', 'nick', 42);
  check('nick: rename, presence, errors');

  // --- leave, rooms ---
  mark = a.events.length;
  same(await ok(b, 'leave', 'General'), { ok: true, room: 'general' }, 'leave ack');
  const [, left] = await waitFor(a, 'left', (e) => e[0] === 'presence' && e[1].action === 'left', { from: mark });
  same(left, { room: 'general', nickname: 'Bobby', action: 'left' }, 'left presence');
  await fails(b, 'not_member', 'leave', 'general');
  await fails(b, 'invalid_room', 'leave', '#x');
  await fails(b, 'invalid_argument', 'leave', { room: 'general' });
  const rooms = await ok(a, 'rooms');
  const gen = rooms.rooms.find((x) => x.room === 'general');
  truthy(gen && gen.lastSeq === 2 && gen.count === 2 && typeof gen.lastTs === 'number', `rooms: ${JSON.stringify(rooms)}`);
  truthy(rooms.rooms.some((x) => x.room === 'dm:alice:bob'), 'own DM room listed');
  truthy(!(await ok(c, 'rooms')).rooms.some((x) => x.room.startsWith('dm:')), 'others\' DM rooms not listed');
  check('leave and rooms');

  // --- history paging and since ---
  for (let i = 3; i <= 14; i++) await ok(c, 'join', 'general').then(() => ok(c, 'send', { room: 'general', text: `m${i}` }));
  let seen = [];
  let page = await ok(a, 'history', { room: 'general', limit: 5 });
  same(page.messages.map((m) => m.seq), [10, 11, 12, 13, 14], 'latest page');
  while (page.messages.length > 0) {
    seen = page.messages.map((m) => m.seq).concat(seen);
    page = await ok(a, 'history', { room: 'general', before: page.messages[0].seq, limit: 5 });
  }
  same(seen, Array.from({ length: 14 }, (_, i) => i + 1), 'paging backwards sees every message once');
  const since = await ok(a, 'since', { room: 'general', after: 3, limit: 4 });
  same(since.messages.map((m) => m.seq), [4, 5, 6, 7], 'since');
  const capped = await ok(a, 'join', { room: 'general', limit: 100000 });
  same([capped.lastSeq, capped.messages.length, capped.more], [14, 14, false], 'join page capped, fresh snapshot');
  const j2 = await ok(a, 'join', { room: 'general', after: 10 });
  same([j2.messages.map((m) => m.seq), j2.more], [[11, 12, 13, 14], false], 'join with after');
  await fails(a, 'invalid_argument', 'history', { room: 'general', before: -1 });
  await fails(a, 'invalid_argument', 'history', { room: 'general', limit: 'ten' });
  await fails(a, 'invalid_argument', 'since', { room: 'general', after: 1.5 });
  await fails(a, 'invalid_room', 'history', { room: '' });
  await fails(a, 'invalid_argument', 'join', { room: 5 });
  await fails(a, 'invalid_argument', 'join', { room: 'general', after: -3 });
  check('history pages backwards, since, join with limit/after; bad pages refused');

  // --- catch-up after a reconnect, then resume ---
  const r1 = await connect(url);
  const hr = await ok(r1, 'hello', { nickname: 'Rita', rooms: ['general'] });
  const last = hr.rooms[0].lastSeq;
  same(last, 14, 'Rita starts at 14');
  r1.disconnect();
  const missed = [];
  for (let i = 0; i < 3; i++) missed.push((await ok(c, 'send', { room: 'general', text: `missed ${i}` })).seq);
  const r2 = await connect(url);
  const hr2 = await ok(r2, 'hello', { nickname: 'Rita', since: { general: last } });
  same(hr2.rooms[0].messages.map((m) => m.seq), missed, 'catch-up returns exactly the missed messages');
  same([hr2.rooms[0].lastSeq, hr2.rooms[0].more], [17, false], 'catch-up lastSeq');
  await ok(c, 'send', { room: 'general', text: 'live' });
  await waitFor(r2, 'live message after catch-up', isMsg('general', 18));
  await sleep(50);
  same(r2.events.filter((e) => e[0] === 'message').map((e) => e[1].seq), [18], 'no missed message arrives twice');
  const r3 = await connect(url);
  await fails(r3, 'nickname_taken', 'hello', { nickname: 'rita', resume: 'wrong' });
  const hr3 = await ok(r3, 'hello', { nickname: 'rita', resume: hr2.token, since: { general: 18 } });
  same(hr3.rooms[0].messages, [], 'resumed session has nothing to catch up');
  const [, bye] = await waitFor(r2, 'bye replaced', (e) => e[0] === 'bye');
  same(bye, { reason: 'replaced' }, 'bye shape');
  await until('replaced socket disconnected', () => r2.disconnects.length > 0);
  same(r2.disconnects, ['io server disconnect'], 'replaced: server disconnect');
  check('catch-up after reconnect: exactly the missed messages once; resume replaces the old session with bye');

  // --- floods ---
  const f = await connect(url);
  await ok(f, 'hello', { nickname: 'Flood', rooms: ['flood'] });
  const codes = [];
  // The default bucket: a burst of 60, then 10 per second.
  for (let i = 0; i < 80; i++) {
    const res = await call(f, 'send', { room: 'flood', text: `f${i}` });
    codes.push(res.ok ? 'ok' : res.error.code);
  }
  truthy(codes.filter((x) => x === 'ok').length >= 60 && codes.includes('rate_limited'), `send flood: ${codes}`);
  const fh = await ok(f, 'history', { room: 'flood', limit: 200 });
  same(fh.messages.length, codes.filter((x) => x === 'ok').length, 'rate-limited messages are not stored');
  mark = f.events.length;
  for (let i = 0; i < 300; i++) f.emit('junk', i);
  await waitFor(f, 'rate_limited error for a request flood', (e) => e[0] === 'error' && e[1].code === 'rate_limited', { from: mark });
  await until('flooding client still served', () => f.connected);
  let served = false;
  for (let i = 0; i < 100 && !served; i++) {
    const res = await call(f, 'rooms');
    served = res.ok === true;
    if (!served) await sleep(50);
  }
  truthy(served && f.connected, 'after a flood the connection is served again');
  await ok(a, 'rooms');
  check('floods: rate_limited, nothing stored, connection and server keep working');

  for (const s of [a, b, c, r3, f]) s.disconnect();
});
