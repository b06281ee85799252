package stanza

import (
	"errors"
	"strings"
	"testing"
)

type item struct {
	kind Kind
	data string
}

// scanAll feeds in to a fresh scanner in pieces of size chunk (0: whole).
func scanAll(t testing.TB, in string, chunk int, s *Scanner) ([]item, error) {
	var out []item
	emit := func(k Kind, d []byte) error {
		out = append(out, item{k, string(d)})
		return nil
	}
	b := []byte(in)
	if chunk <= 0 {
		chunk = len(b)
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		m, err := s.Feed(b[:n], emit)
		if err != nil {
			return out, err
		}
		if m != n {
			t.Fatalf("consumed %d of %d without error", m, n)
		}
		b = b[n:]
	}
	return out, nil
}

const header = `<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`

var scanTable = []struct {
	name string
	in   string
	want []item
	err  error
}{
	{"header and stanzas", header + ` <message to='a@b'><body>hi &amp; &#x263a; <![CDATA[<not a tag>]]></body></message>` + "\n" + `<presence/><iq type="get" id='a>b'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`,
		[]item{
			{KindOpen, header},
			{KindElement, `<message to='a@b'><body>hi &amp; &#x263a; <![CDATA[<not a tag>]]></body></message>`},
			{KindElement, `<presence/>`},
			{KindElement, `<iq type="get" id='a>b'><ping xmlns='urn:xmpp:ping'/></iq>`},
			{KindClose, `</stream:stream>`},
		}, nil},
	{"no declaration", "\n<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/>",
		[]item{{KindOpen, "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"}, {KindElement, "<a/>"}}, nil},
	{"comment", header + `<message><!-- x --></message>`, []item{{KindOpen, header}}, ErrRestricted},
	{"top-level comment", header + `<!-- x -->`, []item{{KindOpen, header}}, ErrRestricted},
	{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><stream:stream>`, nil, ErrRestricted},
	{"pi in stream", header + `<?foo?>`, []item{{KindOpen, header}}, ErrRestricted},
	{"text at top", header + `hello`, []item{{KindOpen, header}}, ErrNotWellFormed},
	{"lt in attribute", header + `<a b='<'/>`, []item{{KindOpen, header}}, ErrNotWellFormed},
	{"self-closed stream", `<stream:stream/>`, nil, ErrNotWellFormed},
	{"after close", header + `</stream:stream><a/>`, []item{{KindOpen, header}, {KindClose, "</stream:stream>"}}, ErrNotWellFormed},
}

func TestScanner(t *testing.T) {
	for _, tc := range scanTable {
		for _, chunk := range []int{0, 1, 2, 3, 7, 64} {
			var s Scanner
			got, err := scanAll(t, tc.in, chunk, &s)
			if !errors.Is(err, tc.err) {
				t.Errorf("%s (chunk %d): err %v, want %v", tc.name, chunk, err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s (chunk %d): got %q, want %q", tc.name, chunk, got, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%s (chunk %d): item %d = %q, want %q", tc.name, chunk, i, got[i], tc.want[i])
				}
			}
		}
	}
}

func TestScannerLimits(t *testing.T) {
	s := Scanner{MaxStanza: 100}
	_, err := scanAll(t, header+"<message><body>"+strings.Repeat("x", 200)+"</body></message>", 10, &s)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big stanza: %v", err)
	}
	s = Scanner{MaxDepth: 3}
	_, err = scanAll(t, header+"<a><b><c><d/></c></b></a>", 0, &s)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep stanza: %v", err)
	}
	s = Scanner{}
	_, err = scanAll(t, "<stream:stream "+strings.Repeat("a='b' ", 1000)+">", 0, &s)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("big header: %v", err)
	}
	// Keepalive white space between stanzas costs nothing.
	s = Scanner{}
	got, err := scanAll(t, header+strings.Repeat(" \n", 100000)+"<a/>", 1000, &s)
	if err != nil || len(got) != 2 || !s.Idle() {
		t.Fatalf("keepalives: %v %q idle=%v", err, got, s.Idle())
	}
}

func TestScannerStopAndReset(t *testing.T) {
	var s Scanner
	in := []byte(header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01")
	var got []item
	n, err := s.Feed(in, func(k Kind, d []byte) error {
		got = append(got, item{k, string(d)})
		if k == KindElement {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != len(in)-3 || len(got) != 2 {
		t.Fatalf("stop: n=%d err=%v got=%q", n, err, got)
	}
	s.Reset()
	items, err := scanAll(t, header+"<a/>", 5, &s)
	if err != nil || len(items) != 2 || items[0].kind != KindOpen {
		t.Fatalf("after reset: %v %q", err, items)
	}
}

func TestParse(t *testing.T) {
	el, err := Parse([]byte(`<message to='a@b' xml:lang='en'><body>hi &amp; &#x263a;<![CDATA[<x>]]></body><composing xmlns='http://jabber.org/protocol/chatstates'/><stream:error/></message>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !el.Is(NSClient, "message") || el.Get("to") != "a@b" || el.GetNS("http://www.w3.org/XML/1998/namespace", "lang") != "en" {
		t.Fatalf("message: %+v", el)
	}
	if el.ChildText(NSClient, "body") != "hi & ☺<x>" {
		t.Fatalf("body %q", el.ChildText(NSClient, "body"))
	}
	if el.Child(NSChatState, "composing") == nil || el.Child(NSStream, "error") == nil {
		t.Fatalf("children %+v", el.Children)
	}
	// Mixed content: text around children (a copied strings.Builder once
	// panicked here).
	el, err = Parse([]byte(`<message><body>a<b>x</b>c<i/>d<e/><f/><g/>e</body></message>`), 0)
	if err != nil || el.Child(NSClient, "body").Text != "acde" {
		t.Fatalf("mixed content: %v %+v", err, el)
	}
	for _, bad := range []string{
		`<a>&foo;</a>`, `<a><b></a>`, `<a><!-- c --></a>`, `<a><?pi?></a>`, `<a x='1' x='2'/>`, `<a>`,
		"<a>\x00</a>",
	} {
		if _, err := Parse([]byte(bad), 0); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if _, err := Parse([]byte("<a><a><a><a/></a></a></a>"), 3); !errors.Is(err, ErrDepth) {
		t.Errorf("depth: %v", err)
	}
}

func TestParseFramed(t *testing.T) {
	el, err := ParseFramed([]byte(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`), 0)
	if err != nil || !el.Is(NSFraming, "open") || el.Get("to") != "example.com" {
		t.Fatalf("open: %v %+v", err, el)
	}
	el, err = ParseFramed([]byte(`<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`), 0)
	if err != nil || !el.Is(NSClient, "iq") || el.Child(NSPing, "ping") == nil {
		t.Fatalf("iq: %v %+v", err, el)
	}
	if _, err := ParseFramed([]byte(`<a/><b/>`), 0); err == nil {
		t.Fatal("two elements accepted")
	}
}

func TestSerializeRoundTrip(t *testing.T) {
	in := `<message xmlns='jabber:client' to='a@b' xml:lang='en'><body>x &lt; y &amp; &apos;z&apos;</body><x xmlns='jabber:x:data' type='submit'/></message>`
	el, err := ParseFramed([]byte(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(el.Serialize(nil, "")); got != in {
		t.Fatalf("serialized\n%s\nwant\n%s", got, in)
	}
}

func TestEscape(t *testing.T) {
	var b Builder
	b.Elem("body", "a<b>&'\"\x01\r", "x", "it's")
	if got := string(b.B); got != `<body x='it&apos;s'>a&lt;b&gt;&amp;&apos;&quot;`+"\uFFFD&#xD;</body>" {
		t.Fatalf("got %s", got)
	}
}

func TestJID(t *testing.T) {
	j, err := ParseJID("Alice@Example.COM/Phone 1")
	if err != nil || j.Local != "alice" || j.Domain != "example.com" || j.Resource != "Phone 1" {
		t.Fatalf("%+v %v", j, err)
	}
	if j.Bare().String() != "alice@example.com" || j.String() != "alice@example.com/Phone 1" {
		t.Fatalf("%s", j)
	}
	for _, bad := range []string{"", "@x", "a@", "a@b/", "a b@c", "\xff@x"} {
		if _, err := ParseJID(bad); err == nil {
			t.Errorf("ParseJID(%q) succeeded", bad)
		}
	}
	for nick, local := range map[string]string{
		"Alice":          "alice",
		"John Doe":       `john\20doe`,
		"a@b/c":          `a\40b\2fc`,
		`back\slash`:     `back\slash`,
		`tricky\20`:      `tricky\5c20`,
		"O'Brien & Sons": `o\27brien\20\26\20sons`,
	} {
		if got := EscapeLocal(nick); got != local {
			t.Errorf("EscapeLocal(%q) = %q, want %q", nick, got, local)
		}
		if got := UnescapeLocal(local); got != strings.ToLower(nick) {
			t.Errorf("UnescapeLocal(%q) = %q, want %q", local, got, strings.ToLower(nick))
		}
		if _, err := ParseJID(local + "@d"); err != nil {
			t.Errorf("escaped %q is not a valid localpart: %v", local, err)
		}
	}
}
