#!/usr/bin/env node
// Socket.IO v4 protocol over Engine.IO v3 with socket.io-client 2.5, once over
// polling upgraded to WebSocket, once over WebSocket only and once over
// polling only: the auth event ({} since v2 has no auth), message-back and
// acks with binary, whoami, the client-driven heartbeat, and the /custom
// namespace. Binary goes both ways
// in events and in acks both ways (client-initiated: BINARY_EVENT answered
// by BINARY_ACK; server-initiated: the server's BINARY_EVENT answered by the
// client's BINARY_ACK), on "/" and "/custom".
'use strict';

const io = require('socket.io-client-v2');
const { scenario, once, times, emitAck, same, truthy } = require('./lib');

const MODES = [
  { name: 'upgrade', transports: ['polling', 'websocket'] },
  { name: 'websocket', transports: ['websocket'] },
  // Binary over EIO3 long-polling: base64 packets inside text payloads.
  { name: 'polling', transports: ['polling'] },
];

// connect waits for the connection and its auth event; the auth wait starts
// with the handshake, so it gets the connect's time too (a loaded machine).
async function connect(url, transports) {
  const sock = io(url, { forceNew: true, reconnection: false, transports });
  const where = `${url} over ${transports.join('+')}`;
  const auth = once(sock, 'auth', { ms: 15000 });
  auth.catch(() => {}); // awaited below, unless the connect fails first
  await once(sock, 'connect', { failOn: ['connect_error', 'error'], ms: 15000 }).catch((e) => { throw new Error(`${where}: ${e.message}`); });
  sock.authEvent = (await auth.catch((e) => { throw new Error(`${where}, connected: ${e.message}`); }))[0];
  return sock;
}

// serverAck has the server emit server-ack (binary, with an ack request);
// the client answers with binary and the server reports the answer back in
// server-ack-result.
async function serverAck(sock, what) {
  sock.once('server-ack', (...args) => {
    const ack = args.pop();
    truthy(typeof ack === 'function', `${what}: server-ack came without an ack callback`);
    same(args, ['q', Buffer.from([1, 255])], `${what}: server-ack arguments`);
    ack('r', { bin: Buffer.from([8, 0, 9]) }, ...args);
  });
  const result = once(sock, 'server-ack-result');
  sock.emit('request-server-ack', 'q', Buffer.from([1, 255]));
  same(await result, ['r', { bin: Buffer.from([8, 0, 9]) }, 'q', Buffer.from([1, 255])], `${what}: server-ack-result`);
}

async function runMode(url, mode, check) {
  const p = mode.name;
  const a = await connect(url, mode.transports);
  same(a.authEvent, {}, `${p}: auth event`);
  check(`${p}: connect + auth event`);

  if (mode.transports.length > 1 && a.io.engine.transport.name !== 'websocket') {
    await once(a.io.engine, 'upgrade', { failOn: ['upgradeError'] });
  }
  const want = mode.transports.includes('websocket') ? 'websocket' : 'polling';
  truthy(a.io.engine.transport.name === want, `${p}: transport ${a.io.engine.transport.name}, want ${want}`);
  check(`${p}: on ${want}`);

  const msg = ['v2', 3, { deep: [true, null] }, Buffer.from([1, 2, 255])];
  a.emit('message', ...msg);
  same(await once(a, 'message-back'), msg, `${p}: message-back`);
  check(`${p}: message-back with binary`);

  const ackArgs = [{ bin: Buffer.from([0, 9]) }, 'two'];
  same(await emitAck(a, 'message-with-ack', ...ackArgs), ackArgs, `${p}: message-with-ack`);
  check(`${p}: ack with binary`);

  await serverAck(a, p);
  check(`${p}: server-initiated ack with binary both ways`);

  const [me] = await emitAck(a, 'whoami');
  same({ nsp: me.nsp, engineId: me.engineId, transport: me.transport }, { nsp: '/', engineId: a.io.engine.id, transport: want }, `${p}: whoami`);
  truthy(me.query && me.query.EIO === '3', `${p}: whoami query ${JSON.stringify(me.query)}, want EIO=3`);
  check(`${p}: whoami`);

  // EIO3: the client pings every pingInterval (700 ms in the interop tests) and the server pongs.
  await times(a.io.engine, 'pong', 2, 3000);
  truthy(a.connected, `${p}: disconnected during heartbeats`);
  check(`${p}: heartbeats`);

  const c = await connect(`${url}/custom`, mode.transports);
  same(c.authEvent, {}, `${p}: /custom auth event`);
  const [meC] = await emitAck(c, 'whoami');
  same(meC.nsp, '/custom', `${p}: /custom whoami nsp`);
  c.emit('message', 'custom', Buffer.from([42]));
  same(await once(c, 'message-back'), ['custom', Buffer.from([42])], `${p}: /custom message-back`);
  same(await emitAck(c, 'message-with-ack', 'c'), ['c'], `${p}: /custom ack`);
  const ackC = ['c', { b: Buffer.from([3, 254]) }, [Buffer.from([]), Buffer.from([5])]];
  same(await emitAck(c, 'message-with-ack', ...ackC), ackC, `${p}: /custom ack with binary`);
  await serverAck(c, `${p}: /custom`);
  check(`${p}: /custom namespace (binary both ways, acks both ways)`);

  const gone = once(a, 'disconnect');
  a.close();
  same((await gone)[0], 'io client disconnect', `${p}: disconnect reason`);
  c.close();
  check(`${p}: disconnect`);
}

scenario('sio_v2_basic', async (url, check) => {
  for (const mode of MODES) await runMode(url, mode, check);
});
