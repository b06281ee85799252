#!/usr/bin/env node
// A mixed cluster: mixed.js BANTER_URL REDIS_URL KEY.
//
// This process runs a Node Socket.IO 4.8 server with @socket.io/redis-adapter
// 8.x on REDIS_URL (channel prefix KEY); the Go test runs a Banter server
// with socketio/redisadapter on the same Redis and key. Official
// socket.io-client 4.8 sockets connect to both; the scenario broadcasts both
// ways (all, rooms, except, local, binary), fetches sockets, makes sockets
// join rooms and disconnect across servers, exchanges serverSideEmit with
// acknowledgements, collects broadcast acknowledgements from both servers'
// clients, and emits to Banter's clients with @socket.io/redis-emitter.
//
// The Banter server is driven through its /ctl namespace: each request is
// an event with an acknowledgement (see rediscompat_test.go).
'use strict';

const http = require('http');
const { Server } = require('socket.io');
const { io: connectClient } = require('socket.io-client');
const { createAdapter } = require('@socket.io/redis-adapter');
const { Emitter } = require('@socket.io/redis-emitter');
const { createClient } = require('redis');
const { scenario, once, same, truthy, emitAck } = require('../interop/lib');

const [redisURL, key] = process.argv.slice(3);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// until polls cond (async) until it holds, or fails after ms.
async function until(what, cond, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

// A client that records every event it gets (and answers "question").
function client(url, name, rooms) {
  const s = connectClient(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { name, rooms } });
  s.name = name;
  s.got = [];
  s.onAny((ev, ...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    s.got.push([ev, ...args]);
    if (ack) ack(`${name} says yes`, args.length);
  });
  return s;
}

// takeUntilMarker waits for the marker event and returns (and forgets)
// what came before it.
async function takeUntilMarker(s, marker) {
  await until(`${s.name} gets ${marker}`, () => s.got.some((e) => e[0] === 'marker' && e[1] === marker));
  const i = s.got.findIndex((e) => e[0] === 'marker' && e[1] === marker);
  const before = s.got.slice(0, i);
  s.got = s.got.slice(i + 1);
  return before;
}

let markers = 0;

