#!/usr/bin/env node
// Protocol 1.2, message state (docs/protocol.md "Message state"), with
// socket.io-client 4 and a plain WebSocket client (/ws): replies, mentions,
// reactions, edits and deletions of one's own messages, read markers,
// unread counts, seen-by; every refusal with its code; and a client that
// was offline catching up with the final state (since for new messages,
// changes for the changed ones). The server runs with --edit-window 2s.
// Usage: node msgstate.js http://HOST:PORT
'use strict';

const WebSocket = require('ws');
const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, until, ok, fails } = require('./chatlib');

const on = (sock, names) => { for (const n of names) sock.on(n, (...a) => sock.events.push([n, ...a])); };
const NEW_EVENTS = ['edited', 'reaction', 'deleted', 'read'];

scenario('msgstate', async (url, check) => {
  const a = await connect(url);
  const b = await connect(url);
  const c = await connect(url);
  for (const s of [a, b, c]) on(s, NEW_EVENTS);
  const ha = await ok(a, 'hello', { nickname: 'Alice', rooms: ['general', 'other'] });
  same(ha.key, 'alice', 'hello answers the nickname key');
  same(ha.limits.editWindowMs, 2000, 'limits.editWindowMs');
  await ok(b, 'hello', { nickname: 'Bob', rooms: ['general'] });
  const hc = await ok(c, 'hello', { nickname: 'Carol', rooms: ['general'] });
  check('three users in general');

  // --- mentions and replies ---
  const q = await ok(a, 'send', { room: 'general', text: 'question for @Bob: lunch?', clientId: 'q1' });
  const [, qm] = await waitFor(b, 'the question', (e) => e[0] === 'message' && e[1].seq === q.seq);
  same(qm.mentions, ['bob'], 'mentions are nickname keys');
  const other = await ok(a, 'send', { room: 'other', text: 'elsewhere' });
  const r = await ok(b, 'send', { room: 'general', text: 'yes!', replyTo: q.id, clientId: 'r1' });
  const [, rm] = await waitFor(a, 'the reply', (e) => e[0] === 'message' && e[1].seq === r.seq);
  same(rm.replyTo, { id: q.id, seq: q.seq, from: 'Alice', text: 'question for @Bob: lunch?' }, 'a reply carries its quote');
  await fails(b, 'invalid_argument', 'send', { room: 'general', text: 'x', replyTo: other.id });
  await fails(b, 'not_found', 'send', { room: 'general', text: 'x', replyTo: '999999' });
  await fails(b, 'invalid_argument', 'send', { room: 'general', text: 'x', replyTo: 7 });
  check('mentions; replies with quotes; a reply to another room refused');

  // --- reactions ---
  const re = await ok(b, 'react', { room: 'general', seq: q.seq, emoji: '👍' });
  same([re.seq, re.rev, re.reactions], [q.seq, 1, [{ emoji: '👍', count: 1, users: ['Bob'] }]], 'react ack');
  const [, rev] = await waitFor(a, 'reaction event', (e) => e[0] === 'reaction');
  same(rev, { room: 'general', seq: q.seq, rev: 1, emoji: '👍', nickname: 'Bob', added: true, reactions: [{ emoji: '👍', count: 1, users: ['Bob'] }] }, 'reaction event');
  await ok(c, 'react', { room: 'general', seq: q.seq, emoji: '👍' });
  const again = await ok(c, 'react', { room: 'general', seq: q.seq, emoji: '👍' });
  same([again.rev, again.reactions[0].count], [2, 2], 'the same reaction twice counts once');
  await fails(b, 'invalid_argument', 'react', { room: 'general', seq: q.seq, emoji: 'lol' });
  await fails(b, 'invalid_argument', 'react', { room: 'general', seq: q.seq });
  await fails(b, 'not_found', 'react', { room: 'general', seq: 99, emoji: '👍' });
  await fails(b, 'forbidden', 'react', { room: 'dm:alice:carol', seq: 1, emoji: '👍' });
  check('reactions: one per user and emoji, events, refusals');

  // --- edits and deletions ---
  const ed = await ok(a, 'edit', { room: 'general', seq: q.seq, text: 'question for @Bob and @Carol: lunch?' });
  same([ed.message.text, ed.message.rev, ed.message.mentions], ['question for @Bob and @Carol: lunch?', 3, ['bob', 'carol']], 'edit ack');
  truthy(ed.message.edited >= q.ts, 'edited time');
  const [, edm] = await waitFor(b, 'edited event', (e) => e[0] === 'edited');
  same(edm, ed.message, 'the edited event is the message as it is now');
  const [, quoted] = await ok(b, 'history', { room: 'general' }).then((h) => [0, h.messages.find((m) => m.seq === r.seq)]);
  same(quoted.replyTo.text, 'question for @Bob and @Carol: lunch?', 'a quote follows the edit');
  await fails(b, 'forbidden', 'edit', { room: 'general', seq: q.seq, text: 'mine now' });
  await fails(b, 'forbidden', 'delete', { room: 'general', seq: q.seq });
  await fails(a, 'empty_message', 'edit', { room: 'general', seq: q.seq, text: ' ' });
  await fails(a, 'invalid_argument', 'edit', { room: 'general', seq: q.seq });
  check('edits: own only, an event with the new state, quotes follow');

  // --- read markers, unread counts, seen ---
  const mk = await ok(c, 'mark', { room: 'general', read: r.seq });
  same([mk.nickname, mk.read, mk.delivered], ['Carol', r.seq, r.seq], 'mark ack');
  const [, rd] = await waitFor(a, 'read event', (e) => e[0] === 'read' && e[1].readers.some((m) => m.nickname === 'Carol'));
  same(rd.readers.find((m) => m.nickname === 'Carol').read, r.seq, 'read event');
  await ok(b, 'mark', { room: 'general', read: 1 });
  await ok(a, 'send', { room: 'general', text: '@bob are you there?' });
  const rooms = await ok(b, 'rooms');
  same(rooms.rooms.find((x) => x.room === 'general').read, { seq: 1, delivered: 1, unread: 1, mentions: 1 }, 'unread and mention counts');
  truthy(!('read' in rooms.rooms.find((x) => x.room === 'other')), 'a room never marked has no read state');
  const seen = await ok(a, 'seen', { room: 'general', seq: q.seq });
  same([seen.count, seen.nicknames.slice().sort()], [2, ['Bob', 'Carol']], 'seen by');
  await fails(b, 'invalid_argument', 'mark', { room: 'general', read: 999 });
  await fails(b, 'invalid_argument', 'mark', { room: 'general' });
  await fails(b, 'forbidden', 'mark', { room: 'dm:alice:carol', read: 1 });
  const j = await ok(b, 'join', 'general');
  truthy(j.read && j.read.read === 1 && j.readers.some((m) => m.nickname === 'Carol') && j.lastRev === 3, `join result read state: ${JSON.stringify([j.read, j.readers, j.lastRev])}`);
  check('read markers: events, unread and mention counts, seen, join results');

  // --- an offline client catches up with the final state ---
  const jc = await ok(c, 'join', 'general');
  const lastSeq = jc.lastSeq;
  const lastRev = jc.lastRev;
  c.disconnect();
  await ok(a, 'edit', { room: 'general', seq: q.seq, text: 'lunch at noon' });
  await ok(b, 'delete', { room: 'general', seq: r.seq });
  const late = await ok(a, 'send', { room: 'general', text: 'see you' });
  await ok(b, 'react', { room: 'general', seq: late.seq, emoji: '🎉' });
  const c2 = await connect(url);
  on(c2, NEW_EVENTS);
  const hc2 = await ok(c2, 'hello', { nickname: 'Carol', resume: hc.token, since: { general: lastSeq } });
  const cj = hc2.rooms[0];
  same(cj.messages.map((m) => [m.seq, m.text, m.reactions]), [[late.seq, 'see you', [{ emoji: '🎉', count: 1, users: ['Bob'] }]]], 'catch-up: new messages in their current state');
  const ch = await ok(c2, 'changes', { room: 'general', after: lastRev });
  same(ch.messages.map((m) => [m.seq, m.text, !!m.deleted]), [[q.seq, 'lunch at noon', false], [r.seq, '', true], [late.seq, 'see you', false]], 'changes: the changed messages, final state, rev order');
  same(ch.messages.map((m) => m.rev), [4, 5, 6], 'revs');
  same(cj.lastRev, 6, 'the join result says the last rev');
  check('offline client: since + changes give the final state');

  // --- the edit window ---
  const old = await ok(a, 'send', { room: 'general', text: 'soon too old' });
  await until('the edit window passes', () => Date.now() > old.ts + 2100, 5000);
  const late2 = await fails(a, 'forbidden', 'edit', { room: 'general', seq: old.seq, text: 'x' });
  truthy(/too late/.test(late2.error.message) && /2 seconds/.test(late2.error.message), `clear error: ${late2.error.message}`);
  await fails(a, 'forbidden', 'delete', { room: 'general', seq: old.seq });
  check('past the edit window: a clear refusal');

  // --- /ws: the same commands and events ---
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
  const wsEvents = [];
  const replies = new Map();
  ws.on('message', (data) => {
    const v = JSON.parse(data.toString());
    if (v.type === 'reply') replies.set(v.ref, v);
    else wsEvents.push(v);
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let ref = 0;
  const wsCall = async (cmd) => {
    const id = ++ref;
    ws.send(JSON.stringify({ ...cmd, ref: id }));
    await until(`/ws ${cmd.type}`, () => replies.has(id));
    return replies.get(id);
  };
  truthy((await wsCall({ type: 'hello', nickname: 'Dave', rooms: ['general'] })).ok, '/ws hello');
  const wsr = await wsCall({ type: 'send', room: 'general', text: 're: lunch', replyTo: q.id });
  truthy(wsr.ok, `/ws reply ${JSON.stringify(wsr)}`);
  const [, wsm] = await waitFor(a, '/ws reply at Alice', (e) => e[0] === 'message' && e[1].seq === wsr.seq);
  same(wsm.replyTo.text, 'lunch at noon', '/ws reply quote');
  const mark = a.events.length;
  truthy((await wsCall({ type: 'react', room: 'general', seq: wsr.seq, emoji: '✅' })).ok, '/ws react');
  await waitFor(a, '/ws reaction at Alice', (e) => e[0] === 'reaction' && e[1].nickname === 'Dave', { from: mark });
  truthy((await wsCall({ type: 'edit', room: 'general', seq: wsr.seq, text: 're: lunch (edited)' })).ok, '/ws edit');
  await waitFor(a, '/ws edit at Alice', (e) => e[0] === 'edited' && e[1].seq === wsr.seq, { from: mark });
  await ok(a, 'react', { room: 'general', seq: wsr.seq, emoji: '👍' });
  await until('reaction event on /ws', () => wsEvents.some((e) => e.type === 'reaction' && e.data.nickname === 'Alice'));
  const wf = await wsCall({ type: 'edit', room: 'general', seq: q.seq, text: 'not mine' });
  same([wf.ok, wf.error.code], [false, 'forbidden'], '/ws refusal');
  const wc = await wsCall({ type: 'changes', room: 'general', after: 6 });
  truthy(wc.ok && wc.messages.length === 1 && wc.messages[0].seq === wsr.seq, `/ws changes ${JSON.stringify(wc)}`);
  ws.close();
  check('/ws: replies, reactions, edits, changes, refusals');

  for (const s of [a, b, c2]) s.disconnect();
});
