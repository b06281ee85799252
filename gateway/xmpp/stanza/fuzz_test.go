package stanza

import (
	"bytes"
	"testing"
)

// FuzzScanner feeds the input whole and split in two at every fuzzed
// point (as nats-server's parser fuzzing does): both must find the same
// items and the same error, every item must be a piece of the input, and
// every element must parse or fail cleanly.
func FuzzScanner(f *testing.F) {
	for _, tc := range scanTable {
		f.Add([]byte(tc.in), uint16(3))
	}
	f.Add([]byte(header+"<iq type='set' id='x'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='with'><value>a@b</value></field></x></query></iq>"), uint16(40))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		run := func(parts ...[]byte) ([]item, error) {
			s := Scanner{MaxStanza: 4096, MaxDepth: 8}
			var out []item
			emit := func(k Kind, d []byte) error {
				out = append(out, item{k, string(d)})
				return nil
			}
			for _, p := range parts {
				n, err := s.Feed(p, emit)
				if err != nil {
					return out, err
				}
				if n != len(p) {
					t.Fatalf("consumed %d of %d", n, len(p))
				}
			}
			return out, nil
		}
		whole, errW := run(in)
		at := int(split) % (len(in) + 1)
		parts, errP := run(in[:at], in[at:])
		if (errW == nil) != (errP == nil) || len(whole) != len(parts) {
			t.Fatalf("whole %q %v, split at %d %q %v", whole, errW, at, parts, errP)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("item %d differs: %q vs %q", i, whole[i], parts[i])
			}
			if !bytes.Contains(in, []byte(whole[i].data)) {
				t.Fatalf("item %q is not in the input", whole[i].data)
			}
			switch whole[i].kind {
			case KindElement:
				el, err := Parse([]byte(whole[i].data), 8)
				if err == nil {
					_ = el.Serialize(nil, "")
				}
			case KindOpen:
				_, _ = ParseHeader([]byte(whole[i].data))
			}
		}
	})
}

// FuzzParseFramed parses WebSocket messages and checks that what parses
// serializes to something that parses to the same tree.
func FuzzParseFramed(f *testing.F) {
	f.Add([]byte(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`))
	f.Add([]byte(`<message xmlns='jabber:client' to='a@b'><body>x &amp; y</body></message>`))
	f.Add([]byte(`<message xmlns="jabber:client"><body>a<b>x</b>c<i/>d<e/><f/><g/>e</body></message>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		el, err := ParseFramed(in, 8)
		if err != nil {
			return
		}
		out := el.Serialize(nil, "")
		el2, err := ParseFramed(out, 8)
		if err != nil {
			t.Fatalf("reparse of %q: %v", out, err)
		}
		if out2 := el2.Serialize(nil, ""); !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
