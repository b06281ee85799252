package web_test

import (
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/web"
)

// modelCases run in headless Chromium against web/static/model.js, the pure
// part of the page: each expression must evaluate to its expected JSON.
var modelCases = []struct {
	name   string
	expr   string // body of an async function of m (the module)
	expect any
}{
	{"room names are canonical", `[m.canonicalRoom(' General '), m.canonicalRoom('#Dev_ops'), m.canonicalRoom('a b'), m.canonicalRoom(''), m.canonicalRoom('-x'), m.canonicalRoom('x'.repeat(65))]`,
		[]any{"general", "dev_ops", "", "", "", ""}},
	{"dm rooms are ordered and lowercased", `[m.dmRoom('Bob', 'alice'), m.dmRoom('alice', 'Bob'), m.dmPeer('dm:alice:bob', 'Bob'), m.dmPeer('dm:alice:bob', 'ALICE'), m.isDM('dm:a:b'), m.isDM('general')]`,
		[]any{"dm:alice:bob", "dm:alice:bob", "alice", "bob", true, false}},
	{"nicknames are checked like the server does", `[m.checkNickname('Alice'), m.checkNickname('  '), m.checkNickname('a:b'), m.checkNickname('x'.repeat(33)), m.checkNickname('tab\there'), m.checkNickname('é'.repeat(32))]`,
		[]any{"", "Please choose a nickname.", "A nickname cannot contain \":\".", "A nickname has at most 32 characters.", "A nickname cannot contain control characters.", ""}},
	{"typing text leaves out the reader", `[m.typingText([], 'a'), m.typingText(['Alice'], 'alice'), m.typingText(['Bob', 'alice'], 'Alice'), m.typingText(['Bob', 'Carol'], 'a'), m.typingText(['B', 'C', 'D'], 'a'), m.typingText(['B', 'C', 'D', 'E'], 'a')]`,
		[]any{"", "", "Bob is typing…", "Bob and Carol are typing…", "B, C and D are typing…", "Several people are typing…"}},
	{"a message seen twice is kept once", `(() => {
		const log = new m.RoomLog();
		const msg = (seq) => ({seq, room: 'general', from: 'a', text: 't' + seq, ts: seq});
		const a = log.add([msg(3), msg(1), msg(2), msg(2)]);
		const b = log.add([msg(2), msg(3), msg(4)]);
		return [a.map((x) => x.seq), b.map((x) => x.seq), log.size, log.frontier, log.sorted().map((x) => x.seq)];
	})()`, []any{[]any{1, 2, 3}, []any{4}, 4, 4, []any{1, 2, 3, 4}}},
	{"messages without a usable seq are ignored", `(() => {
		const log = new m.RoomLog();
		return [log.add([null, {}, {seq: 0}, {seq: -1}, {seq: 1.5}, {seq: '2'}]).length, log.size];
	})()`, []any{0, 0}},
	{"a join page anchors the frontier below it", `(() => {
		const log = new m.RoomLog();
		log.add([{seq: 51}, {seq: 52}]);
		log.anchor(50);
		log.lastSeq = 52;
		const afterJoin = [log.frontier, log.oldest, log.hasOlder, log.missing()];
		log.add([{seq: 10}, {seq: 11}]); // an older page changes nothing above
		return [afterJoin, log.frontier, log.oldest, log.before(51).seq];
	})()`, []any{[]any{52, 51, true, false}, 52, 10, 11}},
	{"a gap is reported until filled", `(() => {
		const log = new m.RoomLog();
		log.anchor(0);
		log.add([{seq: 1}, {seq: 2}, {seq: 5}]);
		const gap = [log.frontier, log.newest, log.missing()];
		log.add([{seq: 4}, {seq: 3}]);
		return [gap, log.frontier, log.missing()];
	})()`, []any{[]any{2, 5, true}, 5, false}},
	{"catch-up target comes from lastSeq", `(() => {
		const log = new m.RoomLog();
		log.add([{seq: 1}, {seq: 2}]);
		log.lastSeq = 9;
		return [log.frontier, log.missing()];
	})()`, []any{2, true}},
	{"a room first seen live starts at that message", `(() => {
		const log = new m.RoomLog();
		log.anchor(6);
		log.add([{seq: 7}]);
		const empty = new m.RoomLog();
		empty.anchor(0);
		return [log.frontier, log.hasOlder, log.missing(), empty.hasOlder];
	})()`, []any{7, true, false, false}},
	{"client ids are unique and well formed", `(() => {
		const next = m.clientIdMaker('ab12');
		const ids = [next(), next(), next()];
		return [ids, ids.every((id) => /^[!-~]{1,128}$/.test(id))];
	})()`, []any{[]any{"ab12-1", "ab12-2", "ab12-3"}, true}},
	{"grouping needs the same sender within five minutes", `[m.groupWith(null, {from: 'a', ts: 0}), m.groupWith({from: 'a', ts: 0}, {from: 'a', ts: 299999}), m.groupWith({from: 'a', ts: 0}, {from: 'a', ts: 300000}), m.groupWith({from: 'a', ts: 0}, {from: 'b', ts: 1})]`,
		[]any{false, true, false, false}},
	{"avatars are stable", `[m.initials(' bob'), m.initials('élodie'), m.initials(''), m.hue('Bob') === m.hue('bob'), m.hue('bob') >= 0 && m.hue('bob') < 360]`,
		[]any{"B", "É", "?", true, true}},
	{"errors read like sentences", `[m.errorText({code: 'nickname_taken', message: 'x'}), m.errorText({code: 'new_code', message: 'Server said so.'}), m.errorText(null)]`,
		[]any{"That nickname is taken by someone online.", "Server said so.", "Something went wrong."}},
}

