#!/usr/bin/env node
// Cross-node chat: crossnode.js PROXY_URL NODE1_URL NODE2_URL NODE3_URL.
// Clients pinned to different nodes see each other's presence and messages
// (same ids and seqs everywhere, in order, once); a client through the
// round-robin proxy joins whichever node it lands on and gets the same.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, ok } = require('../e2e/chatlib');

const nodes = process.argv.slice(3);

const messages = (s) => s.events.filter((e) => e[0] === 'message').map((e) => e[1]);

scenario('crossnode', async (proxy, check) => {
  truthy(nodes.length === 3, 'usage: crossnode.js PROXY NODE1 NODE2 NODE3');
  const names = ['alice', 'bob', 'carol'];
  const socks = [];
  for (let i = 0; i < 3; i++) {
    const s = await connect(nodes[i]);
    await ok(s, 'hello', { nickname: names[i], rooms: ['general'] });
    socks.push(s);
  }
  // alice (node 1) hears bob (node 2) and carol (node 3) join.
  for (const who of ['bob', 'carol']) {
    await waitFor(socks[0], `alice sees ${who} join`, (e) => e[0] === 'presence' && e[1].nickname === who && e[1].action === 'joined');
  }
  check('presence events cross nodes');

  const acks = [];
  for (let i = 0; i < 3; i++) {
    acks.push(await ok(socks[i], 'send', { room: 'general', text: `hi from ${names[i]}`, clientId: `c${i}` }));
  }
  same(acks.map((a) => a.seq), [1, 2, 3], 'seqs assigned by the shared store, in send order');
  for (let i = 0; i < 3; i++) {
    await waitFor(socks[i], `${names[i]} gets message 3`, (e) => e[0] === 'message' && e[1].seq === 3);
    same(messages(socks[i]).map((m) => [m.seq, m.id, m.from, m.text]),
      acks.map((a, j) => [a.seq, a.id, names[j], `hi from ${names[j]}`]), `${names[i]}'s messages`);
  }
  check('every message reaches every node once, in order, with the same id and seq');

  // A newcomer through the proxy lands on any node and sees the same room.
  const d = await connect(proxy);
  const h = await ok(d, 'hello', { nickname: 'dave', rooms: ['general'] });
  same(h.rooms[0].lastSeq, 3, 'lastSeq seen through the proxy');
  same(h.rooms[0].messages.map((m) => m.id), acks.map((a) => a.id), 'history through the proxy');
  const a4 = await ok(socks[1], 'send', { room: 'general', text: 'welcome dave' });
  await waitFor(d, 'dave gets bob\'s message', (e) => e[0] === 'message' && e[1].id === a4.id && e[1].seq === 4);
  check('a client behind the round-robin proxy chats with the pinned ones');

  for (const s of [...socks, d]) s.disconnect();
});
