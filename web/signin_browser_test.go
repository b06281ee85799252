package web_test

import (
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// With --auth-mode required, the page signs in with the token its link
// carries (/#token=…: never sent to the server in a URL), takes the
// token's name, and drops the token from the address bar; without a token,
// or with an expired one, it says why instead of retrying forever.
func TestPageSignsInWithToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	url, _ := apptest.Serve(t, app.Config{Auth: auth.Config{Mode: auth.ModeRequired, HMACSecret: secret}})
	sign := func(c auth.Claims) string {
		tok, err := auth.Sign("HS256", secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(auth.Claims{Subject: "u-dana", Nickname: "Dana"})
	expired := sign(auth.Claims{Subject: "u-eve", Nickname: "Eve", Now: time.Now().Add(-2 * time.Hour), TTL: time.Hour})
	eval := func(page int, expr string, expect any) testutil.BrowserStep {
		return testutil.BrowserStep{Page: page, Action: "eval", Value: expr, Expect: expect, TimeoutMS: 15000}
	}
	testutil.RunBrowserSteps(t, url, testutil.BrowserScenario{Pages: 3, Steps: []testutil.BrowserStep{
		{Page: 0, Action: "goto", Value: "/?from=app#token=" + good},
		eval(0, "document.querySelector('#conn').dataset.state", "connected"),
		eval(0, "window.banter.nickname", "Dana"),
		eval(0, "location.hash", ""),
		{Page: 0, Action: "fill", Selector: "#text", Value: "signed in with a token"},
		{Page: 0, Action: "press", Selector: "#text", Value: "Enter"},
		eval(0, "document.querySelectorAll('#messages li.mine').length", 1),

		{Page: 1, Action: "goto", Value: "/?from=bookmark"},
		{Page: 1, Action: "fill", Selector: "#nickname", Value: "Mallory"},
		{Page: 1, Action: "press", Selector: "#nickname", Value: "Enter"},
		{Page: 1, Action: "waitText", Selector: "#login-error", Value: "requires signing in", TimeoutMS: 15000},

		{Page: 2, Action: "goto", Value: "/?from=app#token=" + expired},
		{Page: 2, Action: "waitText", Selector: "#login-error", Value: "expired", TimeoutMS: 15000},
	}})
}
