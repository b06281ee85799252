#!/usr/bin/env node
// Rate limits heard in each dialect's own terms (the server runs with a
// message bucket of 3): protocol 1 in the ack; SocketChat and classic
// clients, which listen to no error event, get the refusal as a chat line
// from the server that only the sender sees; nothing is stored.
'use strict';

const { scenario, same, truthy } = require('../interop/lib');
const { connect, waitFor, call, ok } = require('./chatlib');

scenario('limits', async (url, check) => {
  const p = await connect(url);
  await ok(p, 'hello', { nickname: 'Pat', rooms: ['general'] });
  let refused;
  for (let i = 0; i < 5 && !refused; i++) {
    const a = await call(p, 'send', { room: 'general', text: `p${i}` });
    if (!a.ok) refused = a;
  }
  same(refused && refused.error.code, 'rate_limited', 'protocol 1: rate_limited in the ack');
  check('protocol 1 hears a refusal in the ack');

  const sc = await connect(url, { version: 'v2' });
  sc.emit('connectUser', 'sam');
  await waitFor(sc, 'connected', (e) => e[0] === 'userConnectUpdate' && e[1].nickname === 'sam');
  for (let i = 0; i < 5; i++) sc.emit('chatMessage', 'sam', `s${i}`);
  const [, from, text] = await waitFor(sc, 'the refusal as a chat line',
    (e) => e[0] === 'newChatMessage' && e[1] === 'Banter');
  truthy(/^Your message was not sent: /.test(text), `SocketChat notice ${JSON.stringify(text)}`);
  same(from, 'Banter', 'from the server');
  check('SocketChat hears a refusal as newChatMessage from the server');

  const cl = await connect(url);
  for (let i = 0; i < 5; i++) cl.emit('chat message', `c${i}`);
  const [, notice] = await waitFor(cl, 'the refusal as a chat line', (e) => e[0] === 'chat message' && e[1].startsWith('⚠'));
  truthy(/^⚠ Your message was not sent: /.test(notice), `classic notice ${JSON.stringify(notice)}`);
  check('the classic dialect hears a refusal as a chat message');

  // Nobody else saw the notices, and none was stored.
  truthy(!p.events.some((e) => e[0] === 'message' && /not sent/.test(e[1].text)), 'no notice reached others');
  const h = await call(p, 'history', { room: 'general', limit: 200 });
  truthy(h.ok && !h.messages.some((m) => /not sent/.test(m.text)), 'no notice stored');
  check('the notices reach their sender only and are not stored');
  for (const s of [p, sc, cl]) s.disconnect();
});
