// A Socket.IO user (official socket.io-client 4) and an MQTT user (MQTT.js)
// connecting over TLS with the test's CA, for app's TLS test. It says hello
// over Socket.IO (polling, then upgrade to WebSocket unless --websocket),
// sends a message and waits for its ack; then connects with MQTT over TLS
// (when an MQTT URL is given) and publishes to the same room with QoS 1.
// It prints one JSON report line: {"ok", "transport", "ack", "mqtt"}.
//
// Usage: node tlsuser.js <https-url> <ca.pem> <transports: polling,websocket|websocket> [mqtts-url]
'use strict';

const fs = require('fs');
const { io } = require('socket.io-client');
const mqtt = require('mqtt');

const [url, caFile, transports, mqttURL] = process.argv.slice(2);
if (!transports) {
  process.stderr.write('usage: node tlsuser.js <https-url> <ca.pem> <transports> [mqtts-url]\n');
  process.exit(2);
}
const ca = fs.readFileSync(caFile);
const report = (r, code) => {
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(code);
};
setTimeout(() => report({ ok: false, error: 'timeout' }, 1), 30000);

const sock = io(url, { transports: transports.split(','), ca, forceNew: true, reconnection: false });
sock.on('connect_error', (err) => report({ ok: false, error: 'connect_error: ' + err.message }, 1));
sock.on('connect', async () => {
  try {
    await sock.timeout(10000).emitWithAck('hello', { nickname: 'tls-user', rooms: ['general'] });
    if (transports.includes('polling')) {
      // Wait for the upgrade to WebSocket.
      await new Promise((resolve) => {
        if (sock.io.engine.transport.name === 'websocket') return resolve();
        sock.io.engine.once('upgrade', resolve);
      });
    }
    const ack = await sock.timeout(10000).emitWithAck('send', { room: 'general', text: 'over tls', clientId: 'tls-' + transports });
    const transport = sock.io.engine.transport.name;
    sock.close();
    if (!mqttURL) return report({ ok: ack.ok === true, transport, ack }, ack.ok ? 0 : 1);
    const client = mqtt.connect(mqttURL, { ca, username: 'tls-mqtt', clientId: 'tls-mqtt', reconnectPeriod: 0, connectTimeout: 10000 });
    client.on('error', (err) => report({ ok: false, error: 'mqtt: ' + err.message }, 1));
    client.on('connect', () => {
      client.publish('banter/rooms/general', JSON.stringify({ text: 'over mqtts' }), { qos: 1 }, (err) => {
        client.end(true);
        if (err) return report({ ok: false, error: 'mqtt publish: ' + err.message }, 1);
        report({ ok: ack.ok === true, transport, ack, mqtt: 'published' }, ack.ok ? 0 : 1);
      });
    });
  } catch (err) {
    report({ ok: false, error: String(err) }, 1);
  }
});
