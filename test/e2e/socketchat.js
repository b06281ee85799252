#!/usr/bin/env node
// The SocketChat (AppCoda iOS sample) event sequence, unchanged, with
// socket.io-client 2 (EIO 3, like the original app) or 4: connectUser,
// userList, userConnectUpdate, startType/stopType, userTypingUpdate,
// chatMessage, newChatMessage with its dateString, exitUser,
// userExitUpdate, and a socket disconnect; messages shared with protocol 1
// through the room "general". Usage: socketchat.js URL v2|v4
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, until, ok } = require('./chatlib');

const version = process.argv[3];
if (version !== 'v2' && version !== 'v4') {
  process.stderr.write('usage: socketchat.js URL v2|v4\n');
  process.exit(2);
}

// Node's new Date().toLocaleString() in en-US.
const DATE = /^\d{1,2}\/\d{1,2}\/\d{4}, \d{1,2}:\d{2}:\d{2} (AM|PM)$/;

const ev = (name) => (e) => e[0] === name;

function userShape(u, nickname, isConnected, what) {
  truthy(u && typeof u.id === 'string' && u.id.length > 0, `${what}: id in ${JSON.stringify(u)}`);
  same({ nickname: u.nickname, isConnected: u.isConnected }, { nickname, isConnected }, what);
  same(Object.keys(u).sort(), ['id', 'isConnected', 'nickname'], `${what}: fields`);
}

