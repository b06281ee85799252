#!/usr/bin/env node
// The classic "chat message" dialect is a dialect of the default room's
// delivery: tutorial clients that only listen (socket.io-client 4 and 2.5)
// receive every message of "general", whatever the gateway it was sent
// through: REST, plain WebSocket (/ws), TCP text mode, MQTT over WebSocket
// and protocol 1 over Socket.IO; each once, as "nickname: text".
// Usage: node classic_gateways.js http://HOST:PORT TCP_HOST:TCP_PORT
'use strict';

const net = require('net');
const WebSocket = require('ws');
const mqtt = require('mqtt');
const { scenario, same, truthy } = require('../interop/lib');
const { connect, ok, until } = require('./chatlib');

scenario('classic-gateways', async (url, check) => {
  const [tcpHost, tcpPort] = process.argv[3].split(':');
  const v4 = await connect(url); // listens only
  const v2 = await connect(url, { version: 'v2' }); // listens only
  check('two tutorial clients listening');

  // REST.
  const post = async (path, body, token) => {
    const res = await fetch(url + '/api/v1' + path, {
      method: 'POST', body: JSON.stringify(body),
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    const v = await res.json();
    truthy(v.ok === true, `POST ${path}: ${res.status} ${JSON.stringify(v)}`);
    return v;
  };
  const session = await post('/sessions', { nickname: 'rester' });
  await post('/rooms/general/messages', { text: 'hi from REST' }, session.token);

  // Plain WebSocket.
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
  const replies = new Map();
  ws.on('message', (data) => {
    const v = JSON.parse(data.toString());
    if (v.type === 'reply') replies.set(v.ref, v);
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'hello', ref: 1, nickname: 'wsuser', rooms: ['general'] }));
  await until('/ws hello', () => replies.has(1));
  ws.send(JSON.stringify({ type: 'send', ref: 2, room: 'general', text: 'hi from /ws' }));
  await until('/ws send', () => replies.has(2));
  truthy(replies.get(2).ok === true, `/ws send: ${JSON.stringify(replies.get(2))}`);

  // TCP text mode (nc).
  const tcp = net.connect(Number(tcpPort), tcpHost);
  let tcpOut = '';
  tcp.on('data', (d) => { tcpOut += d.toString(); });
  tcp.write('tcpuser\n');
  await until('TCP user in general', () => tcpOut.includes('you are now talking in general'));
  tcp.write('hi from TCP\n');
  await until('TCP message echoed', () => tcpOut.includes('[general] tcpuser: hi from TCP'));

  // MQTT over WebSocket.
  const mq = await mqtt.connectAsync(`${url.replace(/^http/, 'ws')}/mqtt`, {
    username: 'mqttuser', clientId: 'classic-mqtt', protocolVersion: 4, reconnectPeriod: 0,
  });
  await mq.publishAsync('banter/rooms/general', 'hi from MQTT', { qos: 1 });

  // Protocol 1 over Socket.IO.
  const p = await connect(url);
  await ok(p, 'hello', { nickname: 'Pat', rooms: ['general'] });
  await ok(p, 'send', { room: 'general', text: 'hi from Socket.IO' });

  const want = ['rester: hi from REST', 'wsuser: hi from /ws', 'tcpuser: hi from TCP', 'mqttuser: hi from MQTT', 'Pat: hi from Socket.IO'];
  const heard = (s) => s.events.filter((e) => e[0] === 'chat message').map((e) => e[1]);
  for (const [s, who] of [[v4, 'socket.io-client 4'], [v2, 'socket.io-client 2.5']]) {
    await until(`${who} hears all five`, () => heard(s).length >= want.length);
    same(heard(s), want, `what ${who} heard, in order, once each`);
  }
  check('listening tutorial clients hear REST, /ws, TCP, MQTT and protocol 1 messages');

  tcp.end();
  ws.close();
  await mq.endAsync();
  for (const s of [v4, v2, p]) s.disconnect();
});
