// Real MQTT clients and a Socket.IO user chat in one room: MQTT.js over TCP
// (MQTT 5) and over WebSocket at /mqtt (MQTT 3.1.1), socket.io-client 4
// speaking protocol 1, and mosquitto_pub. Usage:
//   node rooms.js http://HOST:PORT MQTT_PORT
'use strict';

const { execFileSync } = require('child_process');
const mqtt = require('mqtt');
const { scenario, truthy, same } = require('../interop/lib');
const { connect, ok, until } = require('../e2e/chatlib');

scenario('mqtt-rooms', async (url, check) => {
  const port = process.argv[3];
  const host = new URL(url).hostname;
  const room = 'lobby';
  const topic = `banter/rooms/${room}`;

  // socket.io-client, protocol 1.
  const sio = await connect(url);
  await ok(sio, 'hello', { nickname: 'sio', rooms: [room] });

  // MQTT.js: MQTT 5 over TCP, MQTT 3.1.1 over WebSocket.
  const got = { tcp: [], ws: [] };
  const tcp = await mqtt.connectAsync(`mqtt://${host}:${port}`, {
    username: 'tcpuser', password: 'anything', clientId: 'tcp-1', protocolVersion: 5, reconnectPeriod: 0,
  });
  const ws = await mqtt.connectAsync(`${url.replace(/^http/, 'ws')}/mqtt`, {
    username: 'wsuser', clientId: 'ws-1', protocolVersion: 4, reconnectPeriod: 0,
  });
  for (const [name, c] of [['tcp', tcp], ['ws', ws]]) {
    c.on('message', (t, payload) => { if (t === topic) got[name].push(JSON.parse(payload.toString())); });
    const granted = await c.subscribeAsync(topic, { qos: 1 });
    same(granted.map((g) => g.qos), [1], `${name} SUBACK`);
  }
  check('MQTT.js over TCP (v5) and WebSocket (3.1.1) subscribed');

  // Everyone sends one message; mosquitto_pub one more.
  await ok(sio, 'send', { room, text: 'from socket.io' });
  await tcp.publishAsync(topic, JSON.stringify({ text: 'from mqtt tcp', clientId: 'm1' }), { qos: 1 });
  await ws.publishAsync(topic, 'from mqtt ws', { qos: 1 });
  execFileSync('mosquitto_pub', ['-h', host, '-p', port, '-u', 'mosqpub', '-i', 'mosqpub', '-q', '1',
    '-t', topic, '-m', 'from mosquitto_pub'], { timeout: 20000 });
  const texts = ['from socket.io', 'from mqtt tcp', 'from mqtt ws', 'from mosquitto_pub'];
  const sioTexts = () => sio.events.filter((e) => e[0] === 'message' && e[1].room === room).map((e) => e[1].text);
  await until('socket.io user has the 4 messages', () => sioTexts().length >= 4);
  await until('MQTT.js clients have the 4 messages', () => got.tcp.length >= 4 && got.ws.length >= 4);
  for (const list of [sioTexts(), got.tcp.map((m) => m.text), got.ws.map((m) => m.text)]) {
    same(list.slice().sort(), texts.slice().sort(), 'every client got every message once');
  }
  same(got.tcp.map((m) => m.seq), got.ws.map((m) => m.seq), 'same sequence numbers on both MQTT clients');
  truthy(got.tcp.every((m, i) => m.seq === got.tcp[0].seq + i), 'in order, without gaps');
  same(got.tcp.find((m) => m.text === 'from mqtt tcp').from, 'tcpuser', 'sender is the MQTT username');
  check('four clients of three protocols, one room, one history');

  // An unauthorised publish (someone else's DM room) is refused in the
  // MQTT 5 PUBACK.
  let refused = null;
  try {
    await tcp.publishAsync('banter/rooms/dm:alice:bob', 'let me in', { qos: 1 });
  } catch (e) {
    refused = e;
  }
  truthy(refused && refused.code === 135, `PUBACK of a foreign DM: ${refused && refused.code}`);
  check('unauthorised publish refused with reason 0x87');

  // History request/response with an MQTT 5 response topic.
  await tcp.subscribeAsync('banter/replies/tcp-1', { qos: 1 });
  const reply = new Promise((resolve) => tcp.on('message', (t, p, packet) => {
    if (t === 'banter/replies/tcp-1') resolve([JSON.parse(p.toString()), packet.properties]);
  }));
  await tcp.publishAsync('banter/history', JSON.stringify({ room, limit: 2 }), {
    qos: 1, properties: { responseTopic: 'banter/replies/tcp-1', correlationData: Buffer.from('q1') },
  });
  const [hist, props] = await reply;
  same(hist.messages.map((m) => m.text), texts.slice(2), 'history: the last two');
  same(props.correlationData.toString(), 'q1', 'correlation data echoed');
  check('history over MQTT 5 request/response');

  await Promise.all([tcp.endAsync(), ws.endAsync()]);
  sio.close();
});
