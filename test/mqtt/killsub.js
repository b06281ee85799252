// A QoS 1 subscriber with a persistent session (MQTT.js, MQTT 5) that
// survives its broker being killed: it reconnects by itself, and when the
// broker says the session is not present (a restarted Banter keeps
// sessions in memory only) it subscribes again and asks for what it missed
// with a history request (after the last seq it has), as docs/protocol.md
// says. It prints one JSON line per message received ({seq, text, via}) and
// per connection ({event}), until it is killed. Usage:
//   node killsub.js MQTT_PORT ROOM
'use strict';

const mqtt = require('mqtt');

const [port, room] = process.argv.slice(2);
const topic = `banter/rooms/${room}`;
const replies = 'banter/replies/killsub';
let lastSeq = 0;
let connected = 0;

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const got = (m, via) => {
  if (m.seq > lastSeq) lastSeq = m.seq;
  out({ seq: m.seq, text: m.text, via });
};

const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
  clientId: 'killsub', username: 'killsub', clean: false, protocolVersion: 5,
  // Reconnecting a second later lets messages be stored meanwhile: the
  // catch-up must bring them.
  properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 1000, connectTimeout: 5000, resubscribe: false,
});

c.on('connect', (ack) => {
  connected++;
  out({ event: 'connect', sessionPresent: ack.sessionPresent });
  if (ack.sessionPresent) return;
  const after = lastSeq;
  c.subscribe([topic, replies], { qos: 1 }, (err) => {
    if (err) {
      out({ event: 'error', message: `subscribe: ${err.message}` });
      return;
    }
    out({ event: 'subscribed' });
    if (connected > 1) {
      // The restarted broker has no session: catch up from the store.
      c.publish('banter/history', JSON.stringify({ room, after, limit: 1000 }), {
        qos: 1, properties: { responseTopic: replies, correlationData: Buffer.from('catch-up') },
      });
    }
  });
});

c.on('message', (t, payload) => {
  const o = JSON.parse(payload.toString());
  if (t === topic) got(o, 'live');
  else if (t === replies) {
    if (o.error) out({ event: 'error', message: `history: ${o.error.code}` });
    for (const m of o.messages || []) got(m, 'history');
    out({ event: 'history', count: (o.messages || []).length, more: o.more });
  }
});

c.on('error', (e) => out({ event: 'error', message: String(e.message) }));