scenario('mixed', async (banterURL, check) => {
  truthy(redisURL && key, 'usage: mixed.js BANTER_URL REDIS_URL KEY');

  // The Node server of the cluster.
  const pub = createClient({ url: redisURL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 3000 }) });
  io.on('connection', (socket) => {
    for (const r of socket.handshake.auth.rooms || []) socket.join(r);
    socket.data = { name: socket.handshake.auth.name };
  });
  const nodeHeard = [];
  io.on('hello-servers', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    nodeHeard.push(args);
    if (ack) ack('node pong');
  });
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const nodeURL = `http://127.0.0.1:${httpServer.address().port}`;

  // Banter's control socket.
  const ctl = connectClient(`${banterURL}/ctl`, { transports: ['websocket'], forceNew: true });
  const banterHeard = [];
  ctl.on('server-side', (args) => banterHeard.push(args));
  await once(ctl, 'connect', { failOn: ['connect_error'] });
  const banter = async (op, args = {}) => {
    const [res] = await emitAck(ctl, op, args);
    if (res && res.error) throw new Error(`banter ${op}: ${res.error}`);
    return res;
  };

  await until('both servers count 2', async () => (await io.of('/').adapter.serverCount()) === 2 && (await banter('serverCount')) === 2);
  check('Node and Banter see each other (PUBSUB NUMSUB)');

  const nA = client(nodeURL, 'nA', ['red']);
  const nB = client(nodeURL, 'nB', ['blue']);
  const bA = client(banterURL, 'bA', ['red']);
  const bB = client(banterURL, 'bB', ['blue']);
  const all = [nA, nB, bA, bB];
  await Promise.all(all.map((s) => once(s, 'connect', { failOn: ['connect_error'] })));

  let emitter = null;
  // expect: after a marker from `from` ('node', 'banter' or 'emitter': the
  // origin of the step, so that the marker comes after it), each client got
  // exactly the events listed for it since the last check.
  const expect = async (from, want, what) => {
    const m = `m${++markers}`;
    if (from === 'node') io.emit('marker', m);
    else if (from === 'emitter') emitter.emit('marker', m);
    else await banter('emit', { event: 'marker', args: [m] });
    for (const s of all) {
      const got = await takeUntilMarker(s, m);
      same(got, want[s.name] || [], `${what}: ${s.name}'s events`);
    }
  };

  // Everyone, binary included, both ways.
  io.emit('hello', 'from node', Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
  const fromNode = ['hello', 'from node', Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) }];
  await expect('node', { nA: [fromNode], nB: [fromNode], bA: [fromNode], bB: [fromNode] }, 'node → all');
  await banter('emit', { event: 'hello', args: ['from banter', Buffer.from([5, 6]), { n: 1.5 }] });
  const fromBanter = ['hello', 'from banter', Buffer.from([5, 6]), { n: 1.5 }];
  await expect('banter', { nA: [fromBanter], nB: [fromBanter], bA: [fromBanter], bB: [fromBanter] }, 'banter → all');
  check('broadcasts to everyone cross both ways, binary attachments included');

  // Rooms, except, several rooms, local.
  io.to('red').emit('room', 'node red');
  await expect('node', { nA: [['room', 'node red']], bA: [['room', 'node red']] }, 'node → red');
  await banter('emit', { to: ['blue'], event: 'room', args: ['banter blue'] });
  await expect('banter', { nB: [['room', 'banter blue']], bB: [['room', 'banter blue']] }, 'banter → blue');
  io.except('red').emit('room', 'node not red');
  await expect('node', { nB: [['room', 'node not red']], bB: [['room', 'node not red']] }, 'node except red');
  await banter('emit', { to: ['red', 'blue'], except: ['blue'], event: 'room', args: ['banter red-blue'] });
  await expect('banter', { nA: [['room', 'banter red-blue']], bA: [['room', 'banter red-blue']] }, 'banter red+blue except blue');
  io.local.emit('room', 'node local');
  await expect('node', { nA: [['room', 'node local']], nB: [['room', 'node local']] }, 'node local');
  await banter('emit', { local: true, event: 'room', args: ['banter local'] });
  await expect('banter', { bA: [['room', 'banter local']], bB: [['room', 'banter local']] }, 'banter local');
  io.volatile.to(bB.id).emit('room', 'node to bB');
  await expect('node', { bB: [['room', 'node to bB']] }, 'node → a Banter socket\'s own room');
  check('rooms, except, several rooms, local and a socket id as room behave the same from both servers');

  // fetchSockets across servers.
  const summary = (list) => list.map((s) => [s.id, s.data && s.data.name, [...s.rooms].sort()]).sort((a, b) => (a[1] < b[1] ? -1 : 1));
  const want = all.map((s) => [s.id, s.name, [s.id, ...({ nA: ['red'], nB: ['blue'], bA: ['red'], bB: ['blue'] })[s.name]].sort()]).sort((a, b) => (a[1] < b[1] ? -1 : 1));
  same(summary(await io.fetchSockets()), want, 'io.fetchSockets() on Node');
  same(summary(await banter('fetchSockets')), want, 'FetchSockets on Banter');
  const nodeView = (await io.in('blue').fetchSockets()).find((s) => s.id === bB.id);
  same([nodeView.handshake.auth, nodeView.handshake.query.EIO, typeof nodeView.handshake.issued], [{ name: 'bB', rooms: ['blue'] }, '4', 'number'], 'a Banter socket\'s handshake seen from Node');
  const banterView = (await banter('fetchSockets', { in: ['red'] })).find((s) => s.id === nA.id);
  same([banterView.auth, banterView.local], [{ name: 'nA', rooms: ['red'] }, false], 'a Node socket\'s handshake seen from Banter');
  check('fetchSockets lists both servers\' sockets with rooms, data and handshake');

  // Remote join/leave/disconnect.
  io.in('blue').socketsJoin('green');
  await until('bB joined green (Banter)', async () => (await banter('fetchSockets', { in: ['green'] })).length === 2);
  await banter('emit', { to: ['green'], event: 'room', args: ['banter green'] });
  await expect('banter', { nB: [['room', 'banter green']], bB: [['room', 'banter green']] }, 'banter → green');
  await banter('socketsJoin', { in: ['red'], rooms: ['yellow'] });
  await until('nA joined yellow (Node)', async () => (await io.in('yellow').fetchSockets()).length === 2);
  const rooms = await io.of('/').adapter.allRooms();
  truthy(['red', 'blue', 'green', 'yellow', bA.id].every((r) => rooms.has(r)), `allRooms on Node: ${[...rooms]}`);
  const banterRooms = await banter('allRooms');
  truthy(['red', 'blue', 'green', 'yellow', nA.id].every((r) => banterRooms.includes(r)), `AllRooms on Banter: ${banterRooms}`);
  io.in('yellow').socketsLeave('yellow');
  await until('yellow emptied everywhere', async () => (await banter('fetchSockets', { in: ['yellow'] })).length === 0);
  check('socketsJoin/socketsLeave cross servers both ways; allRooms merges both');

  // serverSideEmit both ways, with acknowledgements.
  io.serverSideEmit('hello-servers', 'from node', 1);
  await until('Banter hears Node', () => banterHeard.length === 1);
  same(banterHeard[0], ['from node', 1], 'serverSideEmit Node → Banter');
  same(await io.serverSideEmitWithAck('hello-servers', 'with ack'), ['banter pong'], 'serverSideEmitWithAck Node → Banter');
  same(await banter('serverSideEmitWithAck', { event: 'hello-servers', args: ['from banter'] }), ['node pong'], 'serverSideEmitWithAck Banter → Node');
  same(nodeHeard, [['from banter']], 'Node heard Banter once');
  check('serverSideEmit crosses both ways, acknowledgements included');

  // Broadcast with acknowledgements: every client of both servers answers.
  const nodeAnswers = await io.timeout(5000).emitWithAck('question', 'from node');
  same(nodeAnswers.sort(), ['bA says yes', 'bB says yes', 'nA says yes', 'nB says yes'], 'io.emitWithAck answers');
  const banterAnswers = await banter('emitWithAck', { event: 'question', args: ['from banter'] });
  same(banterAnswers.map((a) => a[0]).sort(), ['bA says yes', 'bB says yes', 'nA says yes', 'nB says yes'], 'Banter EmitWithAck answers');
  await expect('node', {
    nA: [['question', 'from node'], ['question', 'from banter']], nB: [['question', 'from node'], ['question', 'from banter']],
    bA: [['question', 'from node'], ['question', 'from banter']], bB: [['question', 'from node'], ['question', 'from banter']],
  }, 'questions');
  check('broadcasts with acknowledgements collect the answers of both servers\' clients');

  // The emitter (a third party that only publishes).
  const emitterClient = createClient({ url: redisURL });
  await emitterClient.connect();
  emitter = new Emitter(emitterClient, { key });
  emitter.emit('hello', 'from emitter', Buffer.from([7]));
  const fromEmitter = ['hello', 'from emitter', Buffer.from([7])];
  await expect('emitter', { nA: [fromEmitter], nB: [fromEmitter], bA: [fromEmitter], bB: [fromEmitter] }, 'emitter → all');
  emitter.to('red').except(nA.id).emit('room', 'emitter red');
  await expect('emitter', { bA: [['room', 'emitter red']] }, 'emitter → red except nA');
  emitter.serverSideEmit('hello-servers', 'from emitter');
  await until('Banter hears the emitter', () => banterHeard.length === 3);
  same(banterHeard[2], ['from emitter'], 'emitter serverSideEmit');
  emitter.in('red').socketsJoin('emitted');
  await until('bA joined emitted', async () => (await banter('fetchSockets', { in: ['emitted'] })).length === 2);
  check('@socket.io/redis-emitter reaches Banter\'s clients (broadcast, room, except, serverSideEmit, socketsJoin)');

  // Disconnect across servers.
  const gone = Promise.all([once(nB, 'disconnect'), once(bB, 'disconnect')]);
  await banter('disconnectSockets', { in: ['blue'] });
  const reasons = await gone;
  same(reasons.map((r) => r[0]), ['io server disconnect', 'io server disconnect'], 'disconnect reasons');
  const closed = Promise.all([once(nA, 'disconnect'), once(bA, 'disconnect')]);
  io.in('red').disconnectSockets(true);
  same((await closed).map((r) => r[0]), ['io server disconnect', 'io server disconnect'], 'disconnect reasons (close)');
  await until('no socket left', async () => (await banter('fetchSockets')).length === 0);
  check('disconnectSockets crosses both ways (with and without closing the connection)');

  for (const s of [...all, ctl]) s.disconnect();
  io.close();
  await emitterClient.quit();
});
