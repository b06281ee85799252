#!/usr/bin/env node
// dm.js ANY_URL NODE1_URL NODE2_URL: alice on node 1 sends a direct
// message to carol on node 2, who never joined the DM room: carol must
// receive it (the protocol's promise for an online recipient).
'use strict';

const { scenario } = require('../interop/lib');
const { connect, waitFor, ok } = require('../e2e/chatlib');

const [n1, n2] = process.argv.slice(3);

scenario('dm', async (_, check) => {
  const a = await connect(n1);
  await ok(a, 'hello', { nickname: 'alice' });
  const c = await connect(n2);
  await ok(c, 'hello', { nickname: 'carol' });
  const dm = await ok(a, 'dm', { to: 'carol', text: 'psst' });
  await waitFor(c, 'carol gets alice\'s DM', (e) => e[0] === 'message' && e[1].id === dm.id && e[1].text === 'psst');
  check('a direct message reaches its recipient on another node');
  a.disconnect();
  c.disconnect();
});
