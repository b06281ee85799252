#!/usr/bin/env node
// Engine.IO v4 with engine.io-client 6 against the raw echo endpoint
// /engine.io/, over three transport set-ups: polling only, polling upgraded to
// WebSocket, and WebSocket only. Each: handshake, text and binary echo, two
// heartbeats survived, echo again, client close.
'use strict';

const { Socket } = require('engine.io-client');
const { scenario, once, times, same, truthy } = require('./lib');

const MODES = [
  { name: 'polling', transports: ['polling'], expect: 'polling' },
  { name: 'upgrade', transports: ['polling', 'websocket'], expect: 'websocket' },
  { name: 'websocket', transports: ['websocket'], expect: 'websocket' },
];

async function echo(sock, check, label) {
  const text = `hello ${label} ✓`;
  const bin = Buffer.from([0, 1, 2, 253, 254, 255]);
  sock.send(text);
  const [gotText] = await once(sock, 'message');
  same(gotText, text, `${label}: text echo`);
  sock.send(bin);
  const [gotBin] = await once(sock, 'message');
  truthy(typeof gotBin !== 'string', `${label}: binary echo came back as text ${JSON.stringify(gotBin)}`);
  same(gotBin, bin, `${label}: binary echo`);
  check(`${label}: echo text+binary`);
}

async function runMode(url, mode, check) {
  const sock = new Socket(url, { path: '/engine.io', transports: mode.transports });
  let closedEarly = null;
  sock.on('close', (reason) => { closedEarly = reason; });
  await once(sock, 'open', { failOn: ['error'] });
  truthy(typeof sock.id === 'string' && sock.id.length > 0, `${mode.name}: no session id after open`);
  truthy(sock.transport.name === mode.transports[0], `${mode.name}: opened over ${sock.transport.name}, want ${mode.transports[0]}`);
  const sid = sock.id;
  check(`${mode.name}: handshake`);
  if (mode.name === 'upgrade') {
    if (sock.transport.name !== 'websocket') await once(sock, 'upgrade', { failOn: ['upgradeError'] });
    check('upgrade: upgraded to websocket');
  }
  truthy(sock.transport.name === mode.expect, `${mode.name}: transport ${sock.transport.name}, want ${mode.expect}`);
  await echo(sock, check, mode.name);
  // The server pings every pingInterval (700 ms in the interop tests): two pings
  // answered without a close prove both sides keep the heartbeat.
  await times(sock, 'ping', 2, 3000);
  truthy(closedEarly === null, `${mode.name}: closed during heartbeats: ${closedEarly}`);
  check(`${mode.name}: heartbeats`);
  await echo(sock, check, `${mode.name} after heartbeats`);
  sock.off('close');
  const closed = once(sock, 'close');
  sock.close();
  const [reason] = await closed;
  same(reason, 'forced close', `${mode.name}: close reason`);
  check(`${mode.name}: close`);
  return sid;
}

scenario('eio_basic', async (url, check) => {
  const sids = [];
  for (const mode of MODES) sids.push(await runMode(url, mode, check));
  truthy(new Set(sids).size === sids.length, `session ids repeat: ${sids}`);
  return { sessions: sids.length };
});
