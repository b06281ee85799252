#!/usr/bin/env node
// A Redis Cluster shard dies under traffic:
// shardkill.js CONTROL_URL NODE1 NODE2 NODE3 ROOMS PER_WRITER.
// Three banter nodes share a Redis Cluster of three shards; ROOMS (comma-
// separated) spread over the shards. A reader and a writer are pinned to
// each node, in every room; every writer sends PER_WRITER messages with
// client ids, round robin over the rooms, one after the other. When writer 1
// is a third through, the script asks the Go test (CONTROL_URL/kill) to
// SIGKILL a shard (the one holding the roster's keys, and rooms); the
// writers go on (their sends are stored and acknowledged; publishing to the
// dead shard fails); at two thirds it asks for the shard's restart
// (CONTROL_URL/restart: empty, with its slots). Then: every acked message is
// stored once, and every reader has every message of every room once, in
// order, with the acked id: the nodes subscribed again on the restarted
// shard and read what they missed from the store. Presence recovers too: the
// shard's restart lost the roster, the nodes notice and record their users
// again, so every node lists all six users.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, call, ok, until, sleep } = require('../e2e/chatlib');

const [n1, n2, n3, roomsArg, perArg] = process.argv.slice(3);
const rooms = (roomsArg || '').split(',').filter(Boolean);
const PER = Number(perArg);

async function control(base, what) {
  const res = await fetch(`${base}/${what}`, { method: 'POST' });
  const text = await res.text();
  truthy(res.ok, `control ${what}: ${res.status} ${text}`);
}

scenario('shardkill', async (ctl, check) => {
  truthy(rooms.length >= 3 && PER > 0, 'usage: shardkill.js CONTROL N1 N2 N3 ROOMS PER_WRITER');
  const nodes = [n1, n2, n3];

  // Readers: room → seq → id; within a room, events in order, once.
  const readers = [];
  for (let i = 0; i < 3; i++) {
    const r = { name: `reader${i + 1}`, got: new Map(rooms.map((rm) => [rm, new Map()])), last: new Map(), problems: [] };
    r.sock = await connect(nodes[i]);
    r.sock.on('message', (m) => {
      const got = r.got.get(m.room);
      if (!got) return;
      const last = r.last.get(m.room) || 0;
      if (m.seq !== last + 1) r.problems.push(`${r.name}: ${m.room} seq ${m.seq} after ${last}`);
      r.last.set(m.room, Math.max(last, m.seq));
      if (got.has(m.seq) && got.get(m.seq) !== m.id) r.problems.push(`${r.name}: ${m.room} seq ${m.seq} has ids ${got.get(m.seq)} and ${m.id}`);
      got.set(m.seq, m.id);
    });
    await ok(r.sock, 'hello', { nickname: r.name, rooms });
    readers.push(r);
  }

  const acks = new Map(); // clientId → ack
  let killed = false;
  let restarted = false;
  const writer = async (i) => {
    const nick = `writer${i + 1}`;
    const sock = await connect(nodes[i]);
    await ok(sock, 'hello', { nickname: nick, rooms });
    for (let k = 0; k < PER; k++) {
      const room = rooms[(k + i) % rooms.length];
      const clientId = `w${i + 1}-${k}`;
      for (let attempt = 0; ; attempt++) {
        let a;
        try {
          a = await call(sock, 'send', { room, text: `${nick} #${k}`, clientId });
        } catch (e) {
          // No ack in time (a send waits for its publication, which a dead
          // shard may hold up): the same client id makes the resend safe.
          truthy(attempt < 5, `send ${clientId}: ${e.message}`);
          continue;
        }
        truthy(a && a.ok, `send ${clientId}: ${JSON.stringify(a)}`);
        acks.set(clientId, a);
        break;
      }
      if (i === 0 && !killed && k + 1 >= PER / 3) {
        killed = true;
        await control(ctl, 'kill');
      }
      if (i === 0 && !restarted && k + 1 >= (2 * PER) / 3) {
        restarted = true;
        await control(ctl, 'restart');
      }
    }
    sock.close();
  };
  await Promise.all([0, 1, 2].map(writer));
  truthy(killed && restarted, 'the shard was not killed and restarted');
  check('a shard SIGKILLed a third through the traffic, restarted at two thirds');

  same(acks.size, 3 * PER, 'every send acknowledged');
  const byRoom = new Map(rooms.map((rm) => [rm, new Map()]));
  for (const a of acks.values()) byRoom.get(a.room).set(a.seq, a.id);
  for (const [rm, m] of byRoom) {
    const seqs = [...m.keys()].sort((x, y) => x - y);
    same(seqs, Array.from({ length: seqs.length }, (_, j) => j + 1), `${rm}: acked seqs are 1..N`);
  }
  check(`${acks.size} messages acked once each, gap-free seqs in each of ${rooms.length} rooms`);

  for (const r of readers) {
    for (const [rm, want] of byRoom) {
      await until(`${r.name} has all ${want.size} messages of ${rm} (has ${r.got.get(rm).size})`, () => r.got.get(rm).size >= want.size, 30000);
    }
  }
  for (const r of readers) {
    same(r.problems, [], `${r.name} problems`);
    for (const [rm, want] of byRoom) {
      same([...r.got.get(rm).entries()].sort((x, y) => x[0] - y[0]), [...want.entries()].sort((x, y) => x[0] - y[0]), `${r.name} ${rm}`);
    }
  }
  check('every reader on every node has every acked message of every room once, in order (what the dead shard did not carry came from the store)');

  // Presence: the restarted shard lost the roster; each node records its
  // users again. The writers left; the readers remain.
  const want = ['reader1', 'reader2', 'reader3'];
  const t0 = Date.now();
  for (const r of readers) {
    for (;;) {
      const members = (await ok(r.sock, 'join', rooms[0])).members;
      if (JSON.stringify(members) === JSON.stringify(want)) break;
      truthy(Date.now() - t0 < 20000, `${r.name}'s node lists ${JSON.stringify(members)} in ${rooms[0]}, want ${JSON.stringify(want)}`);
      await sleep(50);
    }
  }
  check('after the restart, every node lists the members of every node again');
  for (const r of readers) r.sock.close();
}, { timeout: 150000 });
