#!/usr/bin/env node
// Durability across a SIGKILL of the server, in two runs.
//   durability.js URL send CLIENTS PER_CLIENT  sends from CLIENTS concurrent
//       clients and reports every ack (result.acks) as soon as all arrived;
//       the test kills the server right after.
//   durability.js URL verify ACKS_JSON_FILE     after a restart on the same
//       database: every acked message is in the history, catch-up from 0
//       returns each exactly once and in order, and resending an acked
//       clientId stores nothing new.
'use strict';

const fs = require('fs');
const { scenario, same, truthy } = require('../interop/lib');
const { connect, ok } = require('./chatlib');

const mode = process.argv[3];

scenario(`durability_${mode}`, async (url, check) => {
  if (mode === 'send') {
    const clients = Number(process.argv[4]);
    const per = Number(process.argv[5]);
    truthy(clients > 0 && per > 0, 'usage: send CLIENTS PER_CLIENT');
    const acks = [];
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      const s = await connect(url);
      await ok(s, 'hello', { nickname: `writer${c}`, rooms: ['general'] });
      // Pipelined: every send is in flight at once, so the store group-commits.
      const sent = await Promise.all(Array.from({ length: per }, (_, i) => {
        const text = `w${c} m${i}`;
        return ok(s, 'send', { room: 'general', text, clientId: `w${c}-${i}` })
          .then((a) => ({ id: a.id, seq: a.seq, ts: a.ts, text, nickname: `writer${c}`, clientId: `w${c}-${i}` }));
      }));
      acks.push(...sent);
    }));
    check(`${acks.length} acks`);
    return { result: { acks } };
  }
  if (mode !== 'verify') throw new Error('usage: send|verify');
  const { acks } = JSON.parse(fs.readFileSync(process.argv[4], 'utf8'));
  truthy(acks.length > 0, 'no acks to verify');

  const v = await connect(url);
  const h = await ok(v, 'hello', { nickname: 'verifier', since: { general: 0 } });
  const jr = h.rooms[0];
  const got = [...jr.messages];
  let more = jr.more;
  while (more) {
    const after = got.length ? got[got.length - 1].seq : 0;
    const page = await ok(v, 'since', { room: 'general', after, limit: 200 });
    got.push(...page.messages.filter((m) => m.seq <= jr.lastSeq));
    more = page.messages.length > 0 && got[got.length - 1].seq < jr.lastSeq;
  }
  same(got.map((m) => m.seq), Array.from({ length: jr.lastSeq }, (_, i) => i + 1), 'catch-up from 0: every seq once, in order');
  const bySeq = new Map(got.map((m) => [m.seq, m]));
  for (const a of acks) {
    const m = bySeq.get(a.seq);
    truthy(m, `acked seq ${a.seq} missing after restart`);
    same({ id: m.id, text: m.text, from: m.from, clientId: m.clientId, ts: m.ts },
      { id: a.id, text: a.text, from: a.nickname, clientId: a.clientId, ts: a.ts }, `message ${a.seq}`);
  }
  check(`all ${acks.length} acked messages survived the kill, once each (catch-up)`);

  let hist = [];
  let page = await ok(v, 'history', { room: 'general', limit: 200 });
  while (page.messages.length) {
    hist = page.messages.concat(hist);
    page = await ok(v, 'history', { room: 'general', before: page.messages[0].seq, limit: 200 });
  }
  same(hist.map((m) => m.id), got.map((m) => m.id), 'history paging sees the same messages');
  check('history has them all');

  const first = acks[0];
  const w = await connect(url);
  await ok(w, 'hello', { nickname: first.nickname, rooms: ['general'] });
  const again = await ok(w, 'send', { room: 'general', text: first.text, clientId: first.clientId });
  same([again.seq, again.id, again.duplicate], [first.seq, first.id, true], 'resend after restart is a duplicate');
  check('client ids survive the restart');
  v.disconnect();
  w.disconnect();
});
