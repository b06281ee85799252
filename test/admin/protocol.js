#!/usr/bin/env node
// The Admin UI's protocol, seen from the dashboard's side with the official
// socket.io-client: authentication and sessions, config, all_sockets,
// server_stats, the live events (socket_connected/updated/disconnected,
// room_joined/left, event_received/sent, binary included) and the actions
// (emit, join, leave, _disconnect). The same script runs against the Node
// reference (node_server.js) and Banter (admin_test.go); where they agree,
// Banter behaves like Node.
//
// Usage: node protocol.js http://HOST:PORT SERVER_ID
'use strict';

const { io } = require('socket.io-client');
const { scenario, once, emitAck, same, truthy, STEP_TIMEOUT } = require('../interop/lib.js');

const serverId = process.argv[3];
const FEATURES = ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS'];
// A login checks a bcrypt hash: slow on a loaded machine (race detector).
const LOGIN_MS = 30000;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// recorder keeps every event a socket receives, so a scenario can wait for
// one that matches, whatever came before it.
function recorder(socket) {
  const log = [];
  const waiters = [];
  socket.onAny((event, ...args) => {
    log.push({ event, args });
    for (const w of waiters.slice()) w();
  });
  return {
    log,
    // next waits for an event named event whose args satisfy pred (among
    // those recorded from index `from` on).
    async next(event, pred = () => true, { from = 0, ms = STEP_TIMEOUT } = {}) {
      const find = () => log.slice(from).find((e) => e.event === event && pred(...e.args));
      const hit = find();
      if (hit) return hit.args;
      return new Promise((resolve, reject) => {
        const w = () => {
          const h = find();
          if (h) { done(); resolve(h.args); }
        };
        const done = () => { clearTimeout(timer); waiters.splice(waiters.indexOf(w), 1); };
        const timer = setTimeout(() => {
          done();
          const seen = log.slice(from).filter((e) => e.event === event).map((e) => JSON.stringify(e.args)).slice(-5);
          reject(new Error(`no matching "${event}" within ${ms} ms (last ones: ${seen.join(' | ') || 'none'})`));
        }, ms);
        waiters.push(w);
      });
    },
  };
}

function connect(url, opts) {
  const s = io(url, { forceNew: true, reconnection: false, ...opts });
  return s;
}

