#!/usr/bin/env node
// Look-alike and invisible nicknames (issue 19, item 2) on every gateway:
// while "Alice" is online (socket.io-client, protocol 1), nicknames that
// look like hers are refused with nickname_taken, and nicknames with
// invisible or direction-changing characters with invalid_nickname, over
// Socket.IO (protocol 1 and SocketChat), TCP JSON lines, /ws, REST and
// MQTT (MQTT.js). Usage: node lookalikes.js http://HOST:PORT TCP_PORT MQTT_PORT
'use strict';

const net = require('net');
const mqtt = require('mqtt');
const WebSocket = require('ws');
const { scenario, truthy, same, STEP_TIMEOUT } = require('../interop/lib');
const { connect, ok, fails, call } = require('./chatlib');

const lookAlikes = [
  ['fullwidth', '\uff21\uff4c\uff49\uff43\uff45'], // Ａｌｉｃｅ
  ['Cyrillic A', '\u0410lice'],
  ['Greek Alpha', '\u0391lice'],
  ['upper case', 'ALICE'],
];
const invisible = [
  ['left-to-right mark', 'Alice\u200e'],
  ['zero-width space', 'Al\u200bice'],
  ['right-to-left override', '\u202eecilA'],
];

// tcpHello sends a JSON-lines hello and resolves with the reply.
function tcpHello(port, nickname) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { c.destroy(); reject(new Error('TCP: no reply')); }, STEP_TIMEOUT);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i < 0) return;
      clearTimeout(timer);
      c.destroy();
      resolve(JSON.parse(buf.slice(0, i)));
    });
    c.on('error', reject);
    c.write(JSON.stringify({ type: 'hello', ref: 1, nickname }) + '\n');
  });
}

// wsHello does the same over /ws.
function wsHello(url, nickname) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('/ws: no reply')); }, STEP_TIMEOUT);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', ref: 1, nickname })));
    ws.on('message', (d) => {
      clearTimeout(timer);
      ws.close();
      resolve(JSON.parse(d.toString()));
    });
    ws.on('error', reject);
  });
}

async function restHello(url, nickname) {
  const r = await fetch(`${url}/api/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ nickname }),
  });
  return { status: r.status, body: await r.json() };
}

// mqttRefused resolves with the CONNACK return code of a refused CONNECT.
async function mqttRefused(host, port, username, clientId) {
  try {
    const c = await mqtt.connectAsync(`mqtt://${host}:${port}`, {
      username, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: STEP_TIMEOUT,
    });
    await c.endAsync();
    throw new Error(`MQTT: ${JSON.stringify(username)} was accepted`);
  } catch (e) {
    if (e.code === undefined) throw e;
    return e.code;
  }
}

scenario('lookalikes', async (url, check) => {
  const [tcpPort, mqttPort] = process.argv.slice(3);
  const host = new URL(url).hostname;
  const alice = await connect(url);
  await ok(alice, 'hello', { nickname: 'Alice' });
  check('Alice online');

  const codeOf = (r) => r && r.ok === false && r.error && r.error.code;
  for (const [what, nick, want] of [...lookAlikes.map(([w, n]) => [w, n, 'nickname_taken']), ...invisible.map(([w, n]) => [w, n, 'invalid_nickname'])]) {
    const s = await connect(url);
    await fails(s, want, 'hello', { nickname: nick });
    s.close();
    const sc = await connect(url);
    await fails(sc, want, 'connectUser', nick); // SocketChat, with an ack
    sc.close();
    same(codeOf(await tcpHello(tcpPort, nick)), want, `TCP ${what}`);
    same(codeOf(await wsHello(url, nick)), want, `/ws ${what}`);
    const rest = await restHello(url, nick);
    same([rest.status, codeOf(rest.body)], [want === 'nickname_taken' ? 409 : 400, want], `REST ${what}`);
    const rc = await mqttRefused(host, mqttPort, nick, `lookalike-${what.replace(/\W/g, '-')}`);
    truthy(rc === 4 || rc === 5, `MQTT ${what}: CONNACK ${rc}, want a refusal`);
    check(`${what} ${JSON.stringify(nick)}: ${want} on Socket.IO, SocketChat, TCP, /ws, REST, MQTT`);
  }

  // Alice herself cannot rename into a look-alike of someone online either.
  const bob = await connect(url);
  await ok(bob, 'hello', { nickname: 'Bob' });
  await fails(alice, 'nickname_taken', 'nick', '\u0412ob'); // Cyrillic В
  await fails(alice, 'invalid_nickname', 'nick', 'Bob\u200d');
  check('nick: look-alike and invisible refused');

  // A DM to a look-alike spelling reaches the real user in the one DM room.
  const dm = await ok(alice, 'dm', { to: '\uff22\uff4f\uff42', text: 'hi Bob' }); // Ｂｏｂ
  same(dm.room, 'dm:alice:bob', 'DM room of a fullwidth spelling');
  check('DM to a fullwidth spelling: the same room');

  // Once Alice leaves, a look-alike may take the name.
  alice.close();
  let h;
  for (let i = 0; i < 200; i++) {
    const s = await connect(url);
    h = await call(s, 'hello', { nickname: '\u0410lice' });
    if (h.ok) break;
    s.close();
    await new Promise((r) => setTimeout(r, 25));
  }
  truthy(h && h.ok, `after Alice left: ${JSON.stringify(h)}`);
  check('after Alice left, the look-alike is free');
});
