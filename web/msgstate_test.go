package web_test

import (
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/web"
)

// msgCases run in headless Chromium against the pure modules of message
// state: richtext.js (links and mentions, safe by construction) and
// msgmodel.js (changes applied by rev, unread counts, seen-by lines).
var msgCases = []struct {
	name, module, expr string
	expect             any
}{
	{"links: http(s) and www. only", "richtext", `m.tokenize('see https://example.com/a_(b)). or www.example.org, not javascript:alert(1) nor data:text/html,x').map((t) => [t.t, t.s, t.href || ''])`,
		[]any{[]any{"text", "see ", ""}, []any{"link", "https://example.com/a_(b)", "https://example.com/a_(b)"}, []any{"text", "). or ", ""},
			[]any{"link", "www.example.org", "https://www.example.org/"}, []any{"text", ", not javascript:alert(1) nor data:text/html,x", ""}}},
	{"hrefs are parsed and re-serialized", "richtext", `[m.safeHref('javascript:alert(1)'), m.safeHref('HTTPS://Example.COM/x'), m.safeHref('http://'), m.safeHref('www.a.b/c d'), m.safeHref('data:text/html,<b>')]`,
		[]any{"", "https://example.com/x", "", "https://www.a.b/c%20d", ""}},
	{"a quote or markup ends a URL", "richtext", `m.tokenize('https://evil.example/"onmouseover="x <b>').map((t) => t.s)`,
		[]any{"https://evil.example/", "\"onmouseover=\"x <b>"}},
	{"mentions follow the server's rule", "richtext", `m.tokenize('hi @Bob, (@carol) mail bob@example.org @@x @').filter((t) => t.t === 'mention').map((t) => [t.s, t.key])`,
		[]any{[]any{"@Bob", "bob"}, []any{"@carol", "carol"}, []any{"@x", "x"}}},
	{"tokens give the text back", "richtext", `(() => { const t = 'a @b https://c.d/e?f=1 (www.g.h) @i.'; return m.tokenize(t).map((x) => x.s).join('') === t; })()`, true},
	{"fillText builds elements, never markup", "richtext", `(() => {
		const p = document.createElement('p');
		m.fillText(p, '<img src=x onerror=alert(1)> @me https://x.org/<script>', 'me');
		const a = p.querySelector('a');
		return [p.querySelectorAll('img,script').length, a.href, a.rel, a.target, p.querySelector('.mention.self').textContent, p.textContent];
	})()`, []any{0, "https://x.org/", "noopener noreferrer nofollow ugc", "_blank", "@me", "<img src=x onerror=alert(1)> @me https://x.org/<script>"}},
	{"a change applies when its rev is newer", "msgmodel", `(() => {
		const log = { bySeq: new Map([[1, { seq: 1, text: 'a', rev: 0 }], [2, { seq: 2, text: 'b', rev: 5 }]]) };
		const r = [m.applyMessage(log, { seq: 1, text: 'a2', rev: 3 }).text, m.applyMessage(log, { seq: 2, text: 'old', rev: 4 }).text, m.applyMessage(log, { seq: 9, text: 'x' })];
		m.applyReaction(log, { seq: 1, rev: 4, reactions: [{ emoji: '👍', count: 1, users: ['b'] }] });
		m.applyReaction(log, { seq: 1, rev: 2, reactions: [] }); // older: ignored
		m.applyDeleted(log, { seq: 2, rev: 6 });
		return [r, log.bySeq.get(1).rev, log.bySeq.get(1).reactions.length, log.bySeq.get(2).deleted, log.bySeq.get(2).text];
	})()`, []any{[]any{"a2", "b", nil}, 4, 1, true, ""}},
	{"quotes follow their original", "msgmodel", `(() => {
		const log = { bySeq: new Map([[1, { seq: 1, text: 'q' }], [2, { seq: 2, text: 'r', replyTo: { seq: 1, text: 'q' } }]]) };
		const a = m.requote(log, { seq: 1, text: 'q, edited' }).map((x) => x.replyTo.text);
		const b = m.requote(log, { seq: 1, deleted: true, text: '' }).map((x) => [x.replyTo.text, x.replyTo.deleted]);
		return [a, b, m.requote(log, { seq: 1, deleted: true, text: '' }).length];
	})()`, []any{[]any{"q, edited"}, []any{[]any{"", true}}, 0}},
	{"unread counts leave out one's own and deleted messages", "msgmodel", `(() => {
		const c = m.countUnread([{ seq: 1, from: 'a' }, { seq: 2, from: 'a', mentions: ['me'] }, { seq: 3, from: 'Me' }, { seq: 4, from: 'b', deleted: true }, { seq: 5, from: 'b', mentions: ['x'] }], 1, 'me', 'me');
		return [c.unread, c.mentions];
	})()`, []any{2, 1}},
	{"seen-by lines", "msgmodel", `[
		m.seenText([{ nickname: 'Bob', read: 5, delivered: 5 }], 5, 'alice', true),
		m.seenText([{ nickname: 'Bob', read: 4, delivered: 5 }], 5, 'alice', true),
		m.seenText([{ nickname: 'Bob', read: 4, delivered: 4 }], 5, 'alice', true),
		m.seenText([{ nickname: 'carol', read: 9 }, { nickname: 'Bob', read: 9 }, { nickname: 'Alice', read: 9 }], 5, 'alice', false),
		m.seenText([{ nickname: 'a', read: 9 }, { nickname: 'b', read: 9 }, { nickname: 'c', read: 9 }, { nickname: 'd', read: 9 }], 5, 'z', false),
		m.badgeText(3, 0), m.badgeText(120, 2), m.badgeText(0, 0)]`,
		[]any{"Seen", "Delivered", "", "Seen by Bob and carol", "Seen by a, b and 2 others", "3", "@ 99+", ""}},
}

func TestMessageStateModulesInBrowser(t *testing.T) {
	url := testutil.StartHTTP(t, web.Handler())
	sc := testutil.BrowserScenario{Pages: 1}
	for _, c := range msgCases {
		sc.Steps = append(sc.Steps, testutil.BrowserStep{
			Action: "eval",
			Value:  "import('/" + c.module + ".js').then(async (m) => " + c.expr + ")",
			Expect: c.expect,
			Save:   c.name,
		})
	}
	res := testutil.RunBrowserSteps(t, url, sc)
	if res.Steps != len(msgCases) {
		t.Fatalf("rig ran %d steps, want %d", res.Steps, len(msgCases))
	}
}
