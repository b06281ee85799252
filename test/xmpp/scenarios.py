#!/usr/bin/python3
"""Scripted XMPP scenarios run with slixmpp (Debian python3-slixmpp)
against Banter and against prosody, the reference server.

Each scenario prints a transcript of what the clients observed, normalized
(no ids, times or resources that differ between servers), one line per
observation, then "OK"; an expectation that is not met exits with status 1
and says which. test/xmpp/slixmpp_test.go runs every scenario on both
servers and compares the transcripts: a difference in behaviour shows as a
difference.

Usage: scenarios.py SCENARIO --host H --port P --domain D --muc M
       --user NAME=PASSWORD ... [--direct-tls]
"""

import argparse
import asyncio
import logging
import ssl
import sys
import uuid

import slixmpp
from slixmpp import JID
from slixmpp.xmlstream import ET

NS_MUC = 'http://jabber.org/protocol/muc'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner'
NS_MAM = 'urn:xmpp:mam:2'
NS_RSM = 'http://jabber.org/protocol/rsm'
NS_FWD = 'urn:xmpp:forward:0'
NS_DELAY = 'urn:xmpp:delay'
NS_CARBONS = 'urn:xmpp:carbons:2'
NS_SID = 'urn:xmpp:sid:0'
NS_CS = 'http://jabber.org/protocol/chatstates'
NS_CLIENT = 'jabber:client'
TIMEOUT = 10

transcript = []


def note(line):
    transcript.append(line)


class Failed(Exception):
    pass