scenario('admin-protocol', async (url, check) => {
  // --- authentication ----------------------------------------------------
  for (const auth of [undefined, { username: 'admin', password: 'wrong' }, { sessionId: 'nope' }]) {
    const bad = connect(`${url}/admin`, { auth });
    const [err] = await once(bad, 'connect_error', { ms: LOGIN_MS });
    same(err.message, 'invalid credentials', `refused login ${JSON.stringify(auth)}`);
    bad.close();
  }
  check('bad credentials refused');

  const admin = connect(`${url}/admin`, { auth: { username: 'admin', password: 'changeit' } });
  const rec = recorder(admin);
  await once(admin, 'connect', { failOn: ['connect_error'], ms: LOGIN_MS });
  const [sessionId] = await rec.next('session');
  truthy(typeof sessionId === 'string' && sessionId.length === 16, `session id ${sessionId}`);
  const [config] = await rec.next('config');
  same(config.supportedFeatures, FEATURES, 'supported features');
  const [initial] = await rec.next('all_sockets', () => true, { ms: LOGIN_MS });
  truthy(initial.some((s) => s.nsp === '/admin' && s.id === admin.id), 'all_sockets lists the dashboard itself');
  check('login, session, config, all_sockets');

  const again = connect(`${url}/admin`, { auth: { sessionId } });
  await once(again, 'connect', { failOn: ['connect_error'], ms: LOGIN_MS });
  again.close();
  check('session id accepted');

  const ctl = connect(`${url}/ctl`, { transports: ['websocket'] });
  await once(ctl, 'connect', { failOn: ['connect_error'] });
  const act = async (op, arg) => {
    const [res] = await emitAck(ctl, op, arg);
    truthy(res && res.ok, `ctl ${op}: ${JSON.stringify(res)}`);
  };

  // --- a socket connects ------------------------------------------------------
  const a = connect(url, {
    transports: ['websocket'], auth: { rooms: ['r1'], secret: 'not for the dashboard' },
    query: { q: '1' }, extraHeaders: { 'x-test': 'yes' },
  });
  await once(a, 'connect', { failOn: ['connect_error'] });
  const [sock, at] = await rec.next('socket_connected', (s) => s.id === a.id);
  same(sock.nsp, '/', 'socket_connected nsp');
  same(sock.transport, 'websocket', 'socket_connected transport');
  truthy(typeof sock.clientId === 'string' && sock.clientId.length === 12, `clientId ${sock.clientId}`);
  same([...sock.rooms].sort(), [a.id, 'r1'].sort(), 'socket_connected rooms');
  same(sock.data, {}, 'socket_connected data');
  const h = sock.handshake;
  same(Object.keys(h).sort(), ['address', 'headers', 'issued', 'query', 'secure', 'time', 'url', 'xdomain'], 'handshake fields (no auth)');
  same(h.headers['x-test'], 'yes', 'handshake header');
  same(h.query.q, '1', 'handshake query');
  same(h.query.transport, 'websocket', 'handshake query transport');
  truthy(typeof h.issued === 'number' && Math.abs(h.issued - Date.now()) < 60000, `issued ${h.issued}`);
  truthy(typeof h.time === 'string' && !Number.isNaN(Date.parse(h.time)), `time ${h.time}`);
  truthy(h.url.startsWith('/socket.io/?'), `url ${h.url}`);
  truthy(h.secure === false && h.xdomain === false, 'secure, xdomain');
  truthy(typeof h.address === 'string' && h.address.includes('127.0.0.1'), `address ${h.address}`);
  truthy(ISO.test(at), `timestamp ${at}`);
  await rec.next('room_joined', (nsp, room, id) => nsp === '/' && room === a.id && id === a.id);
  await rec.next('room_joined', (nsp, room, id) => nsp === '/' && room === 'r1' && id === a.id);
  check('socket_connected with transport, handshake, rooms');

  // --- rooms ------------------------------------------------------------------
  await act('join', { id: a.id, room: 'r2' });
  const [, , , joinedAt] = await rec.next('room_joined', (nsp, room, id) => nsp === '/' && room === 'r2' && id === a.id);
  truthy(ISO.test(joinedAt), `room_joined timestamp ${joinedAt}`);
  await act('leave', { id: a.id, room: 'r2' });
  await rec.next('room_left', (nsp, room, id) => nsp === '/' && room === 'r2' && id === a.id);
  check('room_joined, room_left');

  // --- events -------------------------------------------------------------------
  same(await emitAck(a, 'echo', 'hi', 42), ['hi', 42], 'echo ack');
  const [, , recvArgs, recvAt] = await rec.next('event_received', (nsp, id) => nsp === '/' && id === a.id);
  same(recvArgs, ['echo', 'hi', 42], 'event_received args (without the ack)');
  truthy(ISO.test(recvAt), `event_received timestamp ${recvAt}`);
  a.emit('bin', Buffer.from([9, 8]));
  const [, , binArgs] = await rec.next('event_received', (nsp, id, args) => args[0] === 'bin');
  same(binArgs, ['bin', Buffer.from([9, 8])], 'event_received binary');
  const greet = once(a, 'greet');
  await act('emit', { id: a.id, event: 'greet', args: ['x', { y: 1 }] });
  await greet;
  const [, , sentArgs] = await rec.next('event_sent', (nsp, id, args) => nsp === '/' && id === a.id && args[0] === 'greet');
  same(sentArgs, ['greet', 'x', { y: 1 }], 'event_sent args');
  await act('emitBinary', { id: a.id, event: 'bytes' });
  const [, , sentBin] = await rec.next('event_sent', (nsp, id, args) => args[0] === 'bytes');
  same(sentBin, ['bytes', 1, Buffer.from([1, 2, 3])], 'event_sent binary');
  check('event_received, event_sent (binary too)');

  // --- a polling socket upgrades; a broadcast is one event_sent per socket -----
  const b = connect(url, { auth: { rooms: ['r1'] } });
  await once(b, 'connect', { failOn: ['connect_error'] });
  const [bsock] = await rec.next('socket_connected', (s) => s.id === b.id);
  same(bsock.transport, 'polling', 'a polling socket');
  await rec.next('socket_updated', (u) => u.id === b.id && u.transport === 'websocket', { ms: 10000 });
  check('socket_updated on upgrade');
  const mark = rec.log.length;
  await act('broadcast', { room: 'r1', event: 'news', args: [7] });
  for (const s of [a, b]) {
    await rec.next('event_sent', (nsp, id, args) => id === s.id && args[0] === 'news' && args[1] === 7, { from: mark });
  }
  check('event_sent for each socket of a broadcast');

  // --- data ------------------------------------------------------------------------
  await act('setData', { id: a.id, data: { count: 1 } });
  await rec.next('socket_updated', (u) => u.id === a.id && u.nsp === '/' && JSON.stringify(u.data) === '{"count":1}');
  check('socket_updated on data');

  // --- server_stats -------------------------------------------------------------------
  const [stats] = await rec.next('server_stats', (st) => st.serverId === serverId &&
    st.namespaces.some((n) => n.name === '/' && n.socketsCount === 2), { ms: 6000 });
  for (const k of ['hostname', 'pid', 'uptime', 'clientsCount', 'pollingClientsCount', 'aggregatedEvents', 'namespaces']) {
    truthy(k in stats, `server_stats lacks ${k}`);
  }
  truthy(stats.clientsCount >= 4, `clientsCount ${stats.clientsCount}`);
  same(stats.namespaces.map((n) => n.name).sort(), ['/', '/admin', '/ctl'], 'namespaces');
  const types = new Set();
  await rec.next('server_stats', (st) => {
    for (const e of st.aggregatedEvents) {
      truthy(typeof e.timestamp === 'number' && e.timestamp % 1000 === 0 && e.count > 0, `aggregated event ${JSON.stringify(e)}`);
      types.add(e.type);
    }
    return ['rawConnection', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut'].every((t) => types.has(t));
  }, { ms: 8000 });
  check('server_stats');

  // --- all_sockets for a dashboard that connects now ----------------------------------
  const late = connect(`${url}/admin`, { auth: { sessionId } });
  const [list] = await once(late, 'all_sockets', { failOn: ['connect_error'], ms: LOGIN_MS });
  const la = list.find((s) => s.id === a.id);
  truthy(la && la.nsp === '/' && la.transport === 'websocket' && la.clientId === sock.clientId, `all_sockets entry of a: ${JSON.stringify(la)}`);
  same([...la.rooms].sort(), [a.id, 'r1'].sort(), 'all_sockets rooms');
  same(la.data, { count: 1 }, 'all_sockets data');
  truthy(list.some((s) => s.id === b.id && s.transport === 'websocket'), 'all_sockets lists b');
  late.close();
  check('all_sockets');

  // --- actions ----------------------------------------------------------------------------
  const fromAdmin = once(a, 'from-admin');
  admin.emit('emit', '/', a.id, 'from-admin', 'x', 2);
  same(await fromAdmin, ['x', 2], 'emit action');
  const toAll = Promise.all([once(a, 'to-all'), once(b, 'to-all')]);
  admin.emit('emit', '/', undefined, 'to-all');
  await toAll;
  admin.emit('join', '/', 'r3', a.id);
  await rec.next('room_joined', (nsp, room, id) => room === 'r3' && id === a.id);
  admin.emit('join', '/', 'r4');
  await rec.next('room_joined', (nsp, room, id) => room === 'r4' && id === b.id);
  admin.emit('leave', '/', 'r3', a.id);
  await rec.next('room_left', (nsp, room, id) => room === 'r3' && id === a.id);
  admin.emit('leave', '/', 'r4');
  await rec.next('room_left', (nsp, room, id) => room === 'r4' && id === b.id);
  const aid = a.id, bid = b.id; // socket.io-client forgets them on disconnect
  const bGone = once(b, 'disconnect');
  admin.emit('_disconnect', '/', false, b.id);
  same((await bGone)[0], 'io server disconnect', 'b disconnected by the dashboard');
  const [, , reason, goneAt] = await rec.next('socket_disconnected', (nsp, id) => nsp === '/' && id === bid);
  same(reason, 'server namespace disconnect', 'socket_disconnected reason');
  truthy(ISO.test(goneAt), `socket_disconnected timestamp ${goneAt}`);
  await rec.next('room_left', (nsp, room, id) => room === bid && id === bid);
  check('actions: emit, join, leave, _disconnect');

  truthy(a.connected, 'a still connected');
  a.disconnect();
  const [, , aReason] = await rec.next('socket_disconnected', (nsp, id) => id === aid);
  same(aReason, 'client namespace disconnect', 'socket_disconnected reason of a client');
  check('socket_disconnected');

  ctl.close();
  admin.close();
}, { timeout: 120000 });
