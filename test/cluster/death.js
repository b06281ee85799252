#!/usr/bin/env node
// Node death: death.js PROXY_URL NODE1 NODE2 NODE3 PID3 PER_WRITER BUDGET_MS.
// A writer and a reader are pinned to each node; every writer sends
// PER_WRITER messages with client ids, one after the other. Midway the
// script SIGKILLs node 3 (PID3, started by the Go test). Its writer and
// reader reconnect through the proxy, which sends them to a live node; the
// writer resends what was not acknowledged with the same client id, the
// reader catches up with `since`; both resume their sessions with their
// token (the dead node holds their nicknames until its liveness key
// expires). Then: every acked message is stored once, nothing else is
// stored, and every reader has every seq once, in order within each
// connection, with the acked ids; and presence converges: within BUDGET_MS
// of the kill, the room's members are the connected users (what the dead
// node had recorded is gone).
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, call, ok, until, sleep } = require('../e2e/chatlib');

const [n1, n2, n3, pidArg, perArg, budgetArg] = process.argv.slice(3);
const pid = Number(pidArg);
const PER = Number(perArg);
const budget = Number(budgetArg);

// A connection that may die: resolves or rejects every pending call when
// the connection ends, instead of waiting for an ack that cannot come.
function guardedCall(sock, event, arg) {
  return new Promise((resolve, reject) => {
    const onDisc = () => reject(new Error('disconnected'));
    sock.once('disconnect', onDisc);
    call(sock, event, arg).then((a) => { sock.off('disconnect', onDisc); resolve(a); },
      (e) => { sock.off('disconnect', onDisc); reject(e); });
  });
}

