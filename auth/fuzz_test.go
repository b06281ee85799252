package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/chat"
)

// FuzzAuthenticate: any input is answered with an identity or a
// *chat.Error whose message does not echo the input, and never panics.
// A forged token must never verify.
func FuzzAuthenticate(f *testing.F) {
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	good, err := auth.Sign("HS256", secret, auth.Claims{Subject: "u1", Rooms: []string{"general"}})
	if err != nil {
		f.Fatal(err)
	}
	signedPart := good[:strings.LastIndex(good, ".")+1]
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good + "x", strings.Replace(good, ".", "..", 1),
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Authenticate(context.Background(), tok)
		if err == nil {
			// Only tokens signed with the secret verify: the fuzzer
			// cannot forge an HMAC, so this must be the seed's header
			// and claims (the signature may differ in non-canonical
			// base64 padding bits, which decode to the same bytes).
			if !strings.HasPrefix(strings.TrimSpace(tok), signedPart) || id.Subject != "u1" {
				t.Fatalf("%q verified as %+v", tok, id)
			}
			return
		}
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Message == "" {
			t.Fatalf("error %v is not a *chat.Error with a message", err)
		}
		if len(tok) > 20 && strings.Contains(ce.Message, tok) {
			t.Fatalf("message %q echoes the token", ce.Message)
		}
	})
}
