#!/usr/bin/env node
// A large room (the server runs with --large-room 3): per-user presence
// stops, members get the count; join results list the first members with
// memberCount and moreMembers; the members command pages the list.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, ok } = require('./chatlib');

scenario('largeroom', async (url, check) => {
  const users = [];
  for (const n of ['ann', 'bob', 'cat']) {
    const s = await connect(url);
    await ok(s, 'hello', { nickname: n, rooms: ['big'] });
    users.push(s);
  }
  const ann = users[0];
  await waitFor(ann, 'cat joined', (e) => e[0] === 'presence' && e[1].nickname === 'cat');
  check('a small room: per-user presence');

  const mark = ann.events.length;
  const dan = await connect(url);
  const h = await ok(dan, 'hello', { nickname: 'dan', rooms: ['big'] });
  const j = h.rooms[0];
  same([j.memberCount, j.moreMembers], [4, true], 'join result of a large room');
  truthy(j.members.length <= 100 && j.members[0] === 'ann', `first page ${JSON.stringify(j.members)}`);
  users.push(dan);
  const [, m] = await waitFor(ann, 'the count', (e) => e[0] === 'members', { from: mark });
  same([m.room, m.count, m.large], ['big', 4, true], 'members event');
  truthy(!ann.events.slice(mark).some((e) => e[0] === 'presence'), 'no per-user presence in a large room');
  check('a large room: the count instead of presence, a paged join result');

  const p1 = await ok(ann, 'members', { room: 'big', limit: 2 });
  same([p1.members, p1.more], [['ann', 'bob'], true], 'first page');
  const p2 = await ok(ann, 'members', { room: 'big', after: 'bob', limit: 2 });
  same([p2.members, p2.more], [['cat', 'dan'], false], 'last page');
  const bad = await new Promise((r) => ann.emit('members', { room: 'dm:x:y' }, r));
  same(bad.error && bad.error.code, 'forbidden', 'members of someone else\'s DM');
  check('members pages the list on demand, with the rights of reading');
  for (const s of users) s.disconnect();
});
