package xmppgw

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// principal is who authenticated: the chat nickname (the JID's node is
// its escaped, lowercased form) and the verified identity (nil:
// anonymous).
type principal struct {
	nick  string
	ident *chat.Identity
}

// local is the JID localpart of the principal.
func (p *principal) local() string { return stanza.EscapeLocal(p.nick) }

// same reports whether q is the same user as p (for a stream resumption).
func (p *principal) same(q *principal) bool {
	if p.ident != nil || q.ident != nil {
		return p.ident != nil && q.ident != nil && p.ident.Subject == q.ident.Subject
	}
	return chat.NickKey(p.nick) == chat.NickKey(q.nick)
}

// SASL mechanisms (RFC 6120 6). There is no password store, so no SCRAM:
// PLAIN carries a JWT as the password (or, in anonymous mode, only names
// the nickname), OAUTHBEARER (RFC 7628) carries the JWT as a bearer
// token, ANONYMOUS (RFC 4505) takes the nickname from its trace or makes
// one up.
const (
	mechPlain       = "PLAIN"
	mechOAuthBearer = "OAUTHBEARER"
	mechAnonymous   = "ANONYMOUS"
)

// mechanisms offered on this connection.
func (c *conn) mechanisms() []string {
	svc := c.g.svc
	var ms []string
	if svc.AcceptsTokens() || !svc.RequiresIdentity() {
		ms = append(ms, mechPlain)
	}
	if svc.AcceptsTokens() {
		ms = append(ms, mechOAuthBearer)
	}
	if !svc.RequiresIdentity() {
		ms = append(ms, mechAnonymous)
	}
	return ms
}

const maxSASLTries = 3

