#!/usr/bin/env node
// The Admin UI against Banter's chat product (banter --admin-ui): chat
// rooms are Socket.IO rooms, chat traffic shows as live events, the
// actions reach chat clients. The dashboard side is socket.io-client on
// /admin, the chat clients speak protocol 1 (docs/protocol.md).
//
// Usage: node product.js URL [URL2]
// With URL2 (another node of the same cluster), a chat client connects
// there and the dashboard on URL must see and act on it.
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, emitAck, same, truthy } = require('../interop/lib.js');

const other = (process.argv[3] || '').replace(/\/$/, '') || null;
const LOGIN_MS = 30000;

function recorder(socket) {
  const log = [];
  const waiters = new Set();
  socket.onAny((event, ...args) => {
    log.push({ event, args });
    for (const w of waiters) w();
  });
  return {
    log,
    next(event, pred = () => true, ms = 8000) {
      const find = () => log.find((e) => e.event === event && pred(...e.args));
      return new Promise((resolve, reject) => {
        const w = () => {
          const h = find();
          if (h) { waiters.delete(w); clearTimeout(timer); resolve(h.args); }
        };
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no matching "${event}" within ${ms} ms`)); }, ms);
        waiters.add(w);
        w();
      });
    },
  };
}

async function chatClient(url, nickname, rooms) {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  await once(s, 'connect', { failOn: ['connect_error'] });
  const [res] = await emitAck(s, 'hello', { nickname, rooms });
  truthy(res && res.ok, `hello of ${nickname}: ${JSON.stringify(res)}`);
  return s;
}

scenario('admin-product', async (url, check) => {
  const admin = io(`${url}/admin`, { forceNew: true, reconnection: false, auth: { username: 'admin', password: 'changeit' } });
  const rec = recorder(admin);
  // A login checks a bcrypt hash: slow on a loaded machine (race detector).
  await once(admin, 'connect', { failOn: ['connect_error'], ms: LOGIN_MS });
  const [sessionId] = await rec.next('session');
  await rec.next('all_sockets');

  const alice = await chatClient(url, 'alice', ['lobby']);
  const bob = await chatClient(other || url, 'bob', ['lobby', 'random']);
  const [aliceSock] = await rec.next('socket_connected', (s) => s.id === alice.id);
  same(aliceSock.transport, 'websocket', 'transport');
  await rec.next('room_joined', (nsp, room, id) => nsp === '/' && room === 'lobby' && id === alice.id);
  await rec.next('room_joined', (nsp, room, id) => room === 'random' && id === bob.id);
  check('chat rooms joined by hello are Socket.IO rooms the dashboard sees (on every node)');

  const [joined] = await emitAck(alice, 'join', { room: 'kitchen' });
  truthy(joined.ok, 'join');
  await rec.next('room_joined', (nsp, room, id) => room === 'kitchen' && id === alice.id);
  const [left] = await emitAck(alice, 'leave', 'kitchen');
  truthy(left.ok, `leave: ${JSON.stringify(left)}`);
  await rec.next('room_left', (nsp, room, id) => room === 'kitchen' && id === alice.id);
  check('join and leave commands show as room_joined and room_left');

  const [sent] = await emitAck(alice, 'send', { room: 'lobby', text: 'hi all', clientId: 'c1' });
  truthy(sent.ok, 'send');
  const [, , recv] = await rec.next('event_received', (nsp, id, args) => id === alice.id && args[0] === 'send');
  same(recv[1].text, 'hi all', 'event_received args');
  for (const s of [alice, bob]) {
    const [, , args] = await rec.next('event_sent', (nsp, id, a) => id === s.id && a[0] === 'message');
    same(args[1].text, 'hi all', 'event_sent: the chat message to each member');
  }
  check('a chat message: event_received from its sender, event_sent to each member');

  const late = io(`${url}/admin`, { forceNew: true, reconnection: false, auth: { sessionId } });
  const [again] = await once(late, 'all_sockets', { failOn: ['connect_error'], ms: LOGIN_MS });
  late.close();
  const b = again.find((s) => s.id === bob.id);
  truthy(b && b.rooms.includes('lobby') && b.rooms.includes('random') && b.transport === 'websocket', `all_sockets: bob ${JSON.stringify(b)}`);
  check('all_sockets lists every node\'s chat sockets with their rooms');

  const news = Promise.all([once(alice, 'announcement'), once(bob, 'announcement')]);
  admin.emit('emit', '/', 'lobby', 'announcement', 'maintenance at noon');
  for (const [text] of await news) same(text, 'maintenance at noon', 'emit to a chat room');
  check('emit action to a chat room reaches its members');

  const gone = once(bob, 'disconnect');
  admin.emit('_disconnect', '/', false, bob.id);
  same((await gone)[0], 'io server disconnect', 'bob disconnected');
  check('_disconnect action');

  alice.close();
  admin.close();
}, { timeout: 120000 });
