// Helpers shared by the chat scenarios: clients of either socket.io-client
// version that record every event they receive, waits on those records, and
// acks of the chat protocol.
'use strict';

const { STEP_TIMEOUT, truthy } = require('../interop/lib');

const clients = {
  v4: () => require('socket.io-client'),
  v2: () => require('socket.io-client-v2'),
};

// connect opens a client and resolves once connected. Every event it
// receives is appended to sock.events as [name, ...args]; sock.disconnects
// collects disconnect reasons.
function connect(url, { version = 'v4', transports = ['websocket'] } = {}) {
  const io = clients[version]();
  const sock = io(url, { forceNew: true, reconnection: false, transports });
  sock.events = [];
  sock.disconnects = [];
  const names = ['message', 'presence', 'members', 'typing', 'user', 'error', 'bye',
    'userList', 'userConnectUpdate', 'userExitUpdate', 'newChatMessage', 'userTypingUpdate', 'chat message'];
  for (const n of names) sock.on(n, (...args) => sock.events.push([n, ...args]));
  sock.on('disconnect', (reason) => sock.disconnects.push(reason));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect to ${url} within ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT);
    sock.once('connect', () => { clearTimeout(timer); resolve(sock); });
    sock.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// waitFor resolves with the first recorded event [name, ...args] of sock
// after index `from` that satisfies pred, polling sock.events.
function waitFor(sock, what, pred, { from = 0, ms = STEP_TIMEOUT } = {}) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      for (let i = from; i < sock.events.length; i++) {
        if (pred(sock.events[i])) { resolve(sock.events[i]); return; }
      }
      if (Date.now() - start > ms) {
        reject(new Error(`${what}: not received within ${ms} ms; got ${JSON.stringify(sock.events.slice(from)).slice(0, 2000)}`));
        return;
      }
      setTimeout(tick, 5);
    };
    tick();
  });
}

// until polls cond until true.
function until(what, cond, ms = STEP_TIMEOUT) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`${what}: not within ${ms} ms`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

// call emits event with args and an ack callback and resolves with the ack's
// single argument.
function call(sock, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT);
    sock.emit(event, ...args, (...reply) => {
      clearTimeout(timer);
      if (reply.length !== 1) reject(new Error(`ack of "${event}" has ${reply.length} arguments, want 1`));
      resolve(reply[0]);
    });
  });
}

// ok calls and checks the ack is a success.
async function ok(sock, event, ...args) {
  const a = await call(sock, event, ...args);
  truthy(a && a.ok === true, `${event} ${JSON.stringify(args)}: ack ${JSON.stringify(a)}, want ok`);
  return a;
}

// fails calls and checks the ack is {ok:false, error:{code, message}}.
async function fails(sock, code, event, ...args) {
  const a = await call(sock, event, ...args);
  truthy(a && a.ok === false && a.error && a.error.code === code && typeof a.error.message === 'string' && a.error.message.length > 0,
    `${event} ${JSON.stringify(args).slice(0, 200)}: ack ${JSON.stringify(a)}, want error ${code}`);
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { connect, waitFor, until, call, ok, fails, sleep };