class Client(slixmpp.ClientXMPP):
    """A client that records every stanza it receives, for expect()."""

    def __init__(self, args, user, resource='r1', sm=False):
        super().__init__(f'{user}@{args.domain}/{resource}', args.passwords[user], sasl_mech='PLAIN')
        self.args = args
        self.user = user
        self.inbox = []
        self.cond = asyncio.Condition()
        for p in ['xep_0030', 'xep_0199', 'xep_0280', 'xep_0359']:
            self.register_plugin(p)
        if sm:
            self.register_plugin('xep_0198')
            self.plugin['xep_0198'].allow_resume = True
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler('session_start', self._started)
        self.add_event_handler('session_resumed', self._resumed)
        self.started = asyncio.get_event_loop().create_future()
        self.resumed = None
        self.register_handler(slixmpp.xmlstream.handler.Callback(
            'record', slixmpp.xmlstream.matcher.MatchXPath('{%s}message' % NS_CLIENT), self._record))
        self.register_handler(slixmpp.xmlstream.handler.Callback(
            'recordp', slixmpp.xmlstream.matcher.MatchXPath('{%s}presence' % NS_CLIENT), self._record))

    def _started(self, _):
        if not self.started.done():
            self.started.set_result(True)

    def _resumed(self, _):
        if self.resumed and not self.resumed.done():
            self.resumed.set_result(True)

    def _record(self, stanza):
        self.inbox.append(stanza)

        async def wake():
            async with self.cond:
                self.cond.notify_all()
        asyncio.ensure_future(wake())

    async def start(self):
        self.connect((self.args.host, self.args.port), use_ssl=self.args.direct_tls,
                     force_starttls=not self.args.direct_tls and self.args.tls,
                     disable_starttls=not self.args.tls)
        try:
            await asyncio.wait_for(self.started, TIMEOUT)
        except asyncio.TimeoutError:
            raise Failed(f'{self.user}: no session within {TIMEOUT}s')
        self.send_presence()
        await self.expect(lambda s: s.name == 'presence' and s['from'] == self.boundjid, 'own presence')

    async def expect(self, pred, what, timeout=TIMEOUT):
        """Waits for a received stanza matching pred and removes it."""
        deadline = asyncio.get_event_loop().time() + timeout
        async with self.cond:
            while True:
                for i, s in enumerate(self.inbox):
                    if pred(s):
                        del self.inbox[i]
                        return s
                left = deadline - asyncio.get_event_loop().time()
                if left <= 0:
                    raise Failed(f'{self.user}: timed out waiting for {what}; got {[str(s) for s in self.inbox][-5:]}')
                try:
                    await asyncio.wait_for(self.cond.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def iq(self, iq):
        try:
            return await iq.send(timeout=TIMEOUT)
        except slixmpp.exceptions.IqError as e:
            raise Failed(f'{self.user}: iq error {e.iq["error"]["condition"]}: {e.iq["error"]["text"]}')

    # --- MUC ---------------------------------------------------------------

    def room(self, name):
        return f'{name}@{self.args.muc}'

    async def join(self, name, nick=None, maxstanzas=None):
        """Joins a room; returns the history bodies. Configures a new
        (locked) room as an instant room, as XEP-0045 10.1.2 says."""
        nick = nick or self.user
        p = self.make_presence(pto=f'{self.room(name)}/{nick}')
        x = ET.Element('{%s}x' % NS_MUC)
        if maxstanzas is not None:
            h = ET.SubElement(x, '{%s}history' % NS_MUC)
            h.set('maxstanzas', str(maxstanzas))
        p.append(x)
        p.send()
        room = self.room(name)

        def is_self(s):
            if s.name != 'presence' or s['from'].bare != room:
                return False
            x = s.xml.find('{%s}x' % NS_MUC_USER)
            return x is not None and any(st.get('code') == '110' for st in x.findall('{%s}status' % NS_MUC_USER))
        pres = await self.expect(is_self, f'self-presence in {name}')
        codes = {st.get('code') for st in pres.xml.find('{%s}x' % NS_MUC_USER).findall('{%s}status' % NS_MUC_USER)}
        if '201' in codes:  # a new room, locked until configured
            iq = self.make_iq_set(ito=room)
            q = ET.Element('{%s}query' % NS_MUC_OWNER)
            form = ET.SubElement(q, '{jabber:x:data}x')
            form.set('type', 'submit')
            iq.append(q)
            await self.iq(iq)
        subj = await self.expect(lambda s: s.name == 'message' and s['from'].bare == room and s.xml.find('{%s}subject' % NS_CLIENT) is not None,
                                 f'subject of {name}')
        # History came before the subject: take it from the inbox.
        hist = [s for s in self.inbox if s.name == 'message' and s['type'] == 'groupchat' and s['from'].bare == room and
                s.xml.find('{%s}delay' % NS_DELAY) is not None]
        for s in hist:
            self.inbox.remove(s)
        return [f'{s["from"].resource}: {s["body"]}' for s in hist]

    async def groupchat(self, name, body):
        self.send_message(mto=self.room(name), mbody=body, mtype='groupchat')

    async def expect_groupchat(self, name, body):
        room = self.room(name)
        s = await self.expect(lambda s: s.name == 'message' and s['type'] == 'groupchat' and s['from'].bare == room and s['body'] == body,
                              f'groupchat {body!r} in {name}')
        sid = s.xml.find('{%s}stanza-id' % NS_SID)
        return s, (sid.get('id') if sid is not None and sid.get('by') == room else None)

    # --- MAM ---------------------------------------------------------------

    async def mam(self, archive=None, with_jid=None, max_=None, before=None, after=None):
        """Runs one MAM query; returns (bodies, first, last, complete)."""
        iq = self.make_iq_set(ito=archive)
        qid = uuid.uuid4().hex[:8]
        q = ET.Element('{%s}query' % NS_MAM)
        q.set('queryid', qid)
        if with_jid:
            x = ET.SubElement(q, '{jabber:x:data}x')
            x.set('type', 'submit')
            for var, val in [('FORM_TYPE', NS_MAM), ('with', with_jid)]:
                f = ET.SubElement(x, '{jabber:x:data}field')
                f.set('var', var)
                ET.SubElement(f, '{jabber:x:data}value').text = val
        if max_ is not None or before is not None or after is not None:
            s = ET.SubElement(q, '{%s}set' % NS_RSM)
            if max_ is not None:
                ET.SubElement(s, '{%s}max' % NS_RSM).text = str(max_)
            if before is not None:
                ET.SubElement(s, '{%s}before' % NS_RSM).text = before or None
            if after is not None:
                ET.SubElement(s, '{%s}after' % NS_RSM).text = after
        iq.append(q)
        res = await self.iq(iq)
        fin = res.xml.find('{%s}fin' % NS_MAM)
        rsm = fin.find('{%s}set' % NS_RSM)
        first = rsm.findtext('{%s}first' % NS_RSM)
        last = rsm.findtext('{%s}last' % NS_RSM)
        bodies = []
        for s in list(self.inbox):
            r = s.xml.find('{%s}result' % NS_MAM)
            if s.name == 'message' and r is not None and r.get('queryid') == qid:
                self.inbox.remove(s)
                m = r.find('{%s}forwarded/{%s}message' % (NS_FWD, NS_CLIENT))
                bodies.append(m.findtext('{%s}body' % NS_CLIENT))
        return bodies, first, last, fin.get('complete') in ('true', '1')


def build_args():
    ap = argparse.ArgumentParser()
    ap.add_argument('scenario')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--domain', required=True)
    ap.add_argument('--muc', required=True)
    ap.add_argument('--user', action='append', default=[])
    ap.add_argument('--tls', action='store_true', help='STARTTLS (required when offered)')
    ap.add_argument('--direct-tls', action='store_true')
    ap.add_argument('--room-prefix', default='r')
    ap.add_argument('--room', default='lobby')
    ap.add_argument('-v', action='store_true')
    a = ap.parse_args()
    a.passwords = dict(u.split('=', 1) for u in a.user)
    return a


async def scenario_chat(args):
    """Login, DMs both ways, MUC join with history, messages both ways, MAM."""
    room = args.room_prefix + 'lobby'
    alice, bob = Client(args, 'alice'), Client(args, 'bob')
    await alice.start()
    await bob.start()
    note('login: alice and bob bound')
    alice.send_message(mto=f'bob@{args.domain}', mbody='hello bob', mtype='chat')
    s = await bob.expect(lambda s: s.name == 'message' and s['body'] == 'hello bob', 'dm from alice')
    note(f'bob got dm from {s["from"].bare.split("@")[0]}: {s["body"]} ({s["type"]})')
    bob.send_message(mto=f'alice@{args.domain}', mbody='hello alice', mtype='chat')
    s = await alice.expect(lambda s: s.name == 'message' and s['body'] == 'hello alice', 'dm from bob')
    note(f'alice got dm from {s["from"].bare.split("@")[0]}: {s["body"]}')
    hist = await alice.join(room)
    note(f'alice joined {len(hist)} history')
    for i in range(1, 4):
        await alice.groupchat(room, f'm{i}')
        await alice.expect_groupchat(room, f'm{i}')  # the reflection
    hist = await bob.join(room)
    note(f'bob joined, history: {hist}')
    await alice.expect(lambda s: s.name == 'presence' and s['from'] == JID(f'{alice.room(room)}/bob'), 'bob in the room')
    note('alice saw bob join')
    await bob.groupchat(room, 'from bob')
    _, sid = await alice.expect_groupchat(room, 'from bob')
    note(f'alice got groupchat from bob (stanza-id: {sid is not None})')
    await alice.groupchat(room, 'from alice')
    await bob.expect_groupchat(room, 'from alice')
    note('bob got groupchat from alice')
    bodies, first, last, complete = await bob.mam(archive=bob.room(room))
    note(f'bob MAM all: {bodies} complete={complete}')
    bodies, first, last, complete = await bob.mam(archive=bob.room(room), max_=2, before='')
    note(f'bob MAM last 2: {bodies} complete={complete}')
    bodies, _, _, complete = await bob.mam(archive=bob.room(room), max_=2, before=first)
    note(f'bob MAM 2 before: {bodies} complete={complete}')
    bodies, _, _, complete = await bob.mam(archive=bob.room(room), max_=10, after=first)
    note(f'bob MAM after: {bodies} complete={complete}')
    bodies, _, _, complete = await alice.mam(with_jid=f'bob@{args.domain}')
    note(f'alice MAM with bob: {bodies} complete={complete}')
    bob.send_presence(pto=f'{bob.room(room)}/bob', ptype='unavailable')
    await alice.expect(lambda s: s.name == 'presence' and s['type'] == 'unavailable' and s['from'] == JID(f'{alice.room(room)}/bob'), 'bob left')
    note('alice saw bob leave')
    alice.disconnect()
    bob.disconnect()


async def scenario_carbons(args):
    """Two resources of alice with carbons; a DM sent from one is copied to the other."""
    a1, a2 = Client(args, 'alice', 'one'), Client(args, 'alice', 'two')
    bob = Client(args, 'bob')
    for c in (a1, a2, bob):
        await c.start()
    await a2.plugin['xep_0280'].enable()
    note('alice/two enabled carbons')
    a1.send_message(mto=f'bob@{args.domain}', mbody='sent from one', mtype='chat')
    await bob.expect(lambda s: s['body'] == 'sent from one', 'dm at bob')
    note('bob got the dm')
    s = await a2.expect(lambda s: s.xml.find('{%s}sent' % NS_CARBONS) is not None, 'sent carbon at alice/two')
    fwd = s.xml.find('{%s}sent/{%s}forwarded/{%s}message' % (NS_CARBONS, NS_FWD, NS_CLIENT))
    note(f'alice/two got a sent carbon: {fwd.findtext("{%s}body" % NS_CLIENT)} to {JID(fwd.get("to")).bare.split("@")[0]}')
    bob.send_message(mto=f'alice@{args.domain}', mbody='reply to alice', mtype='chat')
    for c, name in ((a1, 'one'), (a2, 'two')):
        s = await c.expect(lambda s: s['body'] == 'reply to alice' or (s.xml.find('{%s}received' % NS_CARBONS) is not None), f'reply at alice/{name}')
        note(f'alice/{name} got the reply')
    for c in (a1, a2, bob):
        c.disconnect()


async def scenario_resume(args):
    """Stream management: the connection drops, messages sent meanwhile
    arrive once after the resumption, nothing twice."""
    room = args.room_prefix + 'resume'
    carol = Client(args, 'carol', sm=True)
    dave = Client(args, 'dave')
    await carol.start()
    await dave.start()
    await carol.join(room)
    await dave.join(room)
    await carol.expect(lambda s: s.name == 'presence' and s['from'] == JID(f'{carol.room(room)}/dave'), 'dave joined')
    await dave.groupchat(room, 'before')
    await carol.expect_groupchat(room, 'before')
    carol.plugin['xep_0198'].send_ack()
    if not carol.plugin['xep_0198'].sm_id:
        raise Failed('carol: no resumable stream')
    note('carol has a resumable stream')
    carol.resumed = asyncio.get_event_loop().create_future()
    carol.transport.abort()  # the network goes away; no stream close
    await asyncio.sleep(0)
    for i in range(1, 4):
        await dave.groupchat(room, f'during{i}')
        await dave.expect_groupchat(room, f'during{i}')
    note('dave sent 3 messages while carol was away')
    carol.connect((args.host, args.port), use_ssl=args.direct_tls,
                  force_starttls=not args.direct_tls and args.tls, disable_starttls=not args.tls)
    try:
        await asyncio.wait_for(carol.resumed, TIMEOUT)
    except asyncio.TimeoutError:
        raise Failed('carol: the stream was not resumed')
    note('carol resumed')
    for i in range(1, 4):
        await carol.expect_groupchat(room, f'during{i}')
    await dave.groupchat(room, 'after')
    await carol.expect_groupchat(room, 'after')
    dups = [s['body'] for s in carol.inbox if s.name == 'message' and s['type'] == 'groupchat' and s['body']]
    note(f'carol got during1-3 and after; duplicates: {dups}')
    carol.disconnect()
    dave.disconnect()


async def scenario_history(args):
    """Joins room --room and prints its history and archive (what another
    client left there)."""
    bob = Client(args, 'bob', 'history')
    await bob.start()
    hist = await bob.join(args.room, maxstanzas=50)
    note(f'history of {args.room}: {hist}')
    bodies, _, _, complete = await bob.mam(archive=bob.room(args.room))
    note(f'archive of {args.room}: {bodies} complete={complete}')
    bob.disconnect()


async def main():
    args = build_args()
    if args.v:
        logging.basicConfig(level=logging.DEBUG)
    fn = globals().get('scenario_' + args.scenario)
    if fn is None:
        print(f'unknown scenario {args.scenario}', file=sys.stderr)
        sys.exit(2)
    try:
        await asyncio.wait_for(fn(args), 60)
    except Failed as e:
        for line in transcript:
            print(line)
        print(f'FAILED: {e}')
        sys.exit(1)
    except asyncio.TimeoutError:
        for line in transcript:
            print(line)
        print('FAILED: scenario timed out')
        sys.exit(1)
    for line in transcript:
        print(line)
    print('OK')


if __name__ == '__main__':
    asyncio.run(main())
