package siogw

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/socketio/parser"
)

// FuzzChatArgs feeds an event's argument array (as a client sends it) to
// the chat argument decoders: they must never panic, and every failure
// must be a *chat.Error with a code and a message for the client.
func FuzzChatArgs(f *testing.F) {
	// Real traffic of protocol 1, SocketChat and classic clients (captured
	// from the e2e and reliability runs), plus the hostile shapes of the
	// bad-input test.
	for _, s := range []string{
		`["hello",{"nickname":"w0","since":{"alpha":12,"beta":9}}]`,
		`["hello",{"nickname":"Alice","rooms":["general","random"],"watchUsers":true}]`,
		`["hello",{"nickname":"bob","resume":"0123456789abcdef0123456789abcdef"}]`,
		`["send",{"room":"alpha","text":"w0 says 17","clientId":"w0-17"}]`,
		`["dm",{"to":"Bob","text":"psst","clientId":"c-18"}]`,
		`["join",{"room":"general","after":41,"limit":100}]`,
		`["join","general"]`,
		`["since",{"room":"general","after":0,"limit":200}]`,
		`["history",{"room":"general","before":20,"limit":50}]`,
		`["typing",{"room":"lobby","typing":true}]`,
		`["nick","Alicia"]`,
		`["connectUser","alice"]`,
		`["chatMessage","alice","hello from SocketChat"]`,
		`["chat message","hi"]`,
		`["hello",{"nickname":42}]`,
		`["send",{"room":5,"text":"hi"}]`,
		`["send",{"room":"general","text":"bad \xff here"}]`,
		`["hello",{"nickname":"a","since":{"a":1,"a":2}}]`,
		`["hello",{"nickname":"a","since":[1,2]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		args, err := parser.RawArgs(data)
		if err != nil || len(args) < 2 {
			return
		}
		raw := json.RawMessage(args[1])
		check := func(what string, err error) {
			if err == nil {
				return
			}
			var ce *chat.Error
			if !errors.As(err, &ce) || ce.Code == "" || ce.Message == "" {
				t.Fatalf("%s of %q: %v is not a clear chat error", what, data, err)
			}
		}
		var h helloArgs
		check("hello", decodeJSON(raw, "hello", &h))
		if err := decodeJSON(raw, "hello", &h); err == nil {
			_, err := orderedSince(h.Since)
			check("since", err)
		}
		var s sendArgs
		check("send", decodeJSON(raw, "send", &s))
		var j joinArgs
		check("join", decodeJSON(raw, "join", &j))
		var p pageArgs
		check("history", decodeJSON(raw, "history", &p))
		var ty typingArgs
		check("typing", decodeJSON(raw, "typing", &ty))
		var name string
		check("nick", decodeJSON(raw, "nick", &name))
	})
}
