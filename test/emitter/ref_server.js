#!/usr/bin/env node
// The Node reference of the emitter tests: socket.io 4.8 with
// @socket.io/redis-adapter 8.x on REDIS_URL (channel prefix KEY), whose
// sockets answer "hello" {nickname, rooms} the way Banter's chat product
// does for the purpose of these tests: they join the Socket.IO rooms named
// after the chat rooms (docs/protocol.md, Socket.IO rooms).
//
// Usage: node ref_server.js REDIS_URL KEY
// Prints "LISTENING <port>"; exits when stdin closes (BANTER_WATCH_STDIN=1).
'use strict';

const http = require('http');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { createAdapter } = require('@socket.io/redis-adapter');

const [redisURL, key] = process.argv.slice(2);
if (!redisURL || !key) {
  process.stderr.write('usage: node ref_server.js REDIS_URL KEY\n');
  process.exit(2);
}

async function main() {
  const pub = createClient({ url: redisURL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key }) });
  io.on('connection', (socket) => {
    socket.on('hello', (arg, cb) => {
      for (const r of (arg && arg.rooms) || []) socket.join(r);
      if (typeof cb === 'function') cb({ ok: true, nickname: arg && arg.nickname });
    });
  });
  httpServer.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
  });
}

main().catch((e) => {
  process.stderr.write(`ref_server: ${e.stack || e}\n`);
  process.exit(1);
});

if (process.env.BANTER_WATCH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
