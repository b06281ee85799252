#!/usr/bin/env node
// The classic socket.io "get started" chat: `chat message(text)` is emitted
// to every socket, the sender included, including tutorial clients that
// never sent anything; protocol 1 sees it in "general" and its messages
// reach tutorial clients as "nickname: text".
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, call, ok } = require('./chatlib');

scenario('classic', async (url, check) => {
  const t1 = await connect(url, { transports: ['polling', 'websocket'] });
  const t2 = await connect(url, { version: 'v2' }); // only listens
  const p = await connect(url);
  await ok(p, 'hello', { nickname: 'Pat', rooms: ['general'] });

  t1.emit('chat message', 'hello everyone');
  for (const [s, who] of [[t1, 'sender'], [t2, 'listener']]) {
    const [, text] = await waitFor(s, `chat message at the ${who}`, (e) => e[0] === 'chat message');
    same(text, 'hello everyone', `text at the ${who}`);
  }
  const [, m] = await waitFor(p, 'protocol 1 sees it', (e) => e[0] === 'message');
  truthy(/^guest-\d+$/.test(m.from) && m.text === 'hello everyone' && m.room === 'general', `message ${JSON.stringify(m)}`);
  check('chat message to everyone (sender, silent v2 listener), stored in general');

  const mark = t2.events.length;
  await ok(p, 'send', { room: 'general', text: 'hi guests' });
  const [, fromP] = await waitFor(t2, 'protocol 1 message', (e) => e[0] === 'chat message', { from: mark });
  same(fromP, 'Pat: hi guests', 'other dialects as "nickname: text"');
  check('protocol 1 messages reach classic clients');

  const a = await call(t1, 'chat message', 'with ack');
  same(a, { ok: true, seq: m.seq + 2 }, 'classic ack');
  const e = await call(t1, 'chat message', '');
  same(e.error.code, 'empty_message', 'empty text');
  t1.emit('chat message', { text: 'object' });
  await waitFor(t1, 'wrong type', (x) => x[0] === 'error' && x[1].code === 'invalid_argument' && x[1].event === 'chat message');
  t1.emit('hello', { nickname: 'Mixed' });
  await waitFor(t1, 'one dialect per connection', (x) => x[0] === 'error' && x[1].event === 'hello');
  check('acks, bad input and dialect mixing');

  for (const s of [t1, t2, p]) s.disconnect();
});
