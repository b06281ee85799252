#!/usr/bin/env node
// The Node reference of the Admin UI tests: socket.io 4.8 instrumented by
// @socket.io/admin-ui 0.5 (basic auth: admin / changeit), its dashboard
// (the package's ui/dist) served at /admin-ui/, and the namespace /ctl
// through which a scenario makes the server act. The Go test runs a Banter
// server with the same behaviour (admin_test.go); the scenarios run
// against both.
//
// Usage: node node_server.js [--server-id=ID] [--redis=URL --key=KEY] [--no-admin=1]
// With --redis the server joins a cluster through @socket.io/redis-adapter
// (and keeps dashboard sessions in Redis, as Banter does); --no-admin=1
// leaves the server uninstrumented (measure.js's baseline).
// Prints "LISTENING <port>"; exits when stdin closes (BANTER_WATCH_STDIN=1).
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const { Server } = require('socket.io');
const { instrument, RedisStore } = require('@socket.io/admin-ui');

const opts = {};
for (const a of process.argv.slice(2)) {
  const m = /^--([a-z-]+)=(.*)$/.exec(a);
  if (!m) {
    process.stderr.write(`node_server: bad argument ${a}\n`);
    process.exit(2);
  }
  opts[m[1]] = m[2];
}

// "changeit", hashed with bcrypt (cost 10), as in the Admin UI's README.
const HASH = '$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS';

const dist = path.join(path.dirname(require.resolve('@socket.io/admin-ui/package.json')), 'ui', 'dist');
const types = { '.html': 'text/html', '.js': 'application/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };
const httpServer = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/admin-ui') {
    res.writeHead(301, { Location: '/admin-ui/' }).end();
    return;
  }
  if (!u.pathname.startsWith('/admin-ui/')) {
    res.writeHead(404).end();
    return;
  }
  let rel = u.pathname.slice('/admin-ui/'.length) || 'index.html';
  const file = path.join(dist, path.normalize(rel));
  if (!file.startsWith(dist)) {
    res.writeHead(404).end();
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' }).end(data);
  });
});

const io = new Server(httpServer);

async function main() {
  let store;
  if (opts.redis) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: opts.redis });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: opts.key || 'socket.io' }));
    // The Admin UI's RedisStore speaks the callback API of redis@3.
    const legacy = pub.duplicate({ legacyMode: true });
    await legacy.connect();
    store = new RedisStore(legacy);
  }
  if (!opts['no-admin']) instrument(io, {
    auth: { type: 'basic', username: 'admin', password: HASH },
    serverId: opts['server-id'] || 'node-reference',
    mode: 'development',
    ...(store ? { store } : {}),
  });

  // Sockets of "/" join the rooms of their auth, as the Banter side does.
  io.of('/').use((socket, next) => {
    for (const r of socket.handshake.auth.rooms || []) socket.join(r);
    next();
  });
  io.of('/').on('connection', (socket) => {
    socket.on('echo', (...args) => {
      const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      if (cb) cb(...args);
    });
  });
  // /ctl: the scenario makes the server act on a socket of "/" of this node.
  io.of('/ctl').on('connection', (ctl) => {
    const sock = (id) => io.of('/').sockets.get(id);
    ctl.on('join', ({ id, room }, cb) => { sock(id)?.join(room); cb({ ok: !!sock(id) }); });
    ctl.on('leave', ({ id, room }, cb) => { sock(id)?.leave(room); cb({ ok: !!sock(id) }); });
    ctl.on('emit', ({ id, event, args }, cb) => { sock(id)?.emit(event, ...args); cb({ ok: !!sock(id) }); });
    ctl.on('emitBinary', ({ id, event }, cb) => { sock(id)?.emit(event, 1, Buffer.from([1, 2, 3])); cb({ ok: !!sock(id) }); });
    ctl.on('broadcast', ({ room, event, args }, cb) => { io.of('/').to(room).emit(event, ...args); cb({ ok: true }); });
    ctl.on('setData', ({ id, data }, cb) => {
      const s = sock(id);
      if (s) Object.assign(s.data, data);
      cb({ ok: !!s });
    });
    ctl.on('disconnect-socket', ({ id }, cb) => { sock(id)?.disconnect(true); cb({ ok: true }); });
  });

  httpServer.listen(0, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
  });
}

main().catch((e) => {
  process.stderr.write(`node_server: ${e.stack || e}\n`);
  process.exit(1);
});

if (process.env.BANTER_WATCH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
