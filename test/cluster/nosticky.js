#!/usr/bin/env node
// No sticky sessions: nosticky.js PROXY_URL.
// PROXY balances HTTP requests, not connections, and never sends a request
// that names a session to the node owning it: every long-poll, every POST
// and every WebSocket upgrade of a session reaches a node that must
// forward it. Polling-only clients chat through it; then a client upgrades
// to WebSocket through it and chats both ways.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, ok, until } = require('../e2e/chatlib');

const messages = (s) => s.events.filter((e) => e[0] === 'message' && e[1].room === 'general').map((e) => e[1]);
const PER = 5;

scenario('nosticky', async (proxy, check) => {
  const names = ['alice', 'bob', 'carol'];
  const socks = [];
  for (const n of names) {
    const s = await connect(proxy, { transports: ['polling'] });
    const h = await ok(s, 'hello', { nickname: n, rooms: ['general'] });
    socks.push(s);
    same(h.rooms[0].members, names.slice(0, socks.length), `${n}'s join members`);
  }
  check('polling-only clients connect through the balancer; join results list members on every node');

  const acks = [];
  await Promise.all(socks.map(async (s, i) => {
    for (let k = 0; k < PER; k++) {
      acks.push(await ok(s, 'send', { room: 'general', text: `${names[i]} #${k}`, clientId: `${names[i]}-${k}` }));
    }
  }));
  const total = names.length * PER;
  const seqs = acks.map((a) => a.seq).sort((x, y) => x - y);
  same(seqs, Array.from({ length: total }, (_, i) => i + 1), 'acked seqs');
  const idOf = new Map(acks.map((a) => [a.seq, a.id]));
  for (let i = 0; i < socks.length; i++) {
    await until(`${names[i]} has ${total} messages`, () => messages(socks[i]).length >= total, 10000);
    same(messages(socks[i]).map((m) => [m.seq, m.id]), seqs.map((q) => [q, idOf.get(q)]), `${names[i]}'s messages`);
  }
  check(`${total} messages sent concurrently over polling reach everyone once, in order`);

  const d = await connect(proxy, { transports: ['polling', 'websocket'] });
  await until('dave upgraded to WebSocket', () => d.io.engine.transport.name === 'websocket', 10000);
  const h = await ok(d, 'hello', { nickname: 'dave', rooms: ['general'] });
  same(h.rooms[0].lastSeq, total, "dave's lastSeq");
  same(h.rooms[0].members, ['alice', 'bob', 'carol', 'dave'], "dave's members");
  const a = await ok(socks[0], 'send', { room: 'general', text: 'hi dave' });
  await waitFor(d, 'dave gets alice\'s message', (e) => e[0] === 'message' && e[1].id === a.id && e[1].seq === total + 1);
  const b = await ok(d, 'send', { room: 'general', text: 'hi all' });
  for (let i = 0; i < socks.length; i++) {
    await waitFor(socks[i], `${names[i]} gets dave's message`, (e) => e[0] === 'message' && e[1].id === b.id && e[1].seq === total + 2);
  }
  truthy(d.io.engine.transport.name === 'websocket', 'dave is still on WebSocket');
  check('a client upgraded to WebSocket through the balancer (tunnelled by another node) chats both ways');

  const sids = { polling: socks.map((s) => s.io.engine.id), upgraded: d.io.engine.id };
  for (const s of [...socks, d]) s.disconnect();
  return { result: sids };
});
