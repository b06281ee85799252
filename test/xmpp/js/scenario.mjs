// One @xmpp/client scenario, run in Node (node.mjs, XMPP over TCP with
// STARTTLS) and in Chromium (page.html, XMPP over WebSocket, RFC 7395),
// against Banter and prosody. It returns a transcript of what the two
// clients observed, normalized so that the servers can be compared.
//
// lib is @xmpp/client ({client, xml}); opts: {service, domain, muc, room,
// users: [[name, password], [name, password]]}.

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_FWD = 'urn:xmpp:forward:0';
const NS_DELAY = 'urn:xmpp:delay';
const TIMEOUT = 10000;

export async function run(lib, opts) {
  const { client, xml } = lib;
  const transcript = [];
  const note = (s) => transcript.push(s);
  const roomJID = `${opts.room}@${opts.muc}`;

  function connect([name, password], resource) {
    const xmpp = client({ service: opts.service, domain: opts.domain, resource, username: name, password });
    const inbox = [];
    const waiters = [];
    xmpp.on('error', () => {});
    xmpp.on('stanza', (st) => {
      inbox.push(st);
      for (const w of waiters.splice(0)) w();
    });
    // expect waits for a received stanza matching pred and takes it.
    xmpp.expect = async (pred, what) => {
      const deadline = Date.now() + TIMEOUT;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${name}: timed out waiting for ${what}; last: ${inbox.slice(-3).map(String)}`);
        await new Promise((res) => { waiters.push(res); setTimeout(res, left); });
      }
    };
    xmpp.inbox = inbox;
    xmpp.name = name;
    return xmpp;
  }

  const [a, b] = [connect(opts.users[0], 'js'), connect(opts.users[1], 'js')];
  const jidA = await a.start();
  const jidB = await b.start();
  note(`online: ${jidA.local} and ${jidB.local} (${jidA.resource === 'js' && jidB.resource === 'js' ? 'resource kept' : 'resource changed'})`);
  for (const c of [a, b]) await c.send(xml('presence'));

  const isSelf = (st) => st.is('presence') && st.attrs.from && st.attrs.from.startsWith(roomJID + '/') &&
    (st.getChild('x', NS_MUC_USER)?.getChildren('status') || []).some((s) => s.attrs.code === '110');
  const isSubject = (st) => st.is('message') && st.attrs.from === roomJID && st.getChild('subject');
  async function join(c) {
    await c.send(xml('presence', { to: `${roomJID}/${c.name}` }, xml('x', { xmlns: NS_MUC })));
    await c.expect(isSelf, `${c.name}: self-presence`);
    await c.expect(isSubject, `${c.name}: subject`);
    const hist = c.inbox.filter((st) => st.is('message') && st.attrs.type === 'groupchat' && st.getChild('delay', NS_DELAY));
    for (const h of hist) c.inbox.splice(c.inbox.indexOf(h), 1);
    return hist.map((h) => `${h.attrs.from.split('/')[1]}: ${h.getChildText('body')}`);
  }
  const groupchat = (from, body) => (st) => st.is('message') && st.attrs.type === 'groupchat' &&
    st.attrs.from === `${roomJID}/${from}` && st.getChildText('body') === body;

  note(`${a.name} joined, history ${JSON.stringify(await join(a))}`);
  await a.send(xml('message', { to: roomJID, type: 'groupchat', id: 'js-1' }, xml('body', {}, 'hello from js')));
  const refl = await a.expect(groupchat(a.name, 'hello from js'), 'reflection');
  note(`${a.name} got its reflection (id kept: ${refl.attrs.id === 'js-1'})`);
  note(`${b.name} joined, history ${JSON.stringify(await join(b))}`);
  await a.expect((st) => st.is('presence') && st.attrs.from === `${roomJID}/${b.name}`, 'the second occupant');
  note(`${a.name} saw ${b.name} join`);
  await b.send(xml('message', { to: roomJID, type: 'groupchat' }, xml('body', {}, 'reply from js')));
  await a.expect(groupchat(b.name, 'reply from js'), 'the reply');
  note(`${a.name} got the reply`);
  await b.send(xml('message', { to: `${a.name}@${opts.domain}`, type: 'chat' }, xml('body', {}, 'a js dm')));
  const dm = await a.expect((st) => st.is('message') && st.getChildText('body') === 'a js dm', 'the dm');
  note(`${a.name} got a dm from ${dm.attrs.from.split('@')[0]} (${dm.attrs.type})`);
  const res = await b.iqCaller.request(
    xml('iq', { type: 'set', to: roomJID }, xml('query', { xmlns: NS_MAM, queryid: 'q1' })), TIMEOUT);
  const results = b.inbox.filter((st) => st.getChild('result', NS_MAM)?.attrs.queryid === 'q1');
  const bodies = results.map((st) => st.getChild('result', NS_MAM).getChild('forwarded', NS_FWD).getChild('message').getChildText('body'));
  note(`${b.name} MAM: ${JSON.stringify(bodies)} complete=${res.getChild('fin', NS_MAM)?.attrs.complete === 'true'}`);
  await b.send(xml('presence', { to: `${roomJID}/${b.name}`, type: 'unavailable' }));
  await a.expect((st) => st.is('presence') && st.attrs.type === 'unavailable' && st.attrs.from === `${roomJID}/${b.name}`, 'the leave');
  note(`${a.name} saw ${b.name} leave`);
  await a.stop();
  await b.stop();
  return transcript;
}
