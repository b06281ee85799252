// A Socket.IO member (official socket.io-client 4) authenticated with a JWT
// in the handshake: joins <room> and prints the first "deleted" event as
// one JSON line, then exits.
//
// Usage: node siodeleted.js <url> <token> <room>
'use strict';

const { io } = require('socket.io-client');

const [url, token, room] = process.argv.slice(2);
if (!room) {
  process.stderr.write('usage: node siodeleted.js <url> <token> <room>\n');
  process.exit(2);
}
const done = (v, code) => { process.stdout.write(JSON.stringify(v) + '\n'); process.exit(code); };
setTimeout(() => done({ error: 'timeout waiting for "deleted"' }, 1), 30000);
const sock = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } });
sock.on('deleted', (d) => { sock.close(); done({ deleted: d }, 0); });
sock.on('connect', async () => {
  const ack = await sock.timeout(10000).emitWithAck('hello', { rooms: [room] });
  if (!ack.ok || !ack.rooms[0].ok) done({ error: 'hello failed', ack }, 1);
});
sock.on('connect_error', (e) => done({ error: e.message, data: e.data }, 1));
