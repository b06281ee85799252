#!/usr/bin/env node
// Connection state recovery with socket.io-client 4.8 against a server that
// enables it (refserver.js --recovery=MS; Banter with conformance
// Options.Recovery): see recovery_lib.js for what each round checks. Three
// ways to lose the transport: Engine.IO close over WebSocket and over
// polling (reconnecting by hand once the server saw the disconnect and the
// missed events were sent), and a network cut (a proxy destroys the TCP
// connection while room events flow and holds the client's reconnection
// attempts until the stream has stopped; the client reconnects by itself).
'use strict';

const { recoveryScenario } = require('./recovery_lib');

recoveryScenario('sio_v4_recovery', [
  { name: 'websocket engine close', transports: ['websocket'], drop: (s) => s.io.engine.close() },
  { name: 'polling engine close', transports: ['polling'], drop: (s) => s.io.engine.close() },
  { name: 'websocket network cut', transports: ['websocket'], cut: true },
]);
