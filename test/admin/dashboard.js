#!/usr/bin/env node
// The official Admin UI dashboard (npm @socket.io/admin-ui, ui/dist, as the
// server serves it at /admin-ui/) in Debian's headless Chromium, driven
// through playwright-core like a person would: log in through the
// connection form, find the sockets (with their transport and handshake),
// rooms, live events and servers on their pages, and disconnect a socket
// with the Sockets page's button. Application sockets are official
// socket.io-client sockets of this script. The same script runs against
// the Node reference (node_server.js) and Banter (admin_test.go).
//
// Usage: node dashboard.js URL SERVER_ID [--other URL2 SERVER_ID2] [--chat] [--shots DIR]
// With --other, a second node of the same cluster: a socket connects there,
// and the dashboard (on URL) must show it, its server, and disconnect it.
// With --chat the server is Banter's chat product: sockets enter their
// rooms by saying hello (protocol 1) instead of by their handshake.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');
const { scenario, once, truthy } = require('../interop/lib.js');

const CHROMIUM = process.env.BANTER_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
];
const UI_TIMEOUT = 15000;

const argv = process.argv.slice(2);
const serverId = argv[1];
let other = null, otherId = null, shots = null, chat = false;
for (let i = 2; i < argv.length; i++) {
  if (argv[i] === '--other') { other = argv[++i].replace(/\/$/, ''); otherId = argv[++i]; }
  else if (argv[i] === '--shots') shots = argv[++i];
  else if (argv[i] === '--chat') chat = true;
}

// connect opens an application socket in rooms.
async function connect(u, nickname, rooms, query) {
  const s = io(u, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { rooms }, query });
  await once(s, 'connect', { failOn: ['connect_error'] });
  if (chat) {
    const [res] = await new Promise((resolve) => s.emit('hello', { nickname, rooms }, (...r) => resolve(r)));
    truthy(res && res.ok, `hello: ${JSON.stringify(res)}`);
  }
  return s;
}

scenario('admin-dashboard', async (url, check) => {
  const a = await connect(url, 'alice', ['lobby'], { who: 'alice' });
  const b = other ? await connect(other, 'bob', ['far-room']) : null;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The dashboard's index.html links fonts and icons on public CDNs; this
  // machine has no internet: refuse them at once rather than wait.
  await page.route('**/*', (route) => {
    const u = route.request().url();
    return u.startsWith(url) || u.startsWith('data:') ? route.continue() : route.abort();
  });
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };
  try {
    await page.goto(`${url}/admin-ui/`);
    await page.getByLabel('Server URL').fill(url, { timeout: UI_TIMEOUT });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('changeit');
    await page.getByRole('button', { name: 'Connect' }).click();
    // A login checks a bcrypt hash: slow on a loaded machine (race detector).
    await page.getByLabel('Server URL').waitFor({ state: 'hidden', timeout: 30000 });
    check('logged in through the connection form');

    const go = async (hash) => {
      await page.evaluate((h) => { window.location.hash = h; }, hash);
    };
    const row = (text) => page.locator('tr', { hasText: text });

    await go('#/sockets/');
    await row(a.id).first().waitFor({ timeout: UI_TIMEOUT });
    const rowText = await row(a.id).first().innerText();
    truthy(rowText.includes('WebSocket'), `socket row shows its transport: ${rowText}`);
    truthy(rowText.includes('127.0.0.1'), `socket row shows its address: ${rowText}`);
    await shot('sockets');
    check('Sockets page lists the socket with its transport and address');

    await row(a.id).first().locator('td').first().click();
    await page.getByText('who').first().waitFor({ timeout: UI_TIMEOUT });
    await page.getByText('alice').first().waitFor({ timeout: UI_TIMEOUT });
    await page.getByText('sec-websocket-version').first().waitFor({ timeout: UI_TIMEOUT });
    await page.getByText('lobby').first().waitFor({ timeout: UI_TIMEOUT });
    await shot('socket');
    check('socket details show the handshake (query, headers) and rooms');

    // Join a room from the socket's page, then leave it: the page shows
    // what the server reports back (room_joined, room_left).
    await page.getByLabel('Join a room').fill('vip');
    await page.locator('form:has(.select-room) button[type=submit]').click();
    await row('vip').first().waitFor({ timeout: UI_TIMEOUT });
    await row('vip').first().locator('button').click();
    // (the click opens the room's page too)
    await page.getByText('Deleted').first().waitFor({ timeout: UI_TIMEOUT });
    check("the socket page's join and leave buttons act through the server");

    await go('#/rooms/');
    await row('lobby').first().waitFor({ timeout: UI_TIMEOUT });
    check('Rooms page lists the room');

    a.emit('hello-dashboard', 'from alice');
    await go('#/events/');
    await page.getByText('hello-dashboard').first().waitFor({ timeout: UI_TIMEOUT });
    await shot('events');
    check('Events page shows a live event');

    await go('#/servers/');
    await row(serverId).first().waitFor({ timeout: UI_TIMEOUT });
    if (other) await row(otherId).first().waitFor({ timeout: UI_TIMEOUT });
    await shot('servers');
    check('Servers page lists every node');

    await go('#/');
    await page.getByText('Dashboard').first().waitFor({ timeout: UI_TIMEOUT });
    await shot('dashboard');

    if (b) {
      const bid = b.id, aid0 = a.id;
      await go('#/sockets/');
      await row(bid).first().waitFor({ timeout: UI_TIMEOUT });
      await go('#/rooms/');
      await row('far-room').first().waitFor({ timeout: UI_TIMEOUT });
      check("another node's socket and room are listed");
      await go('#/sockets/');
      const gone = once(b, 'disconnect', { ms: UI_TIMEOUT });
      await row(bid).first().locator('button').click();
      const [reason] = await gone;
      truthy(reason === 'io server disconnect', `b's disconnect reason: ${reason}`);
      await go('#/'); // the row's click opened the socket's page; the list must drop it
      await go('#/sockets/');
      await row(aid0).first().waitFor({ timeout: UI_TIMEOUT });
      await row(bid).first().waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      check("disconnect button reaches another node's socket");
    }

    await go('#/sockets/');
    const aid = a.id;
    const gone = once(a, 'disconnect', { ms: UI_TIMEOUT });
    await row(aid).first().locator('button').click();
    const [reason] = await gone;
    truthy(reason === 'io server disconnect', `disconnect reason: ${reason}`);
    await go('#/'); // the row's click opened the socket's page; the list must drop it
    await go('#/sockets/');
    await page.getByText('No data available').first().waitFor({ timeout: UI_TIMEOUT });
    await row(aid).first().waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    check('disconnect button disconnects the socket');
    truthy(errors.length === 0, `page errors: ${errors.join('; ')}`);
  } catch (e) {
    await shot('failure').catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}, { timeout: 120000 });
