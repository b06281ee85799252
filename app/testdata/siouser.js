// A Socket.IO user of chat protocol 1 (official socket.io-client 4) for the
// gateway tests: it says hello in <room>, waits for a message from
// <expectFrom> with text <expectText>, answers <replyText> with send, and
// prints one JSON report line: {"ok", "ack", "got": [messages received]}.
//
// Usage: node siouser.js <url> <nickname> <room> <expectFrom> <expectText> <replyText>
'use strict';

const { io } = require('socket.io-client');

const [url, nickname, room, expectFrom, expectText, replyText] = process.argv.slice(2);
if (!replyText) {
  process.stderr.write('usage: node siouser.js <url> <nickname> <room> <expectFrom> <expectText> <replyText>\n');
  process.exit(2);
}
const got = [];
const report = (r, code) => {
  process.stdout.write(JSON.stringify({ ...r, got }) + '\n');
  process.exit(code);
};
const timer = setTimeout(() => report({ ok: false, error: 'timeout waiting for the message' }, 1), 30000);
const sock = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
let replied = false;
sock.on('message', async (m) => {
  got.push(m);
  if (replied || m.from !== expectFrom || m.text !== expectText) return;
  replied = true;
  const ack = await sock.timeout(10000).emitWithAck('send', { room, text: replyText, clientId: 'reply-1' });
  clearTimeout(timer);
  sock.close();
  report({ ok: ack.ok === true, ack }, ack.ok ? 0 : 1);
});
sock.on('connect', async () => {
  const ack = await sock.timeout(10000).emitWithAck('hello', { nickname, rooms: [room] });
  if (!ack.ok || !ack.rooms[0].ok) report({ ok: false, error: 'hello failed', ack }, 1);
});
sock.on('connect_error', (e) => report({ ok: false, error: String(e) }, 1));
