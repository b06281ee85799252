package stanza

import "testing"

// BenchmarkParse: the parsing of what a login and a chat send.
func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct{ name, xml string }{
		{"bind", "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>"},
		{"message", "<message to='room@rooms.example.test' type='groupchat' id='m1'><body>hello there, how are you?</body><active xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='abc'/></message>"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := Parse([]byte(tc.xml), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("header", func(b *testing.B) {
		b.ReportAllocs()
		h := []byte("<?xml version='1.0'?><stream:stream to='example.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
		for range b.N {
			if _, err := ParseHeader(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