async function reconnect(url) {
  for (let i = 0; ; i++) {
    try {
      return await connect(url);
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

scenario('death', async (proxy, check) => {
  truthy(pid > 0 && PER > 0 && budget > 0, 'usage: death.js PROXY N1 N2 N3 PID3 PER_WRITER BUDGET_MS');
  const nodes = [n1, n2, n3];

  // Readers: seq → id over all their connections; events must come in
  // order and once within a connection.
  const readers = [];
  for (let i = 0; i < 3; i++) {
    const r = { name: `reader${i + 1}`, got: new Map(), lastSeen: 0, reconnects: 0, problems: [] };
    const attach = (sock) => {
      r.sock = sock;
      let last = 0;
      sock.on('message', (m) => {
        if (m.room !== 'general') return;
        if (m.seq <= last) r.problems.push(`${r.name}: seq ${m.seq} after ${last} on one connection`);
        last = m.seq;
        r.record(m);
      });
      sock.on('disconnect', () => { if (!r.stopping) r.resume(); });
    };
    r.record = (m) => {
      const prev = r.got.get(m.seq);
      if (prev && prev !== m.id) r.problems.push(`${r.name}: seq ${m.seq} has ids ${prev} and ${m.id}`);
      r.got.set(m.seq, m.id);
      if (m.seq > r.lastSeen) r.lastSeen = m.seq;
    };
    r.resume = async () => {
      r.reconnects++;
      const s = await reconnect(proxy);
      attach(s);
      const h = await ok(s, 'hello', { nickname: r.name, since: { general: r.lastSeen }, resume: r.token });
      r.token = h.token;
      const jr = h.rooms[0];
      jr.messages.forEach(r.record);
      let more = jr.more;
      while (more) {
        const page = await ok(s, 'since', { room: 'general', after: r.lastSeen, limit: 200 });
        page.messages.filter((m) => m.seq <= jr.lastSeq).forEach(r.record);
        more = page.messages.length > 0 && r.lastSeen < jr.lastSeq;
      }
    };
    const s = await connect(nodes[i]);
    attach(s);
    r.token = (await ok(s, 'hello', { nickname: r.name, rooms: ['general'] })).token;
    readers.push(r);
  }

  // Writers.
  const acks = new Map(); // clientId → ack
  let killed = false;
  let killedAt = 0;
  const writer = async (i) => {
    const nick = `writer${i + 1}`;
    let sock = await connect(nodes[i]);
    let token = (await ok(sock, 'hello', { nickname: nick, rooms: ['general'] })).token;
    let reconnects = 0;
    for (let k = 0; k < PER; k++) {
      const clientId = `w${i + 1}-${k}`;
      for (;;) {
        try {
          const a = await guardedCall(sock, 'send', { room: 'general', text: `${nick} #${k}`, clientId });
          truthy(a && a.ok, `send ${clientId}: ${JSON.stringify(a)}`);
          acks.set(clientId, a);
          break;
        } catch (e) {
          if (!killed) throw e;
          // Our node died: any node will do, and the same client id
          // makes the resend safe whether or not the first one was stored.
          reconnects++;
          sock.close();
          sock = await reconnect(proxy);
          token = (await ok(sock, 'hello', { nickname: nick, rooms: ['general'], resume: token })).token;
        }
      }
      // Midway through node 3's writer (not the total: writers do not run
      // at the same pace, and node 3's must still be sending).
      if (!killed && i === 2 && k + 1 >= PER / 2) {
        killed = true;
        killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
      }
    }
    sock.close();
    return reconnects;
  };
  const reconnects = await Promise.all([0, 1, 2].map(writer));
  truthy(killed, 'node 3 was never killed');
  truthy(reconnects[2] >= 1, `writer3 never noticed its node die (reconnects ${reconnects})`);
  check(`node 3 SIGKILLed midway; writer reconnects ${reconnects.join('/')}`);

  const total = 3 * PER;
  same(acks.size, total, 'every send acknowledged');
  const seqs = [...acks.values()].map((a) => a.seq).sort((x, y) => x - y);
  same(seqs, Array.from({ length: total }, (_, i) => i + 1), 'acked seqs are 1..N: nothing stored twice, no gap');
  check(`${total} messages acked once each, seqs 1..${total}`);

  for (const r of readers) {
    await until(`${r.name} has all ${total} messages (has ${r.got.size})`, () => r.got.size >= total, 20000);
  }
  const bySeq = new Map([...acks.values()].map((a) => [a.seq, a.id]));
  for (const r of readers) {
    same(r.problems, [], `${r.name} problems`);
    same([...r.got.keys()].sort((x, y) => x - y), seqs, `${r.name} seqs`);
    for (const [seq, id] of r.got) same(id, bySeq.get(seq), `${r.name} seq ${seq} id`);
  }
  truthy(readers[2].reconnects >= 1, 'reader3 never reconnected');
  check('every reader has every acked message once, with its id (reader3 caught up on another node)');

  // The store agrees, read through any node.
  const v = await reconnect(proxy);
  await ok(v, 'hello', { nickname: 'verifier' });
  const page = await ok(v, 'history', { room: 'general', limit: 200 });
  truthy(total <= 200, 'PER too large for one history page');
  same(page.messages.map((m) => [m.seq, m.id]), seqs.map((s) => [s, bySeq.get(s)]), 'history after the death');
  check('history on a surviving node has exactly the acked messages');

  // The writers are gone; writer3's session on the dead node was never
  // ended, so only its expiry removes it from the room.
  const want = ['reader1', 'reader2', 'reader3', 'verifier'];
  let members;
  for (;;) {
    members = (await ok(v, 'join', 'general')).members;
    if (JSON.stringify(members) === JSON.stringify(want)) break;
    truthy(Date.now() - killedAt < budget, `members ${JSON.stringify(members)} ${Date.now() - killedAt} ms after the kill, want ${JSON.stringify(want)}`);
    await sleep(50);
  }
  check(`presence converged ${Date.now() - killedAt} ms after the kill: the room's members are the connected users`);
  for (const r of readers) {
    r.stopping = true;
    r.sock.close();
  }
  v.close();
}, { timeout: 80000 });
