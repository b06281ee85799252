#!/usr/bin/env node
// Fan-out with socket.io-client 4.8 over WebSocket: 100 clients connected to
// "/", one of them sends 50 'chat message' events (the server re-emits each to
// every socket of "/"); every client must receive all 50 exactly once and in
// order. Then disconnect reasons, as seen by a watcher and by the clients:
// client namespace disconnect, server namespace disconnect (with and without
// closing the connection), transport close.
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, emitAck, same } = require('./lib');

const CLIENTS = 100;
const MESSAGES = 50;

function connect(url, opts) {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts });
  return once(sock, 'connect', { failOn: ['connect_error'], ms: 15000 }).then(() => sock);
}

async function fanout(url, check) {
  const socks = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url)));
  check(`${CLIENTS} clients connected`);
  // A final 'end' closes the stream: since one sender's events keep their
  // order, a client whose list at 'end' is exactly m0..m49 got each once.
  const want = [...Array.from({ length: MESSAGES }, (_, k) => `m${k}`), 'end'];
  const done = socks.map((sock, i) => new Promise((resolve, reject) => {
    const got = [];
    sock.on('chat message', (m) => {
      got.push(m);
      if (m === 'end') {
        try { same(got, want, `client ${i}: messages`); resolve(); } catch (e) { reject(e); }
      }
    });
  }));
  for (const m of want) socks[0].emit('chat message', m);
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('broadcasts not all delivered within 40 s')), 40000).unref());
  await Promise.race([Promise.all(done), timer]);
  check(`${CLIENTS} clients x ${MESSAGES} broadcasts, once each, in order`);
  socks.forEach((s) => s.disconnect());
}

async function disconnects(url, check) {
  const watcher = await connect(url);
  same(await emitAck(watcher, 'watch-disconnects'), [true], 'watch-disconnects ack');
  const seen = [];
  watcher.on('peer-disconnect', (d) => seen.push(d));
  const waitPeer = async (id, nsp) => {
    for (;;) {
      const hit = seen.find((d) => d.id === id && d.nsp === nsp);
      if (hit) return hit.reason;
      await once(watcher, 'peer-disconnect');
    }
  };
  const cases = [
    { name: 'client namespace disconnect', act: (s) => s.disconnect(), client: 'io client disconnect' },
    { name: 'server namespace disconnect', act: (s) => s.emit('server-disconnect', false), client: 'io server disconnect' },
    { name: 'server namespace disconnect', act: (s) => s.emit('server-disconnect', true), client: 'io server disconnect', label: 'server disconnect with close' },
    { name: 'transport close', act: (s) => s.io.engine.close(), client: 'io client disconnect' },
  ];
  for (const c of cases) {
    const s = await connect(url);
    const id = s.id;
    const clientReason = once(s, 'disconnect');
    c.act(s);
    const [cr] = await clientReason;
    same(await waitPeer(id, '/'), c.name, `${c.label || c.name}: server-side reason`);
    if (c.name !== 'transport close') same(cr, c.client, `${c.label || c.name}: client-side reason`);
    check(`disconnect: ${c.label || c.name}`);
  }
  watcher.disconnect();
}

scenario('sio_v4_fanout', async (url, check) => {
  await fanout(url, check);
  await disconnects(url, check);
}, { timeout: 80000 });
