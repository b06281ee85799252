#!/usr/bin/env node
// Three gateways, one room, one history:
//   node crossgw.js SIO_URL XMPP_SERVICE MQTT_URL [SIO_URL2]
// sally speaks Socket.IO (chat protocol 1) to SIO_URL (or SIO_URL2: another
// node of a cluster), mona MQTT, xena XMPP (@xmpp/client, MUC). Each says
// one thing; each hears the two others; the Socket.IO history and the
// XMPP archive (MAM) of the room are the same messages with the same seqs.
'use strict';

const mqtt = require('mqtt');
const { scenario, same, truthy, STEP_TIMEOUT } = require('../../interop/lib');
const { waitFor, ok, until } = require('../../e2e/chatlib');
const io = require('socket.io-client');

// connect is chatlib's, with the test's self-signed certificate accepted
// (engine.io-client checks certificates itself).
function connect(url) {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], rejectUnauthorized: false });
  sock.events = [];
  for (const n of ['message', 'presence', 'error', 'bye']) sock.on(n, (...args) => sock.events.push([n, ...args]));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect to ${url}`)), STEP_TIMEOUT);
    sock.once('connect', () => { clearTimeout(timer); resolve(sock); });
    sock.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const [, , , xmppService, mqttURL, sioURL2] = process.argv;
const ROOM = 'mixed';
const MUC = 'rooms.localhost';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_SID = 'urn:xmpp:sid:0';

scenario('crossgw', async (url, check) => {
  const { client, xml } = await import('@xmpp/client');
  // XMPP: xena joins the room.
  // PLAIN even without TLS (a cluster of plain nodes): the server offers
  // it when it has no certificate; @xmpp/client would otherwise pick
  // ANONYMOUS on a plain connection and get a made-up nickname.
  const xena = client({
    service: xmppService, domain: 'localhost', resource: 'x',
    credentials: (authenticate, mechanisms) => authenticate({ username: 'xena', password: 'any' }, 'PLAIN'),
  });
  const inbox = [];
  xena.on('error', () => {});
  xena.on('stanza', (st) => inbox.push(st));
  await xena.start();
  await xena.send(xml('presence'));
  await xena.send(xml('presence', { to: `${ROOM}@${MUC}/xena` }, xml('x', { xmlns: NS_MUC })));
  await until('xena in the room', () => inbox.some((st) => st.is('message') && st.getChild('subject')));
  check('an XMPP client joined the room (MUC)');

  // Socket.IO: sally.
  const sally = await connect(sioURL2 || url);
  await ok(sally, 'hello', { nickname: 'sally', rooms: [ROOM] });
  // MQTT: mona subscribes to the room.
  const mona = mqtt.connect(mqttURL, { username: 'mona', clientId: 'mona', protocolVersion: 4, reconnectPeriod: 0, rejectUnauthorized: false });
  const monaGot = [];
  mona.on('message', (topic, payload) => monaGot.push([topic, JSON.parse(payload.toString())]));
  await new Promise((res, rej) => { mona.once('connect', res); mona.once('error', rej); setTimeout(() => rej(new Error('mqtt connect')), STEP_TIMEOUT); });
  await new Promise((res, rej) => mona.subscribe(`banter/rooms/${ROOM}`, { qos: 1 }, (e) => (e ? rej(e) : res())));
  await until('xena sees sally and mona', () => ['sally', 'mona'].every((n) =>
    inbox.some((st) => st.is('presence') && st.attrs.from === `${ROOM}@${MUC}/${n}`)));
  check('the XMPP client sees the Socket.IO and MQTT users as occupants');

  // One message each, in turn.
  const a1 = await ok(sally, 'send', { room: ROOM, text: 'from socket.io', clientId: 's1' });
  await until('mona gets sally', () => monaGot.some(([, m]) => m.text === 'from socket.io'));
  await new Promise((res, rej) => mona.publish(`banter/rooms/${ROOM}`, 'from mqtt', { qos: 1 }, (e) => (e ? rej(e) : res())));
  await waitFor(sally, 'sally gets mona', (e) => e[0] === 'message' && e[1].text === 'from mqtt');
  await xena.send(xml('message', { to: `${ROOM}@${MUC}`, type: 'groupchat', id: 'x1' }, xml('body', {}, 'from xmpp')));
  await waitFor(sally, 'sally gets xena', (e) => e[0] === 'message' && e[1].text === 'from xmpp' && e[1].from === 'xena');
  await until('mona gets xena', () => monaGot.some(([, m]) => m.text === 'from xmpp' && m.from === 'xena'));
  const heard = (from, body) => inbox.find((st) => st.is('message') && st.attrs.type === 'groupchat' &&
    st.attrs.from === `${ROOM}@${MUC}/${from}` && st.getChildText('body') === body);
  await until('xena gets sally and mona', () => heard('sally', 'from socket.io') && heard('mona', 'from mqtt'));
  check('every user hears the two others, whatever their gateway');

  // One history: Socket.IO's and the XMPP archive's.
  const h = await ok(sally, 'history', { room: ROOM });
  const sio = h.messages.map((m) => [m.seq, m.from, m.text]);
  same(sio, [[a1.seq, 'sally', 'from socket.io'], [a1.seq + 1, 'mona', 'from mqtt'], [a1.seq + 2, 'xena', 'from xmpp']], 'Socket.IO history');
  const sid = heard('sally', 'from socket.io').getChild('stanza-id', NS_SID);
  truthy(sid && sid.attrs.id === String(a1.seq), `stanza-id of sally's message ${sid && sid.attrs.id}, want ${a1.seq}`);
  await xena.iqCaller.request(xml('iq', { type: 'set', to: `${ROOM}@${MUC}` }, xml('query', { xmlns: NS_MAM, queryid: 'h' })), STEP_TIMEOUT);
  const mam = inbox.filter((st) => st.getChild('result', NS_MAM)?.attrs.queryid === 'h').map((st) => {
    const r = st.getChild('result', NS_MAM);
    const m = r.getChild('forwarded').getChild('message');
    return [Number(r.attrs.id), m.attrs.from.split('/')[1], m.getChildText('body')];
  });
  same(mam, sio, 'the XMPP archive is the same history (archive ids are the seqs)');
  check('one history: the Socket.IO history and the XMPP archive hold the same messages and seqs');

  mona.end(true);
  sally.disconnect();
  await xena.stop();
});
