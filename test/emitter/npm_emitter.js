#!/usr/bin/env node
// @socket.io/redis-emitter 5.1 (a Node process that is no server) reaches
// the clients of a server through Redis: all of "/", a room, a socket's own
// room, except, volatile, binary, another namespace left alone, socketsJoin,
// socketsLeave, disconnectSockets. The clients are official socket.io-client
// sockets that say hello with their rooms. The same script runs against
// Banter's chat product (--redis) and the Node reference (ref_server.js).
//
// Usage: node npm_emitter.js URL REDIS_URL KEY
'use strict';

const { io } = require('socket.io-client');
const { Emitter } = require('@socket.io/redis-emitter');
const { createClient } = require('redis');
const { scenario, once, emitAck, same, truthy } = require('../interop/lib.js');

const [redisURL, key] = process.argv.slice(3);

// A client that records every event but the chat product's own.
function client(url, name) {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  s.name = name;
  s.got = [];
  s.onAny((ev, ...args) => {
    if (['message', 'presence', 'typing', 'user', 'members', 'chat message'].includes(ev)) return;
    s.got.push([ev, ...args]);
  });
  return s;
}

// Every publication of one emitter reaches a server in order (one Redis
// connection, one subscriber connection): a marker sent to all after a
// step tells each client that the step's events, if any, came before it.
async function step(emitter, clients, n) {
  const marker = `m${n}`;
  emitter.emit('marker', marker);
  const out = {};
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < 200 && !c.got.some((e) => e[0] === 'marker' && e[1] === marker); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const at = c.got.findIndex((e) => e[0] === 'marker' && e[1] === marker);
    truthy(at >= 0, `${c.name} got no marker ${marker}`);
    out[c.name] = c.got.slice(0, at);
    c.got = c.got.slice(at + 1);
  }));
  return out;
}

scenario('npm-emitter', async (url, check) => {
  const redis = createClient({ url: redisURL });
  await redis.connect();
  const emitter = new Emitter(redis, { key });

  const alice = client(url, 'alice');
  const bob = client(url, 'bob');
  const carol = client(url, 'carol');
  await Promise.all([alice, bob, carol].map((c) => once(c, 'connect', { failOn: ['connect_error'] })));
  const rooms = { alice: ['lobby'], bob: ['lobby', 'random'], carol: ['random'] };
  for (const c of [alice, bob, carol]) {
    const [res] = await emitAck(c, 'hello', { nickname: c.name, rooms: rooms[c.name] });
    truthy(res && res.ok, `hello of ${c.name}: ${JSON.stringify(res)}`);
  }
  const all = [alice, bob, carol];
  let n = 0;
  await step(emitter, all, n++); // the servers see the emitter's messages from here on

  emitter.emit('to-all', 1, 'two', { three: 3 });
  let got = await step(emitter, all, n++);
  for (const c of all) same(got[c.name], [['to-all', 1, 'two', { three: 3 }]], `${c.name}: emit to all`);
  check('all of "/"');

  emitter.to('lobby').emit('to-lobby', Buffer.from([1, 2, 3]));
  got = await step(emitter, all, n++);
  same(got.alice, [['to-lobby', Buffer.from([1, 2, 3])]], 'alice: to lobby (binary)');
  same(got.bob, [['to-lobby', Buffer.from([1, 2, 3])]], 'bob: to lobby');
  same(got.carol, [], 'carol: not in lobby');
  check('a room, binary');

  emitter.to('lobby').to('random').except('random').emit('lobby-not-random');
  emitter.to(carol.id).emit('just-carol');
  emitter.volatile.to('random').emit('volatile-random');
  emitter.of('/elsewhere').emit('other-namespace');
  got = await step(emitter, all, n++);
  // Volatile events may be dropped for a client that is being written to
  // (Node drops them then): only where they may go is checked.
  const vol = (c) => got[c].filter((e) => e[0] !== 'volatile-random');
  truthy(got.bob.length + got.carol.length - vol('bob').length - vol('carol').length <= 2, 'volatile delivered twice');
  same(vol('alice'), [['lobby-not-random']], 'alice: except');
  same(got.alice.length, 1, 'alice got the volatile event of a room she is not in');
  same(vol('bob'), [], 'bob: except');
  same(vol('carol'), [['just-carol']], 'carol: her own room');
  check("except, a socket's own room, volatile, another namespace");

  emitter.in(carol.id).socketsJoin('lobby');
  emitter.to('lobby').emit('lobby-after-join');
  emitter.in('lobby').socketsLeave('lobby');
  emitter.to('lobby').emit('lobby-after-leave');
  got = await step(emitter, all, n++);
  for (const c of all) same(got[c.name], [['lobby-after-join']], `${c.name}: socketsJoin then socketsLeave`);
  check('socketsJoin, socketsLeave');

  const gone = once(carol, 'disconnect');
  emitter.in(carol.id).disconnectSockets();
  same((await gone)[0], 'io server disconnect', 'carol disconnected by the emitter');
  got = await step(emitter, [alice, bob], n++);
  same(got.alice, [], 'alice still connected');
  check('disconnectSockets');

  for (const c of all) c.close();
  await redis.quit();
});