func TestModelInBrowser(t *testing.T) {
	url := testutil.StartHTTP(t, web.Handler())
	sc := testutil.BrowserScenario{Pages: 1}
	for _, c := range modelCases {
		sc.Steps = append(sc.Steps, testutil.BrowserStep{
			Action: "eval",
			Value:  "import('/model.js').then(async (m) => " + c.expr + ")",
			Expect: c.expect,
			Save:   c.name,
		})
	}
	res := testutil.RunBrowserSteps(t, url, sc)
	if res.Steps != len(modelCases) {
		t.Fatalf("rig ran %d steps, want %d", res.Steps, len(modelCases))
	}
}

// Without the Socket.IO client (this test serves only the page) the page must
// still come up, offer the sign-in form and keep a nickname it refuses from
// ever reaching a server.
func TestPageWithoutServerShowsSignIn(t *testing.T) {
	url := testutil.StartHTTP(t, web.Handler())
	testutil.RunBrowserSteps(t, url, testutil.BrowserScenario{
		Pages: 1,
		Steps: []testutil.BrowserStep{
			{Action: "eval", Value: "document.body.dataset.ready", Expect: "1"},
			{Action: "waitSelector", Selector: "#nickname"},
			{Action: "eval", Value: "document.activeElement.id", Expect: "nickname"},
			{Action: "fill", Selector: "#nickname", Value: "a:b"},
			{Action: "press", Selector: "#nickname", Value: "Enter"},
			{Action: "waitText", Selector: "#login-error", Value: "cannot contain"},
			{Action: "eval", Value: "document.querySelector('#chat').hidden", Expect: true},
			{Action: "fill", Selector: "#nickname", Value: "Alice"},
			{Action: "click", Selector: "#login-button"},
			// No /socket.io/socket.io.js here: the page says so instead of failing.
			{Action: "waitText", Selector: "#conn", Value: "Cannot load the chat client"},
			{Action: "eval", Value: "document.querySelector('#conn').dataset.state", Expect: "offline"},
		},
	})
}
