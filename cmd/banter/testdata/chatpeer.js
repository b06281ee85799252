#!/usr/bin/env node
// The other user of the `banter chat` terminal test: a socket.io-client 4
// user speaking chat protocol 1. Usage: node chatpeer.js URL
// It joins general as "bob", says "hello from bob", starts typing, then
// waits for "hi from alice" in general and "psst" in the DM room
// dm:alice:bob, and prints a JSON report {ok, error, checks}.
'use strict';
const { io } = require('socket.io-client');

const url = process.argv[2];
const checks = [];
const done = (ok, error) => {
  process.stdout.write(JSON.stringify({ ok, error: error || '', checks }) + '\n');
  process.exit(ok ? 0 : 1);
};
setTimeout(() => done(false, 'timed out; saw: ' + checks.join('; ')), 60000);

const socket = io(url, { transports: ['websocket'] });
const want = new Set(['general:hi from alice', 'dm:alice:bob:psst']);
socket.on('message', (m) => {
  const key = m.room + ':' + m.text;
  if (want.delete(key)) {
    checks.push('got ' + key + ' from ' + m.from);
    if (want.size === 0) done(true);
  }
});
socket.on('connect', () => {
  socket.emit('hello', { nickname: 'bob', rooms: ['general'] }, (ack) => {
    if (!ack.ok) return done(false, 'hello: ' + JSON.stringify(ack));
    checks.push('hello ok');
    socket.emit('send', { room: 'general', text: 'hello from bob', clientId: 'b1' }, (r) => {
      if (!r.ok) return done(false, 'send: ' + JSON.stringify(r));
      checks.push('sent seq ' + r.seq);
      socket.emit('typing', { room: 'general', typing: true });
    });
  });
});
socket.on('connect_error', (e) => done(false, 'connect_error ' + e.message));
