#!/usr/bin/env node
// Graceful shutdown as a client sees it. Usage: shutdown.js URL READY_FILE.
// Connects a protocol 1 client (v4) and a SocketChat client (v2, EIO 3),
// writes READY_FILE, then waits for the server to stop: the protocol 1
// client must get bye {reason: "shutdown"} and then a disconnect that lets
// it reconnect (not "io server disconnect"); the v2 client a disconnect.
'use strict';

const fs = require('fs');
const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, until, ok } = require('./chatlib');

scenario('shutdown', async (url, check) => {
  const a = await connect(url, { transports: ['polling', 'websocket'] });
  await ok(a, 'hello', { nickname: 'Stayer', rooms: ['general'] });
  await ok(a, 'send', { room: 'general', text: 'before shutdown' });
  const b = await connect(url, { version: 'v2', transports: ['websocket'] });
  b.emit('connectUser', 'old-app');
  await waitFor(b, 'userList', (e) => e[0] === 'userList');
  fs.writeFileSync(process.argv[3], 'ready\n');
  check('connected');

  const [, bye] = await waitFor(a, 'bye', (e) => e[0] === 'bye', { ms: 20000 });
  same(bye, { reason: 'shutdown' }, 'bye reason');
  await until('protocol 1 client disconnected', () => a.disconnects.length > 0, 20000);
  truthy(a.disconnects[0] !== 'io server disconnect', `disconnect reason ${a.disconnects[0]}: a client must reconnect after a shutdown`);
  await until('v2 client disconnected', () => b.disconnects.length > 0, 20000);
  check(`bye then disconnect (${a.disconnects[0]}; v2: ${b.disconnects[0]})`);
}, { timeout: 40000 });
