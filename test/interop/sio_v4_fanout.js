#!/usr/bin/env node
// Fan-out with socket.io-client 4.8 over WebSocket: 100 clients connected to
// "/", one of them sends 50 'chat message' events (the server re-emits each to
// every socket of "/"); every client must receive all 50 exactly once and in
// order.
//
// Run it against a server with a production heartbeat (25 s / 20 s): with the
// official suites' 300/200 ms, 100 clients in one Node process on a busy
// two-core machine miss pong deadlines and get dropped by either server.
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, same } = require('./lib');

const CLIENTS = 100;
const MESSAGES = 50;

function connect(url, opts) {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts });
  return once(sock, 'connect', { failOn: ['connect_error'], ms: 15000 }).then(() => sock);
}

async function fanout(url, check) {
  // Connect in batches: 100 handshakes in one tick stall this process's
  // event loop past the suites' 500 ms heartbeat deadline on a busy machine.
  const socks = [];
  for (let i = 0; i < CLIENTS; i += 10) {
    socks.push(...await Promise.all(Array.from({ length: Math.min(10, CLIENTS - i) }, () => connect(url))));
  }
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
  // A client that drops out fails the run with its reason (with the suites'
  // 300/200 ms heartbeat, an overloaded machine can cause ping timeouts);
  // without this, all sockets gone would leave Node nothing to wait for and
  // it would exit 0 without a report.
  let timer;
  const failures = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('broadcasts not all delivered within 40 s')), 40000);
    socks.forEach((s, i) => s.on('disconnect', (r) => reject(new Error(`client ${i} disconnected during the fan-out: ${r}`))));
  });
  try {
    await Promise.race([Promise.all(done), failures]);
  } finally {
    clearTimeout(timer);
  }
  socks.forEach((s) => s.off('disconnect'));
  check(`${CLIENTS} clients x ${MESSAGES} broadcasts, once each, in order`);
  socks.forEach((s) => s.disconnect());
}

scenario('sio_v4_fanout', fanout, { timeout: 80000 });
