#!/usr/bin/env node
// The classic "chat message" dialect across nodes: classic.js NODE1 NODE2.
// Tutorial clients that only listen on node 1 (socket.io-client 4 and 2.5)
// hear the default room's messages sent on node 2 by a protocol 1 user, a
// classic guest and a REST client; the guest on node 2 hears node 1's.
'use strict';

const { scenario, same } = require('../interop/lib');
const { connect, ok, until } = require('../e2e/chatlib');

scenario('classic-cluster', async (node1, check) => {
  const node2 = process.argv[3].replace(/\/$/, '');
  const v4 = await connect(node1);
  const v2 = await connect(node1, { version: 'v2' });
  const pat = await connect(node2);
  await ok(pat, 'hello', { nickname: 'Pat', rooms: ['general'] });
  const guest = await connect(node2);
  check('listeners on node 1, senders on node 2');

  await ok(pat, 'send', { room: 'general', text: 'hi from node 2' });
  await ok(guest, 'chat message', 'a guest on node 2');
  const res = await fetch(node2 + '/api/v1/sessions', { method: 'POST', body: JSON.stringify({ nickname: 'rester' }) });
  const { token } = await res.json();
  const sent = await fetch(node2 + '/api/v1/rooms/general/messages', {
    method: 'POST', body: JSON.stringify({ text: 'REST on node 2' }), headers: { Authorization: `Bearer ${token}` },
  });
  same(sent.status, 201, 'REST post');
  const local = await connect(node1);
  await ok(local, 'chat message', 'a guest on node 1');

  const want = ['Pat: hi from node 2', 'a guest on node 2', 'rester: REST on node 2', 'a guest on node 1'];
  const heard = (s) => s.events.filter((e) => e[0] === 'chat message').map((e) => e[1]);
  for (const [s, who] of [[v4, 'v4 listener on node 1'], [v2, 'v2 listener on node 1'], [guest, 'guest on node 2']]) {
    await until(`${who} hears all four`, () => heard(s).length >= want.length);
    same(heard(s), want, `what the ${who} heard, in order, once each`);
  }
  check('every message of general reaches the classic clients of every node');

  for (const s of [v4, v2, pat, guest, local]) s.disconnect();
});
