#!/usr/bin/env node
// Control characters in message text (issue 19, item 3): refused with
// invalid_message over Socket.IO (protocol 1), TCP JSON lines and REST;
// newline and tab pass; nothing refused is stored.
// Usage: node controls.js http://HOST:PORT TCP_PORT
'use strict';

const net = require('net');
const { scenario, truthy, same, STEP_TIMEOUT } = require('../interop/lib');
const { connect, ok, fails } = require('./chatlib');

const bad = ['\x1b[31mred\x1b[0m', 'ring\x07', 'nul\x00', 'csi\u009b2J', 'crlf\r\n'];

// tcpSession runs JSON-lines commands on one connection and resolves with
// the reply of each (by ref).
function tcpSession(port, cmds) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { c.destroy(); reject(new Error('TCP: replies missing')); }, STEP_TIMEOUT);
    const replies = {};
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m.ref !== undefined) replies[m.ref] = m;
        if (Object.keys(replies).length === cmds.length) {
          clearTimeout(timer);
          c.destroy();
          resolve(cmds.map((x) => replies[x.ref]));
        }
      }
    });
    c.on('error', reject);
    for (const x of cmds) c.write(JSON.stringify(x) + '\n');
  });
}

scenario('controls', async (url, check) => {
  const tcpPort = process.argv[3];
  const a = await connect(url);
  await ok(a, 'hello', { nickname: 'mallory', rooms: ['general'] });
  for (const text of bad) {
    const r = await fails(a, 'invalid_message', 'send', { room: 'general', text });
    truthy(/U\+00(1B|07|00|9B|0D)/.test(r.error.message), `the error names the character: ${r.error.message}`);
  }
  await fails(a, 'invalid_message', 'dm', { to: 'bob', text: '\x1b]0;title\x07' });
  const good = await ok(a, 'send', { room: 'general', text: 'two\n\tlines' });
  same(good.seq, 1, 'only the clean message is stored');
  check('Socket.IO: control characters refused, newline and tab kept');

  const cmds = [{ type: 'hello', ref: 1, nickname: 'tcpuser', rooms: ['general'] }];
  bad.forEach((text, i) => cmds.push({ type: 'send', ref: 10 + i, room: 'general', text }));
  const replies = await tcpSession(tcpPort, cmds);
  truthy(replies[0].ok, `TCP hello: ${JSON.stringify(replies[0])}`);
  for (const r of replies.slice(1)) same([r.ok, r.error && r.error.code], [false, 'invalid_message'], `TCP send: ${JSON.stringify(r)}`);
  check('TCP JSON lines: control characters refused');

  const s = await fetch(`${url}/api/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ nickname: 'restuser' }),
  }).then((r) => r.json());
  const r = await fetch(`${url}/api/v1/rooms/general/messages`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${s.token}` },
    body: JSON.stringify({ text: '\x1b[2J' }),
  });
  const body = await r.json();
  same([r.status, body.error && body.error.code], [400, 'invalid_message'], `REST: ${JSON.stringify(body)}`);
  check('REST: control characters refused');

  const h = await ok(a, 'history', { room: 'general' });
  same(h.messages.map((m) => m.text), ['two\n\tlines'], 'history holds only the clean message');
  check('nothing refused was stored');
});
