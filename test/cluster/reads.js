#!/usr/bin/env node
// Read state and message state across a cluster: reads.js NODE1 NODE2 NODE3 JWT.
// Alice (a verified user, JWT) has a laptop on node 1 and a phone on node 2;
// Bob is on node 3. Alice's read marker, set on one device, reaches the
// other device on another node at once (read event, unread counts), and
// Bob hears it (coalesced); edits and reactions cross nodes; the phone, cut
// off and back on another node, catches up with the final state.
'use strict';

const io = require('socket.io-client');
const { scenario, same, truthy } = require('../interop/lib');
const { waitFor, ok } = require('../e2e/chatlib');

const [n1, n2, n3, jwt] = process.argv.slice(2);
const EVENTS = ['message', 'presence', 'read', 'edited', 'reaction', 'deleted', 'bye', 'error'];

function connect(url, auth) {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], auth: auth || {} });
  sock.events = [];
  for (const n of EVENTS) sock.on(n, (...a) => sock.events.push([n, ...a]));
  return new Promise((resolve, reject) => {
    sock.once('connect', () => resolve(sock));
    sock.once('connect_error', reject);
  });
}

const general = (rooms) => rooms.rooms.find((r) => r.room === 'general');

scenario('reads', async (_, check) => {
  const laptop = await connect(n1, { token: jwt });
  const phone = await connect(n2, { token: jwt });
  const bob = await connect(n3);
  const hl = await ok(laptop, 'hello', { rooms: ['general'] });
  const hp = await ok(phone, 'hello', { rooms: ['general'] });
  same([hl.nickname, hp.nickname], ['Alice', 'Alice'], 'one user, two devices');
  await ok(bob, 'hello', { nickname: 'bob', rooms: ['general'] });
  const m1 = await ok(bob, 'send', { room: 'general', text: 'one' });
  const m2 = await ok(bob, 'send', { room: 'general', text: 'two, @Alice' });
  const m3 = await ok(bob, 'send', { room: 'general', text: 'three' });
  await waitFor(phone, 'the phone has message 3', (e) => e[0] === 'message' && e[1].seq === m3.seq);
  check('two devices on two nodes, a third user on a third');

  await ok(laptop, 'mark', { room: 'general', read: m1.seq });
  const [, own] = await waitFor(phone, 'the phone hears the laptop\'s marker', (e) => e[0] === 'read' && e[1].readers.some((r) => r.nickname === 'Alice' && r.read === m1.seq));
  same(own.room, 'general', 'read event room');
  same(general(await ok(phone, 'rooms')).read, { seq: m1.seq, delivered: m1.seq, unread: 2, mentions: 1 }, 'unread and mentions on the other device');
  await ok(laptop, 'mark', { room: 'general', read: m3.seq });
  await waitFor(phone, 'the phone hears the second marker', (e) => e[0] === 'read' && e[1].readers.some((r) => r.nickname === 'Alice' && r.read === m3.seq));
  same(general(await ok(phone, 'rooms')).read.unread, 0, 'nothing unread on the phone');
  check('a read marker set on node 1 reaches the same user\'s device on node 2 at once');

  await waitFor(bob, 'bob hears Alice\'s marker', (e) => e[0] === 'read' && e[1].readers.some((r) => r.nickname === 'Alice' && r.read === m3.seq));
  const seen = await ok(bob, 'seen', { room: 'general', seq: m3.seq });
  same([seen.count, seen.nicknames], [1, ['Alice']], 'seen by, cluster-wide');
  check('the room\'s members on node 3 hear it (coalesced); seen-by reads the shared store');

  await ok(bob, 'edit', { room: 'general', seq: m2.seq, text: 'two, edited, @Alice' });
  await waitFor(laptop, 'edited on node 1', (e) => e[0] === 'edited' && e[1].seq === m2.seq);
  await waitFor(phone, 'edited on node 2', (e) => e[0] === 'edited' && e[1].seq === m2.seq);
  await ok(phone, 'react', { room: 'general', seq: m1.seq, emoji: '👍' });
  const [, re] = await waitFor(bob, 'reaction on node 3', (e) => e[0] === 'reaction' && e[1].seq === m1.seq);
  same(re.reactions, [{ emoji: '👍', count: 1, users: ['Alice'] }], 'reaction across nodes');
  check('edits and reactions cross nodes');

  const jp = await ok(phone, 'join', 'general');
  phone.disconnect();
  await ok(bob, 'delete', { room: 'general', seq: m3.seq });
  await ok(laptop, 'react', { room: 'general', seq: m2.seq, emoji: '🎉' });
  const m4 = await ok(bob, 'send', { room: 'general', text: 'four' });
  const phone2 = await connect(n3, { token: jwt }); // back, on another node
  const h2 = await ok(phone2, 'hello', { since: { general: jp.lastSeq } });
  same(h2.rooms[0].messages.map((m) => m.seq), [m4.seq], 'the new message');
  const ch = await ok(phone2, 'changes', { room: 'general', after: jp.lastRev });
  same(ch.messages.map((m) => [m.seq, m.deleted ? 'deleted' : m.text, (m.reactions || []).map((r) => r.emoji)]),
    [[m3.seq, 'deleted', []], [m2.seq, 'two, edited, @Alice', ['🎉']]], 'the changes it missed, final state');
  truthy(general(await ok(phone2, 'rooms')).read.seq === m3.seq, 'the marker is the user\'s, on any node');
  check('a device back on another node catches up with the final state');

  for (const s of [laptop, bob, phone2]) s.disconnect();
});
