#!/usr/bin/env node
// A short measurement, not a test (docs/operations.md, "Socket.IO Admin
// UI", quotes its figures): the server CPU per delivered event with the
// Admin UI's instrumentation, with and without a dashboard connected.
//
// Usage: node measure.js URL PID KIND [--clients N] [--events M] [--dashboard]
//   URL   the server; PID its process (CPU read from /proc/PID/stat)
//   KIND  chat: Banter's product (protocol 1: hello into room "load", then
//         one sender sends M messages); ctl: node_server.js or Banter's
//         test server (sockets join "load" by auth, /ctl broadcasts)
// Prints one JSON line: deliveries, dashboard events, server CPU µs per
// delivery.
'use strict';

const fs = require('fs');
const { io } = require('socket.io-client');

const [url, pid, kind] = process.argv.slice(2);
const opt = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = opt('--clients', 200);
const M = opt('--events', 100);
const withDashboard = process.argv.includes('--dashboard');
if (!url || !pid || !['chat', 'ctl'].includes(kind)) {
  process.stderr.write('usage: node measure.js URL PID chat|ctl [--clients N] [--events M] [--dashboard]\n');
  process.exit(2);
}

// cpuMs is the process's user+system CPU time.
function cpuMs() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
}

const connected = (s) => new Promise((res, rej) => {
  s.once('connect', res);
  s.once('connect_error', rej);
});
const ack = (s, ev, arg) => new Promise((res) => s.emit(ev, arg, res));

async function main() {
  const deadline = setTimeout(() => { process.stderr.write('measure: timed out\n'); process.exit(1); }, 120000);
  let delivered = 0;
  const clients = [];
  for (let i = 0; i < N; i++) {
    const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { rooms: ['load'] } });
    s.on(kind === 'chat' ? 'message' : 'news', () => { delivered++; });
    clients.push(s);
  }
  await Promise.all(clients.map(connected));
  if (kind === 'chat') {
    for (let i = 0; i < N; i++) await ack(clients[i], 'hello', { nickname: `load${i}`, rooms: ['load'] });
  }
  let dashEvents = 0;
  if (withDashboard) {
    const d = io(`${url}/admin`, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { username: 'admin', password: 'changeit' } });
    d.on('event_sent', () => { dashEvents++; });
    await new Promise((res) => d.once('all_sockets', res));
  }
  const sender = kind === 'chat'
    ? clients[0]
    : io(`${url}/ctl`, { forceNew: true, reconnection: false, transports: ['websocket'] });
  await (sender.connected ? null : connected(sender));
  await new Promise((r) => setTimeout(r, 500));
  delivered = 0;
  dashEvents = 0;
  const cpu0 = cpuMs();
  const t0 = Date.now();
  for (let i = 0; i < M; i++) {
    const text = `message ${i} of a typical size, say sixty bytes long....`;
    if (kind === 'chat') await ack(sender, 'send', { room: 'load', text });
    else await ack(sender, 'broadcast', { room: 'load', event: 'news', args: [text] });
  }
  const want = M * N;
  while (delivered < want || (withDashboard && dashEvents < want)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = cpuMs() - cpu0;
  clearTimeout(deadline);
  process.stdout.write(JSON.stringify({
    kind, clients: N, events: M, dashboard: withDashboard, deliveries: delivered, dashboardEvents: dashEvents,
    wallMs: Date.now() - t0, cpuMs: cpu, cpuUsPerDelivery: Math.round((cpu * 1000) / want * 10) / 10,
  }) + '\n');
  process.exit(0);
}

main().catch((e) => { process.stderr.write(`measure: ${e.stack || e}\n`); process.exit(1); });
