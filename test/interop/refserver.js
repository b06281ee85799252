#!/usr/bin/env node
// The Node reference server of the interop rig: socket.io 4.8 (accepting
// Engine.IO v3 clients too) with the conformance behaviour that Banter's Go
// conformance server implements as well, plus a raw Engine.IO echo endpoint
// at /engine.io/. The interop scenarios run against both; where they agree
// with this server, Banter behaves like Node.
//
// Usage: node refserver.js [--recovery=MS] [PORT [PING_INTERVAL_MS PING_TIMEOUT_MS]]
// (port 0 or none = random port; heartbeat default 300/200 ms, the official
// suites' values; --recovery enables connection state recovery with that
// maxDisconnectionDuration)
// Prints "LISTENING <port>" once it accepts connections. When the
// environment sets BANTER_WATCH_STDIN=1 it exits as soon as stdin closes, so
// it never outlives the Go test that started it.
'use strict';

const http = require('http');
const { Server } = require('socket.io');
const engine = require('engine.io');

const USAGE = 'usage: node refserver.js [--recovery=MS] [PORT [PING_INTERVAL_MS PING_TIMEOUT_MS]]';
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const argv = process.argv.slice(2).filter((a) => !a.startsWith('--'));
let recoveryMs = 0;
for (const f of flags) {
  const m = /^--recovery=(\d+)$/.exec(f);
  if (!m || Number(m[1]) <= 0) {
    process.stderr.write(`refserver: bad flag ${f}\n${USAGE}\n`);
    process.exit(2);
  }
  recoveryMs = Number(m[1]);
}

const port = Number(argv[0] || 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`refserver: bad port ${argv[0]}\n${USAGE}\n`);
  process.exit(2);
}

// The values the official protocol test suites expect, unless the heartbeat
// is given on the command line (the interop tests use a longer pingTimeout so
// a loaded CI machine does not time clients out).
const ms = (v, dflt) => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`refserver: bad heartbeat value ${v}\n`);
    process.exit(2);
  }
  return n;
};
const timing = { pingInterval: ms(argv[1], 300), pingTimeout: ms(argv[2], 200), maxHttpBufferSize: 1e6 };

const httpServer = http.createServer();
const io = new Server(httpServer, {
  ...timing,
  connectTimeout: 1000,
  cors: { origin: '*' },
  allowEIO3: true,
  ...(recoveryMs > 0 ? { connectionStateRecovery: { maxDisconnectionDuration: recoveryMs } } : {}),
});

// Raw Engine.IO echo at /engine.io/: every message back, text and binary.
const eio = new engine.Server({ ...timing, cors: { origin: '*' }, allowEIO3: true });
eio.attach(httpServer, { path: '/engine.io' });
eio.on('connection', (sock) => sock.on('message', (data) => sock.send(data)));

const root = io.of('/');

// splitAck separates a trailing ack callback from the event arguments.
function splitAck(args) {
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
  return [args, ack];
}

// Behaviour shared by /, /custom and /private.
function common(socket) {
  socket.emit('auth', socket.handshake.auth);
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...raw) => {
    const [args, ack] = splitAck(raw);
    ack(...args);
  });
  socket.on('whoami', (...raw) => {
    const [, ack] = splitAck(raw);
    ack({
      id: socket.id,
      nsp: socket.nsp.name,
      engineId: socket.conn.id,
      transport: socket.conn.transport.name,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
    });
  });
  socket.on('request-server-ack', (...raw) => {
    const [args] = splitAck(raw);
    socket.emit('server-ack', ...args, (...reply) => socket.emit('server-ack-result', ...reply));
  });
  socket.on('disconnect', (reason) => {
    root.to('__watchers').emit('peer-disconnect', { id: socket.id, nsp: socket.nsp.name, reason });
  });
}

root.on('connection', (socket) => {
  common(socket);
  socket.on('chat message', (m) => root.emit('chat message', m));
  socket.on('server-disconnect', (close) => socket.disconnect(close === true));
  socket.on('watch-disconnects', (...raw) => {
    const [, ack] = splitAck(raw);
    socket.join('__watchers');
    ack(true);
  });
  socket.on('join', (room, ...raw) => {
    const [, ack] = splitAck(raw);
    socket.join(room);
    ack(true);
  });
  socket.on('leave', (room, ...raw) => {
    const [, ack] = splitAck(raw);
    socket.leave(room);
    ack(true);
  });
  socket.on('room-message', (room, m) => root.to(room).emit('room-message', room, m));
  socket.on('broadcast-others', (m) => socket.broadcast.emit('others-message', m));
  // multi-ack(room, timeoutMs): ask every socket of the room (with a
  // timeout) and ack {err, responses}: err null when all answered, else the
  // error's message with the answers that came in time (Node's
  // BroadcastOperator.emitWithAck rejects with err.responses set).
  socket.on('multi-ack', (room, timeoutMs, ...raw) => {
    const [, ack] = splitAck(raw);
    if (typeof room !== 'string' || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 60000) {
      return ack({ err: 'multi-ack: want (room string, timeoutMs integer in 1..60000)', responses: [] });
    }
    root.to(room).timeout(timeoutMs).emitWithAck('ask', room).then(
      (responses) => ack({ err: null, responses }),
      (err) => ack({ err: err.message, responses: err.responses || [] }),
    );
  });
});

io.of('/custom').on('connection', common);

const priv = io.of('/private');
priv.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === 's3cret') return next();
  const err = new Error('unauthorized');
  err.data = { code: 401 };
  next(err);
});
priv.on('connection', common);

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

if (process.env.BANTER_WATCH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
