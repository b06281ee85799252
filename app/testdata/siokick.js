// Socket.IO clients and tokens: a socket.io-client 2.x user (protocol v4,
// no handshake auth) passes its JWT in the query and says hello; a
// socket.io-client 4 admin kicks it. Prints one JSON line:
// {"v2hello": <ack>, "bye": <payload>, "reason": <v2 disconnect reason>, "kick": <ack>}.
//
// Usage: node siokick.js <url> <user token> <admin token>
'use strict';

const io4 = require('socket.io-client').io;
const io2 = require('socket.io-client-v2');

const [url, userToken, adminToken] = process.argv.slice(2);
if (!adminToken) {
  process.stderr.write('usage: node siokick.js <url> <user token> <admin token>\n');
  process.exit(2);
}
const out = {};
const done = (code) => { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(code); };
setTimeout(() => { out.error = 'timeout'; done(1); }, 30000);

const user = io2(url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { token: userToken } });
user.on('error', (e) => { out.error = String(e); done(1); });
user.on('bye', (b) => { out.bye = b; });
user.on('disconnect', (reason) => {
  out.reason = reason;
  if (out.kick) done(0);
});
user.on('connect', () => {
  user.emit('hello', { rooms: ['general'] }, (ack) => {
    out.v2hello = ack;
    if (!ack.ok) done(1);
    const admin = io4(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: adminToken } });
    admin.on('connect_error', (e) => { out.error = e.message; done(1); });
    admin.on('connect', async () => {
      await admin.timeout(10000).emitWithAck('hello', {});
      out.kick = await admin.timeout(10000).emitWithAck('kick', { nickname: ack.nickname, reason: 'spam' });
      admin.close();
      if (out.reason) done(0);
    });
  });
});
