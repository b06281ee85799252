#!/usr/bin/env node
// Cluster-wide presence: presence.js NODE1 NODE2 NODE3 PID3 BUDGET_MS.
// Users on three nodes see each other in member and user lists; a nickname
// held on one node is refused on the others; then node 3 (PID3) is
// SIGKILLed and its user must leave everyone's presence (presence "left",
// user "offline", typing cleared, member lists) within BUDGET_MS, after
// which her nickname is free again.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, ok, fails } = require('../e2e/chatlib');

const [n1, n2, n3, pidArg, budgetArg] = process.argv.slice(2);
const pid = Number(pidArg);
const budget = Number(budgetArg);

scenario('presence', async (_, check) => {
  truthy(pid > 0 && budget > 0, 'usage: presence.js N1 N2 N3 PID3 BUDGET_MS');
  const alice = await connect(n1);
  await ok(alice, 'hello', { nickname: 'alice', rooms: ['general'], watchUsers: true });
  const bob = await connect(n2);
  const hb = await ok(bob, 'hello', { nickname: 'bob', rooms: ['general'], watchUsers: true });
  same(hb.rooms[0].members, ['alice', 'bob'], "bob's join members");
  same(hb.users.map((u) => u.nickname), ['alice', 'bob'], "bob's user list");
  const carol = await connect(n3);
  const hc = await ok(carol, 'hello', { nickname: 'carol', rooms: ['general'] });
  same(hc.rooms[0].members, ['alice', 'bob', 'carol'], "carol's join members");
  const ja = await ok(alice, 'join', 'general');
  same(ja.members, ['alice', 'bob', 'carol'], 'members asked on node 1');
  check('join results and user lists span the three nodes');

  for (const [url, nick] of [[n1, 'carol'], [n3, 'Alice'], [n2, 'CAROL']]) {
    const s = await connect(url);
    await fails(s, 'nickname_taken', 'hello', { nickname: nick });
    s.close();
  }
  await fails(bob, 'nickname_taken', 'nick', 'Carol');
  check('a nickname held on another node is refused (hello and nick, any case)');

  carol.emit('typing', { room: 'general', typing: true });
  await waitFor(alice, 'alice sees carol typing', (e) => e[0] === 'typing' && e[1].nicknames.includes('carol'));
  const fromA = alice.events.length;
  const fromB = bob.events.length;
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const left = (e) => e[0] === 'presence' && e[1].nickname === 'carol' && e[1].action === 'left';
  await waitFor(alice, 'alice sees carol leave', left, { from: fromA, ms: budget });
  const took = Date.now() - t0;
  await waitFor(bob, 'bob sees carol leave', left, { from: fromB, ms: budget });
  await waitFor(alice, 'alice sees carol go offline', (e) => e[0] === 'user' && e[1].nickname === 'carol' && e[1].status === 'offline', { from: fromA, ms: budget });
  await waitFor(alice, 'carol no longer typing', (e) => e[0] === 'typing' && !e[1].nicknames.includes('carol'), { from: fromA, ms: budget });
  same((await ok(alice, 'join', 'general')).members, ['alice', 'bob'], 'members after node 3 died');
  const c2 = await connect(n1);
  await ok(c2, 'hello', { nickname: 'carol' });
  check(`node 3 SIGKILLed: carol left, went offline and stopped typing for everyone after ${took} ms; her nickname is free`);
  for (const s of [alice, bob, c2]) s.disconnect();
  return { result: { leftAfterMs: took } };
}, { timeout: 60000 });
