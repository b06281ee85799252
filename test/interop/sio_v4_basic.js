#!/usr/bin/env node
// Socket.IO v5 with socket.io-client 4.8 on namespace "/", once over polling
// upgraded to WebSocket and once over WebSocket only: auth echo as the first
// event, message/message-back, acks both ways (with binary), whoami, rooms,
// broadcast to others, heartbeats, and disconnects from either side as seen by
// a watcher.
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, times, emitAck, same, truthy } = require('./lib');

const MODES = [
  { name: 'upgrade', transports: ['polling', 'websocket'] },
  { name: 'websocket', transports: ['websocket'] },
];

// connect opens a new connection (never shared) that records every event it
// receives, in order, in sock.log.
async function connect(url, opts) {
  const sock = io(url, { forceNew: true, reconnection: false, ...opts });
  sock.log = [];
  sock.onAny((ev, ...args) => sock.log.push([ev, ...args]));
  await once(sock, 'connect', { failOn: ['connect_error'] });
  return sock;
}

// loggedBefore waits for `event` and returns what the socket logged before it.
async function loggedBefore(sock, event) {
  const start = sock.log.length;
  await once(sock, event);
  const seen = sock.log.slice(start);
  return seen.slice(0, seen.findIndex(([ev]) => ev === event));
}

// logged waits until sock.log holds entry at or after index from.
async function logged(sock, entry, from) {
  const want = JSON.stringify(entry);
  while (!sock.log.slice(from).some((e) => JSON.stringify(e) === want)) await once(sock, entry[0]);
}

async function runMode(url, mode, check) {
  const p = mode.name;
  const auth = { token: 'abc', n: 1, nested: { ok: true } };
  const a = await connect(url, { transports: mode.transports, auth, query: { room: 'lobby' } });
  if (a.log.length === 0) await once(a, 'auth');
  same(a.log[0], ['auth', auth], `${p}: first event after connect`);
  check(`${p}: auth event first`);

  if (mode.transports.length > 1 && a.io.engine.transport.name !== 'websocket') {
    await once(a.io.engine, 'upgrade', { failOn: ['upgradeError'] });
  }
  truthy(a.io.engine.transport.name === 'websocket', `${p}: transport ${a.io.engine.transport.name}, want websocket`);
  check(`${p}: on websocket`);

  const msg = [1, '2', { three: [3, null, true] }, Buffer.from([4, 5])];
  a.emit('message', ...msg);
  same(await once(a, 'message-back'), msg, `${p}: message-back`);
  check(`${p}: message-back`);

  const ackArgs = ['x', 42, Buffer.from([1, 2, 3]), { nested: Buffer.from([9]) }];
  same(await emitAck(a, 'message-with-ack', ...ackArgs), ackArgs, `${p}: message-with-ack`);
  check(`${p}: ack with binary`);

  const [me] = await emitAck(a, 'whoami');
  same(
    { id: me.id, nsp: me.nsp, engineId: me.engineId, transport: me.transport, auth: me.auth },
    { id: a.id, nsp: '/', engineId: a.io.engine.id, transport: 'websocket', auth },
    `${p}: whoami`,
  );
  truthy(me.query && me.query.room === 'lobby' && me.query.EIO === '4', `${p}: whoami query ${JSON.stringify(me.query)}`);
  check(`${p}: whoami`);

  // Server-initiated ack: the server emits server-ack with an ack, we answer,
  // it reports our answer back.
  a.once('server-ack', (...args) => {
    const ack = args.pop();
    truthy(typeof ack === 'function', `${p}: server-ack came without an ack callback`);
    ack('r', 8, ...args);
  });
  const result = once(a, 'server-ack-result');
  a.emit('request-server-ack', 'q', 7);
  same(await result, ['r', 8, 'q', 7], `${p}: server-ack-result`);
  check(`${p}: server-initiated ack`);

  // Heartbeats: the server pings every pingInterval (700 ms in the interop tests) and waits for the pong.
  await times(a.io.engine, 'ping', 2, 3000);
  truthy(a.connected, `${p}: disconnected during heartbeats`);
  check(`${p}: heartbeats`);

  const b = await connect(url, { transports: mode.transports });
  const tag = `${p}-${process.pid}`;
  const roomA = `a-${tag}`;
  const roomB = `b-${tag}`;
  same(await emitAck(a, 'join', roomA), [true], `${p}: join ack`);
  same(await emitAck(b, 'join', roomB), [true], `${p}: join ack`);
  a.emit('room-message', roomA, 'hi room');
  same(await once(a, 'room-message'), [roomA, 'hi room'], `${p}: room-message to own room`);
  // b is not in roomA: the roomB message sent after it must be the first
  // room-message b sees (one sender, so the server handles them in order).
  const bBefore = loggedBefore(b, 'room-message');
  const bGot = once(b, 'room-message');
  a.emit('room-message', roomB, 'for b');
  same(await bGot, [roomB, 'for b'], `${p}: room-message to other room`);
  same((await bBefore).filter(([ev]) => ev === 'room-message'), [], `${p}: room-message leaked to non-member`);
  check(`${p}: rooms`);

  same(await emitAck(a, 'leave', roomA), [true], `${p}: leave ack`);
  const aBefore = loggedBefore(a, 'chat message');
  a.emit('room-message', roomA, 'after leave');
  a.emit('chat message', 'flush');
  same((await aBefore).filter(([ev]) => ev === 'room-message'), [], `${p}: room-message after leave`);
  check(`${p}: leave`);

  const others = once(b, 'others-message');
  const aBefore2 = loggedBefore(a, 'chat message');
  const bFrom = b.log.length;
  a.emit('broadcast-others', 'to others');
  a.emit('chat message', 'to all');
  same(await others, ['to others'], `${p}: others-message`);
  same((await aBefore2).filter(([ev]) => ev === 'others-message'), [], `${p}: broadcast-others reached the sender`);
  await logged(b, ['chat message', 'to all'], bFrom);
  check(`${p}: broadcast`);

  // Disconnects, as seen by a watcher in "/".
  same(await emitAck(b, 'watch-disconnects'), [true], `${p}: watch-disconnects ack`);
  const aId = a.id;
  let peer = once(b, 'peer-disconnect');
  const aGone = once(a, 'disconnect');
  a.disconnect();
  same((await aGone)[0], 'io client disconnect', `${p}: client disconnect reason`);
  same(await peer, [{ id: aId, nsp: '/', reason: 'client namespace disconnect' }], `${p}: peer-disconnect (client)`);
  check(`${p}: client disconnect`);

  const c = await connect(url, { transports: mode.transports });
  const cId = c.id;
  peer = once(b, 'peer-disconnect');
  const cGone = once(c, 'disconnect');
  c.emit('server-disconnect', false);
  same((await cGone)[0], 'io server disconnect', `${p}: server disconnect reason`);
  same(await peer, [{ id: cId, nsp: '/', reason: 'server namespace disconnect' }], `${p}: peer-disconnect (server)`);
  check(`${p}: server disconnect`);

  b.disconnect();
}

scenario('sio_v4_basic', async (url, check) => {
  for (const mode of MODES) await runMode(url, mode, check);
});
