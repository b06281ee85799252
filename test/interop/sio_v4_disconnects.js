#!/usr/bin/env node
// Disconnect reasons with socket.io-client 4.8, as seen by the server (through
// a watcher socket: watch-disconnects / peer-disconnect) and by the client:
// client namespace disconnect, server namespace disconnect with and without
// closing the connection, and transport close (the client closes its
// Engine.IO connection).
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, emitAck, same } = require('./lib');

function connect(url, opts) {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts });
  return once(sock, 'connect', { failOn: ['connect_error'], ms: 15000 }).then(() => sock);
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

scenario('sio_v4_disconnects', disconnects);
