#!/usr/bin/env node
// Socket.IO v5 namespaces with socket.io-client 4.8: "/" and "/custom"
// multiplexed on one Engine.IO session, auth per namespace, the "/private"
// middleware refusing with an error carrying data, unknown namespaces
// refused, and disconnects in other namespaces reported to a watcher in "/".
'use strict';

const { Manager, Socket } = require('socket.io-client');
const { scenario, once, emitAck, same, truthy } = require('./lib');

// open connects a new Socket on the shared Manager. Only "/" goes through
// manager.socket(), which caches one socket per namespace (a second /private
// would come back with the first one's auth); the Manager closes the shared
// session when none of its cached sockets is active, so "/" stays registered
// and connected throughout.
async function open(manager, nsp, opts) {
  const sock = nsp === '/' ? manager.socket(nsp, opts) : new Socket(manager, nsp, opts);
  const auth = once(sock, 'auth');
  await once(sock, 'connect', { failOn: ['connect_error'] });
  sock.authEvent = (await auth)[0];
  return sock;
}

async function refused(manager, nsp, opts) {
  const sock = new Socket(manager, nsp, opts);
  const [err] = await once(sock, 'connect_error', { failOn: ['connect'] });
  sock.close();
  return err;
}

scenario('sio_v4_namespaces', async (url, check) => {
  const m = new Manager(url, { reconnection: false, transports: ['websocket'] });
  const root = await open(m, '/');
  same(root.authEvent, {}, 'auth event without auth');
  const custom = await open(m, '/custom', { auth: { x: 1 } });
  same(custom.authEvent, { x: 1 }, '/custom auth event');
  check('auth per namespace');

  const [meRoot] = await emitAck(root, 'whoami');
  const [meCustom] = await emitAck(custom, 'whoami');
  same(meCustom.nsp, '/custom', '/custom whoami nsp');
  same(meCustom.id, custom.id, '/custom whoami id');
  truthy(meCustom.id !== meRoot.id, `same socket id ${meCustom.id} in two namespaces`);
  same(meCustom.engineId, meRoot.engineId, 'namespaces share one Engine.IO session');
  same(meCustom.engineId, m.engine.id, 'engine id seen by the client');
  check('multiplexed whoami');

  custom.emit('message', 'in custom', Buffer.from([7]));
  same(await once(custom, 'message-back'), ['in custom', Buffer.from([7])], '/custom message-back');
  same(await emitAck(custom, 'message-with-ack', { a: [1, 2] }), [{ a: [1, 2] }], '/custom ack');
  check('/custom events');

  for (const auth of [undefined, { token: 'wrong' }]) {
    const err = await refused(m, '/private', auth && { auth });
    same(err.message, 'unauthorized', `/private error message (auth ${JSON.stringify(auth)})`);
    same(err.data, { code: 401 }, '/private error data');
  }
  check('/private refuses without the token');
  const priv = await open(m, '/private', { auth: { token: 's3cret' } });
  same(priv.authEvent, { token: 's3cret' }, '/private auth event');
  same((await emitAck(priv, 'whoami'))[0].nsp, '/private', '/private whoami');
  check('/private accepts the token');

  const err = await refused(m, '/nope');
  same(err.message, 'Invalid namespace', 'unknown namespace error');
  check('unknown namespace refused');

  // Leaving one namespace does not close the others; the watcher in "/" sees it.
  same(await emitAck(root, 'watch-disconnects'), [true], 'watch-disconnects ack');
  for (const [sock, nsp] of [[custom, '/custom'], [priv, '/private']]) {
    const id = sock.id;
    const peer = once(root, 'peer-disconnect');
    sock.disconnect();
    same(await peer, [{ id, nsp, reason: 'client namespace disconnect' }], `peer-disconnect from ${nsp}`);
  }
  truthy(root.connected, '"/" disconnected when other namespaces left');
  same((await emitAck(root, 'whoami'))[0].engineId, meRoot.engineId, 'same session after leaving namespaces');
  check('namespace disconnects');

  root.disconnect();
});
