// Socket.IO authentication probe (official socket.io-client 4): for each
// token of the JSON array argv[3] ("" = none), connect with
// auth: {token}, and either say hello (no nickname: the token names the
// user) or record the CONNECT_ERROR. Prints one JSON line:
// [{"connected": true, "hello": <ack>} | {"error": <message>, "data": <data>}, ...].
//
// Usage: node sioauth.js <url> '<["tok1", ""]>'
'use strict';

const { io } = require('socket.io-client');

const [url, tokensJSON] = process.argv.slice(2);
if (!tokensJSON) {
  process.stderr.write('usage: node sioauth.js <url> <tokens JSON>\n');
  process.exit(2);
}

function probe(token) {
  return new Promise((resolve) => {
    const opts = { transports: ['websocket'], forceNew: true, reconnection: false };
    if (token) opts.auth = { token };
    const sock = io(url, opts);
    const timer = setTimeout(() => { sock.close(); resolve({ error: 'timeout' }); }, 15000);
    sock.on('connect', async () => {
      try {
        const ack = await sock.timeout(10000).emitWithAck('hello', {});
        resolve({ connected: true, hello: ack });
      } catch (e) {
        resolve({ connected: true, error: String(e) });
      }
      clearTimeout(timer);
      sock.close();
    });
    sock.on('connect_error', (e) => {
      clearTimeout(timer);
      sock.close();
      resolve({ error: e.message, data: e.data });
    });
  });
}

(async () => {
  const out = [];
  for (const t of JSON.parse(tokensJSON)) out.push(await probe(t));
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
})();
