#!/usr/bin/env node
// Broadcast with acknowledgements and a timeout, with socket.io-client 4.8
// over polling and over WebSocket: the server's multi-ack(room, timeoutMs)
// does io.to(room).timeout(timeoutMs).emitWithAck("ask", room) and acks the
// caller with {err, responses}. Three clients share a room; two answer "ask"
// (one with binary), one never does: the caller gets "operation has timed
// out" with the two answers. Also: everyone answers (no error), an empty
// room (no error, no answers) and bad arguments (a clear error).
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, emitAck, same, truthy } = require('./lib');

const MODES = [
  { name: 'polling', transports: ['polling'] },
  { name: 'websocket', transports: ['websocket'] },
];

// The broadcast's own timeout is short so the scenario stays quick; the ack
// that reports it may still be late on a loaded machine.
const ASK_TIMEOUT_MS = 1500;
const REPLY_WAIT_MS = 20000;

async function connect(url, transports) {
  const sock = io(url, { forceNew: true, reconnection: false, transports });
  await once(sock, 'connect', { failOn: ['connect_error'], ms: 15000 });
  return sock;
}

// multiAck asks the server for a broadcast with acks and resolves with its
// report, answers sorted by sender (they arrive in any order).
function multiAck(sock, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no multi-ack reply within ${REPLY_WAIT_MS} ms`)), REPLY_WAIT_MS);
    sock.emit('multi-ack', ...args, (rep) => {
      clearTimeout(timer);
      if (rep && Array.isArray(rep.responses)) rep.responses.sort((x, y) => String(x && x.from).localeCompare(String(y && y.from)));
      resolve(rep);
    });
  });
}

async function runMode(url, mode, check) {
  const p = mode.name;
  const room = `multi-${p}-${process.pid}`;
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => connect(url, mode.transports)));

  // a and b answer (b with binary); c logs the question and never answers.
  a.on('ask', (r, ack) => ack({ from: 'a', room: r }));
  b.on('ask', (r, ack) => ack({ from: 'b', bin: Buffer.from([7, 8, 255]) }));
  const cAsked = [];
  c.on('ask', (...args) => cAsked.push(args));
  const answerA = { from: 'a', room };
  const answerB = { from: 'b', bin: Buffer.from([7, 8, 255]) };

  for (const s of [a, b]) same(await emitAck(s, 'join', room), [true], `${p}: join`);

  // Everyone in the room answers: no error, both answers.
  same(await multiAck(a, room, 10000), { err: null, responses: [answerA, answerB] }, `${p}: all answered`);
  check(`${p}: multi-ack, all answered (binary answer kept)`);

  // c joins and stays silent: the timeout ends the wait with the answers so far.
  same(await emitAck(c, 'join', room), [true], `${p}: join`);
  same(await multiAck(a, room, ASK_TIMEOUT_MS), { err: 'operation has timed out', responses: [answerA, answerB] }, `${p}: one silent`);
  same(cAsked.length, 1, `${p}: asks seen by the silent client`);
  same(cAsked[0].slice(0, 1), [room], `${p}: ask arguments`);
  truthy(typeof cAsked[0][1] === 'function', `${p}: the silent client's ask came without an ack request`);
  check(`${p}: multi-ack timeout with the answers that came`);

  // A room nobody is in: nothing to wait for.
  same(await multiAck(b, `${room}-empty`, 10000), { err: null, responses: [] }, `${p}: empty room`);
  check(`${p}: multi-ack to an empty room`);

  const bad = await multiAck(a, room, 'soon');
  truthy(bad && typeof bad.err === 'string' && bad.err.startsWith('multi-ack:') && Array.isArray(bad.responses) && bad.responses.length === 0,
    `${p}: bad arguments: got ${JSON.stringify(bad)}`);
  check(`${p}: multi-ack refuses bad arguments`);

  for (const s of [a, b, c]) s.disconnect();
}

scenario('sio_v4_multiack', async (url, check) => {
  for (const mode of MODES) await runMode(url, mode, check);
}, { timeout: 60000 });
