// Runs scenario.mjs with @xmpp/client in Node (xmpp:// over TCP with
// STARTTLS, or ws:// and wss:// over the WebSocket binding).
// Usage: node node.mjs SERVICE DOMAIN MUC ROOM USER=PASSWORD USER=PASSWORD
// Prints the transcript and "OK", or "FAILED: why" (exit 1).
import * as lib from '@xmpp/client';
import WebSocket from 'ws';
import { run } from './scenario.mjs';

// Node 20 has no WebSocket of its own: @xmpp/client's WebSocket transport
// (ws:// and wss:// services) uses the ws package's.
globalThis.WebSocket ??= WebSocket;

const [service, domain, muc, room, ...users] = process.argv.slice(2);
const opts = { service, domain, muc, room, users: users.map((u) => [u.slice(0, u.indexOf('=')), u.slice(u.indexOf('=') + 1)]) };
const timer = setTimeout(() => { console.log('FAILED: scenario timed out'); process.exit(1); }, 60000);
try {
  for (const line of await run(lib, opts)) console.log(line);
  console.log('OK');
  clearTimeout(timer);
  process.exit(0);
} catch (e) {
  console.log(`FAILED: ${e.stack || e}`);
  process.exit(1);
}
