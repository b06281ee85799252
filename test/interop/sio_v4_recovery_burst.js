#!/usr/bin/env node
// Connection state recovery under load, with socket.io-client 4.8: like the
// network cut round of sio_v4_recovery.js, but bursts of room messages keep
// flowing while the client reconnects, so the server's replay of the missed
// events races with live broadcasts to the restored rooms. Every message
// must still arrive once and in order (see recovery_lib.js).
'use strict';

const { recoveryScenario } = require('./recovery_lib');

recoveryScenario('sio_v4_recovery_burst', [
  { name: 'websocket', transports: ['websocket'], cut: true, acrossReconnect: true, batch: 20 },
  { name: 'polling', transports: ['polling'], cut: true, acrossReconnect: true, batch: 20 },
]);