scenario(`socketchat_${version}`, async (url, check) => {
  const transports = ['polling', 'websocket'];
  const a = await connect(url, { version, transports });
  const b = await connect(url, { version, transports });

  a.emit('connectUser', 'alice');
  const [, listA] = await waitFor(a, 'userList after connectUser', ev('userList'));
  truthy(Array.isArray(listA) && listA.length === 1, `userList ${JSON.stringify(listA)}`);
  userShape(listA[0], 'alice', true, 'userList entry');
  const [, upA] = await waitFor(a, 'userConnectUpdate', ev('userConnectUpdate'));
  userShape(upA, 'alice', true, 'userConnectUpdate');
  same(upA.id, listA[0].id, 'same id in both');
  truthy(a.events.findIndex(ev('userList')) < a.events.findIndex(ev('userConnectUpdate')), 'userList before userConnectUpdate');
  check('connectUser: userList then userConnectUpdate');

  let markA = a.events.length;
  b.emit('connectUser', 'bob');
  const [, listB] = await waitFor(a, 'userList with bob', ev('userList'), { from: markA });
  same(listB.map((u) => [u.nickname, u.isConnected]), [['alice', true], ['bob', true]], 'userList in order of connection');
  const [, upB] = await waitFor(a, 'bob connected', ev('userConnectUpdate'), { from: markA });
  userShape(upB, 'bob', true, 'userConnectUpdate bob');
  await waitFor(b, 'bob gets the list too', ev('userList'));
  check('second user: everyone gets userList and userConnectUpdate');

  let markB = b.events.length;
  a.emit('startType', 'alice');
  const [, typing] = await waitFor(b, 'userTypingUpdate', ev('userTypingUpdate'), { from: markB });
  same(typing, { alice: 1 }, 'typing object');
  check('startType: userTypingUpdate {alice: 1}');

  markB = b.events.length;
  a.emit('chatMessage', 'alice', 'Hello <img src=x onerror=alert(1)>');
  const [, ...msg] = await waitFor(b, 'newChatMessage', ev('newChatMessage'), { from: markB });
  same(msg.length, 3, 'newChatMessage has three arguments');
  same(msg.slice(0, 2), ['alice', 'Hello <img src=x onerror=alert(1)>'], 'newChatMessage nickname and message');
  truthy(DATE.test(msg[2]), `dateString ${JSON.stringify(msg[2])} is not like "11/25/2026, 10:40:00 PM"`);
  const tIdx = b.events.slice(markB).findIndex((e) => e[0] === 'userTypingUpdate' && Object.keys(e[1]).length === 0);
  const mIdx = b.events.slice(markB).findIndex(ev('newChatMessage'));
  truthy(tIdx >= 0 && tIdx < mIdx, `userTypingUpdate {} before newChatMessage: ${JSON.stringify(b.events.slice(markB))}`);
  await waitFor(a, 'the sender gets its message too', ev('newChatMessage'));
  check('chatMessage: userTypingUpdate {} then newChatMessage(nickname, message, dateString) to all');

  markA = a.events.length;
  b.emit('startType', 'bob');
  await waitFor(a, 'bob typing', (e) => e[0] === 'userTypingUpdate' && e[1].bob === 1, { from: markA });
  markA = a.events.length;
  b.emit('stopType', 'bob');
  const [, stopped] = await waitFor(a, 'bob stopped', ev('userTypingUpdate'), { from: markA });
  same(stopped, {}, 'typing cleared');
  check('stopType: userTypingUpdate {}');

  // Protocol 1 shares the room "general" with SocketChat (always v4).
  const p = await connect(url);
  const hp = await ok(p, 'hello', { nickname: 'Pat', rooms: ['general'] });
  same(hp.rooms[0].messages.map((m) => [m.from, m.text]), [['alice', 'Hello <img src=x onerror=alert(1)>']], 'SocketChat message in general history');
  markA = a.events.length;
  await ok(p, 'send', { room: 'general', text: 'hi from protocol 1' });
  const [, ...fromP] = await waitFor(a, 'protocol 1 message as newChatMessage', ev('newChatMessage'), { from: markA });
  same(fromP.slice(0, 2), ['Pat', 'hi from protocol 1'], 'newChatMessage from protocol 1');
  truthy(DATE.test(fromP[2]), 'dateString of a protocol 1 message');
  b.emit('chatMessage', 'bob', 'hi Pat');
  await waitFor(p, 'SocketChat message as protocol 1 message', (e) => e[0] === 'message' && e[1].from === 'bob' && e[1].text === 'hi Pat' && e[1].room === 'general');
  check('SocketChat and protocol 1 share general (history and live)');

  // Errors go to the caller as an "error" event; nothing else happens.
  const d = await connect(url, { version, transports: ['websocket'] });
  d.emit('connectUser', 'ALICE');
  const [, taken] = await waitFor(d, 'nickname taken', ev('error'));
  same([taken.code, taken.event], ['nickname_taken', 'connectUser'], 'error event');
  d.emit('connectUser', '   ');
  await waitFor(d, 'empty nickname', (e) => e[0] === 'error' && e[1].code === 'invalid_nickname');
  d.emit('chatMessage', 'nobody', 'not connected');
  await waitFor(d, 'chatMessage before connectUser', (e) => e[0] === 'error' && e[1].code === 'not_connected');
  d.emit('connectUser', { nickname: 'obj' });
  await waitFor(d, 'nickname of the wrong type', (e) => e[0] === 'error' && e[1].code === 'invalid_argument');
  truthy(!d.events.some(ev('userList')), 'failed connectUser sends no userList');
  check('bad connectUser / chatMessage: error event to the caller only');

  markA = a.events.length;
  b.emit('exitUser', 'bob');
  const [, exited] = await waitFor(a, 'userExitUpdate', ev('userExitUpdate'), { from: markA });
  same(exited, 'bob', 'userExitUpdate nickname');
  markA = a.events.length;
  d.emit('connectUser', 'dave');
  const [, listD] = await waitFor(a, 'userList after exit', ev('userList'), { from: markA });
  same(listD.map((u) => [u.nickname, u.isConnected]), [['alice', true], ['dave', true], ['Pat', true]],
    'exitUser removes the entry; users of protocol 1 are listed');
  check('exitUser: userExitUpdate; the user leaves the list');

  markA = a.events.length;
  d.emit('startType', 'dave');
  await waitFor(a, 'dave typing', (e) => e[0] === 'userTypingUpdate' && e[1].dave === 1, { from: markA });
  markA = a.events.length;
  d.disconnect();
  const [, listGone] = await waitFor(a, 'userList after disconnect', ev('userList'), { from: markA });
  same(listGone.map((u) => [u.nickname, u.isConnected]), [['alice', true], ['dave', false], ['Pat', true]], 'disconnected user marked offline');
  await waitFor(a, 'userExitUpdate after disconnect', (e) => e[0] === 'userExitUpdate' && e[1] === 'dave', { from: markA });
  await waitFor(a, 'typing cleared after disconnect', (e) => e[0] === 'userTypingUpdate' && !('dave' in e[1]), { from: markA });
  const order = a.events.slice(markA).map((e) => e[0]).filter((n) => n !== 'newChatMessage');
  truthy(order.indexOf('userList') < order.indexOf('userExitUpdate'), `disconnect order ${order}`);
  check('disconnect: userList (offline), userExitUpdate, userTypingUpdate');

  // The nickname of a disconnected user can be taken again: its entry revives.
  const e2 = await connect(url, { version, transports });
  markA = a.events.length;
  e2.emit('connectUser', 'dave');
  const [, revived] = await waitFor(a, 'dave again', ev('userList'), { from: markA });
  same(revived.map((u) => [u.nickname, u.isConnected]), [['alice', true], ['dave', true], ['Pat', true]], 'entry revived in place');
  check('reconnect with the same nickname revives the entry');

  for (const s of [a, b, p, e2]) s.disconnect();
  await until('clients closed', () => !a.connected && !e2.connected);
});
