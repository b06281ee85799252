package rest

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/banter-chat/banter/chat"
)

// sendJoining sends to room, joining it first if the session is not a
// member yet.
func sendJoining(ctx context.Context, sess *chat.Session, room, text, clientID string) (chat.Message, error) {
	m, err := sess.Send(ctx, room, text, clientID)
	if !errors.Is(err, chat.ErrNotMember) {
		return m, err
	}
	if _, err := sess.Join(ctx, room, chat.JoinOptions{Limit: 1}); err != nil {
		return chat.Message{}, err
	}
	return sess.Send(ctx, room, text, clientID)
}

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
	var a struct {
		Room     *string `json:"room"`
		From     string  `json:"from"`
		Text     *string `json:"text"`
		ClientID string  `json:"clientId"`
	}
	if err := decodeBody(r, &a, false); err != nil {
		g.fail(w, r, err)
		return
	}
	switch {
	case a.Room == nil:
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "field \"room\" is missing"))
		return
	case a.Text == nil:
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "field \"text\" is missing"))
		return
	}
	from := a.From
	if from == "" {
		from = g.cfg.PublishNickname
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	s, err := g.sender(ctx, from)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	m, err := sendJoining(ctx, s.sess, *a.Room, *a.Text, a.ClientID)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	sent(w, m)
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
	s, err = g.connect(ctx, nick, ident, "", true)
	if errors.Is(err, chat.ErrNicknameTaken) {
		return nil, chat.Errorf(chat.CodeNicknameTaken, "%q is online as a user: publish with another \"from\"", nick)
	}
	return s, err
}
