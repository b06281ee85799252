package rest

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

var (
	errPublishDisabled = statusErr(http.StatusForbidden, chat.Errorf(chat.CodeForbidden,
		"server-side publish is disabled: start the server with --api-key (app.Config.APIKey)"))
	errNoAPIKey = statusErr(http.StatusUnauthorized, chat.Errorf(chat.CodeForbidden,
		"publish needs the server's API key: send Authorization: Bearer <key> or X-API-Key: <key>"))
	errBadAPIKey = statusErr(http.StatusUnauthorized, chat.Errorf(chat.CodeForbidden, "wrong API key"))
)

// checkAPIKey authenticates a backend.
func (g *Gateway) checkAPIKey(r *http.Request) error {
	if g.cfg.APIKey == "" {
		return errPublishDisabled
	}
	key := r.Header.Get("X-API-Key")
	if key == "" {
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = strings.TrimSpace(h)
		}
	}
	switch {
	case key == "":
		return errNoAPIKey
	case subtle.ConstantTimeCompare([]byte(key), []byte(g.cfg.APIKey)) != 1:
		return errBadAPIKey
	}
	return nil
}

// publish posts a message as a backend: like Socket.IO's emitter or
// Centrifugo's HTTP API. The sender ("from", default
// Config.PublishNickname) is a chat session the gateway keeps while it is
// used, so the message is stored, sequenced, de-duplicated and fanned out
// exactly like a user's; that nickname is taken while the sender lives.
func (g *Gateway) publish(w http.ResponseWriter, r *http.Request) {
	if err := g.checkAPIKey(r); err != nil {
		g.fail(w, r, err)
		return
	}
	body, err := readBody(r)
	var from struct {
		From string `json:"from"`
	}
	var cmd proto1.Command
	if err == nil {
		// The body is send's, plus "from".
		if cmd, err = proto1.DecodeBody(proto1.CmdSend, body, nil); err == nil {
			err = proto1.Unmarshal(body, "", true, &from)
		}
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if from.From == "" {
		from.From = g.cfg.PublishNickname
	}
	s, err := g.sender(r.Context(), from.From)
	var res proto1.SendResult
	if err == nil {
		res, err = sendJoining(r.Context(), s, cmd)
	}
	g.sent(w, r, res, err)
}

// sender returns the publish session of nickname, connecting it if needed.
func (g *Gateway) sender(ctx context.Context, nickname string) (*session, error) {
	nick, err := chat.NormalizeNickname(nickname)
	if err != nil {
		return nil, err
	}
	key := chat.NickKey(nick)
	g.pubMu.Lock()
	defer g.pubMu.Unlock()
	g.mu.Lock()
	s := g.backends[key]
	g.mu.Unlock()
	if s != nil {
		s.touch()
		return s, nil
	}
	// Backends hold the API key: when clients need tokens, they get an
	// identity of their own (every public room; subject "backend:<nick>",
	// so a user's verified nickname stays theirs).
	var ident *chat.Identity
	if g.svc.RequiresIdentity() {
		ident = &chat.Identity{Subject: "backend:" + key, Nickname: nick}
	}
	s, err = g.connectBackend(ctx, nick, ident)
	if errors.Is(err, chat.ErrNicknameTaken) {
		return nil, chat.Errorf(chat.CodeNicknameTaken, "%q is online as a user: publish with another \"from\"", nick)
	}
	return s, err
}