// onSASL handles <auth/>, <response/> and <abort/>.
func (c *conn) onSASL(el *stanza.Element) {
	var mech string
	switch el.Local {
	case "auth":
		mech = el.Get("mechanism")
		if !contains(c.mechanisms(), mech) {
			c.saslFail("invalid-mechanism", "offered: "+strings.Join(c.mechanisms(), ", "))
			return
		}
		if strings.TrimSpace(el.Text) == "" && mech != mechAnonymous {
			// No initial response: ask for it with an empty challenge.
			c.sasl = mech
			c.writeRaw([]byte("<challenge xmlns='" + stanza.NSSASL + "'/>"))
			return
		}
	case "response":
		if c.sasl == "" {
			c.saslFail("malformed-request", "no authentication in progress")
			return
		}
		mech, c.sasl = c.sasl, ""
	case "abort":
		c.sasl = ""
		c.saslFail("aborted", "")
		return
	default:
		c.saslFail("malformed-request", "expected auth")
		return
	}
	data, err := decodeSASL(el.Text)
	if err != nil {
		c.saslFail("incorrect-encoding", "the data is not base64")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var p *principal
	switch mech {
	case mechPlain:
		p, err = c.authPlain(ctx, data)
	case mechOAuthBearer:
		p, err = c.authBearer(ctx, data)
	case mechAnonymous:
		p, err = c.authAnonymous(data)
	}
	if err != nil {
		var se *saslError
		if errors.As(err, &se) {
			c.saslFail(se.cond, se.text)
		} else {
			code, msg := chat.ClientError(err)
			cond := "not-authorized"
			if code == chat.CodeUnavailable || code == chat.CodeInternal {
				cond = "temporary-auth-failure"
			}
			c.saslFail(cond, msg)
		}
		return
	}
	c.who = p
	c.restart()
	c.writeRaw([]byte("<success xmlns='" + stanza.NSSASL + "'/>"))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type saslError struct{ cond, text string }

func (e *saslError) Error() string { return e.cond + ": " + e.text }

func (c *conn) saslFail(cond, text string) {
	var b stanza.Builder
	b.Start("failure", "xmlns", stanza.NSSASL).Empty(cond)
	if text != "" {
		b.Elem("text", text, "xml:lang", "en")
	}
	b.End("failure")
	c.writeRaw(b.B)
	c.saslTries++
	if c.saslTries >= maxSASLTries {
		c.streamError("policy-violation", "too many failed authentication attempts")
	}
}

func decodeSASL(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "=" || s == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// looksLikeJWT: three base64url parts. A password that is not one is a
// plain password, which this server cannot check.
func looksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && !strings.ContainsAny(s, " \t\r\n")
}

// authPlain: authzid NUL authcid NUL password (RFC 4616). A JWT password
// is verified and the token's user is the principal (the username must
// be its nickname or subject); in anonymous mode any other password is
// ignored and the username is the nickname.
func (c *conn) authPlain(ctx context.Context, data []byte) (*principal, error) {
	parts := bytes.Split(data, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return nil, &saslError{"malformed-request", "PLAIN needs authzid NUL username NUL password"}
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	svc := c.g.svc
	var p *principal
	if looksLikeJWT(pass) && svc.AcceptsTokens() {
		id, err := svc.Authenticate(ctx, pass)
		if err != nil {
			return nil, err
		}
		if !userMatches(user, id) {
			return nil, &saslError{"not-authorized", "the username is not the token's user"}
		}
		p = &principal{nick: id.Nickname, ident: id}
	} else {
		if svc.RequiresIdentity() {
			return nil, &saslError{"not-authorized", "a token is required: send it as the password"}
		}
		nick, err := chat.NormalizeNickname(stanza.UnescapeLocal(user))
		if err != nil {
			return nil, err
		}
		p = &principal{nick: nick}
	}
	if authz != "" && !authzMatches(authz, p, c.g.domain) {
		return nil, &saslError{"invalid-authzid", "you may only act as yourself"}
	}
	return p, nil
}

// userMatches accepts the token's nickname (raw or as a JID node, any
// case) or its subject as the SASL username.
func userMatches(user string, id *chat.Identity) bool {
	u := strings.ToLower(user)
	if j, err := stanza.ParseJID(user); err == nil && j.Local != "" {
		u = j.Local
	}
	return u == strings.ToLower(id.Nickname) || u == stanza.EscapeLocal(id.Nickname) || user == id.Subject
}

func authzMatches(authz string, p *principal, domain string) bool {
	j, err := stanza.ParseJID(authz)
	if err != nil {
		return false
	}
	if j.Local == "" { // a bare username
		return strings.ToLower(authz) == p.local() || chat.NickKey(authz) == chat.NickKey(p.nick)
	}
	return j.Local == p.local() && j.Domain == domain
}

// authBearer: RFC 7628's gs2 header, then key=value pairs separated by
// 0x01, of which auth=Bearer <token>.
func (c *conn) authBearer(ctx context.Context, data []byte) (*principal, error) {
	gs2, rest, ok := bytes.Cut(data, []byte{1})
	if !ok || !bytes.HasPrefix(gs2, []byte("n,")) {
		return nil, &saslError{"malformed-request", "OAUTHBEARER needs a gs2 header"}
	}
	var authz string
	for _, f := range strings.Split(string(gs2), ",")[1:] {
		if v, ok := strings.CutPrefix(f, "a="); ok {
			authz = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(v)
		}
	}
	var token string
	for _, kv := range bytes.Split(rest, []byte{1}) {
		if v, ok := bytes.CutPrefix(kv, []byte("auth=")); ok {
			f := strings.Fields(string(v))
			if len(f) == 2 && strings.EqualFold(f[0], "Bearer") {
				token = f[1]
			}
		}
	}
	if token == "" {
		return nil, &saslError{"malformed-request", "no auth=Bearer token"}
	}
	id, err := c.g.svc.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	p := &principal{nick: id.Nickname, ident: id}
	if authz != "" && !authzMatches(authz, p, c.g.domain) {
		return nil, &saslError{"invalid-authzid", "you may only act as yourself"}
	}
	return p, nil
}

// authAnonymous: the trace, when it is a valid nickname that needs no
// escaping in a JID (not an e-mail address, nor a library's default
// trace such as slixmpp's "Anonymous, Suelta"), is the nickname;
// otherwise one is made up.
func (c *conn) authAnonymous(trace []byte) (*principal, error) {
	if c.g.svc.RequiresIdentity() {
		return nil, &saslError{"mechanism-too-weak", "this server requires a token"}
	}
	if t := string(trace); t != "" && !strings.ContainsAny(t, "@, \t\"&'/:<>\\") {
		if nick, err := chat.NormalizeNickname(t); err == nil {
			return &principal{nick: nick}, nil
		}
	}
	return &principal{nick: "guest-" + newID()[:8]}, nil
}
