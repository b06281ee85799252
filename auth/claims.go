package auth

import (
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/banter-chat/banter/chat"
)

// MaxSubjectBytes bounds the "sub" claim.
const MaxSubjectBytes = 256

// maxListItems bounds a rights list (rooms, post, roles).
const maxListItems = 256

// identity turns verified claims into a chat.Identity.
func (v *Verifier) identity(c jwt.MapClaims) (*chat.Identity, error) {
	sub, ok := c["sub"].(string)
	sub = strings.TrimSpace(sub)
	if !ok || sub == "" {
		return nil, invalid(ErrBadClaims, "token has no subject (sub)")
	}
	if len(sub) > MaxSubjectBytes {
		return nil, invalid(ErrBadClaims, "token subject is longer than %d bytes", MaxSubjectBytes)
	}
	nick := sub
	if n, present := c[v.cfg.NicknameClaim]; present {
		s, ok := n.(string)
		if !ok {
			return nil, invalid(ErrBadClaims, "token claim %q must be a string", v.cfg.NicknameClaim)
		}
		if strings.TrimSpace(s) != "" {
			nick = s
		}
	}
	canon, err := chat.NormalizeNickname(nick)
	if err != nil {
		_, msg := chat.ClientError(err)
		return nil, invalid(ErrBadClaims, "token nickname is not usable: %s", msg)
	}
	id := &chat.Identity{Subject: sub, Nickname: canon}
	if exp, err := c.GetExpirationTime(); err == nil && exp != nil {
		// The leeway that let the token in also lets the session live.
		id.Expires = exp.Add(v.cfg.Leeway)
	}
	if id.Rooms, err = patterns(c, v.cfg.RoomsClaim); err != nil {
		return nil, err
	}
	if id.Post, err = patterns(c, v.cfg.PostClaim); err != nil {
		return nil, err
	}
	roles, present, err := list(c, v.cfg.RolesClaim)
	if err != nil {
		return nil, err
	}
	id.Admin = present && slices.Contains(roles, v.cfg.AdminRole)
	return id, nil
}

// patterns reads a room pattern list: nil when the claim is absent.
func patterns(c jwt.MapClaims, claim string) ([]string, error) {
	items, present, err := list(c, claim)
	if err != nil || !present {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		p, err := chat.RoomPattern(it)
		if err != nil {
			_, msg := chat.ClientError(err)
			return nil, invalid(ErrBadClaims, "token claim %q: %s", claim, msg)
		}
		out = append(out, p)
	}
	return out, nil
}

// list reads a claim that is an array of strings or a space-separated
// string.
func list(c jwt.MapClaims, claim string) (items []string, present bool, err error) {
	raw, present := c[claim]
	if !present || raw == nil {
		return nil, false, nil
	}
	switch x := raw.(type) {
	case string:
		items = strings.Fields(x)
	case []any:
		items = make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, true, invalid(ErrBadClaims, "token claim %q must list strings", claim)
			}
			items = append(items, s)
		}
	default:
		return nil, true, invalid(ErrBadClaims, "token claim %q must be an array of strings or a space-separated string", claim)
	}
	if len(items) > maxListItems {
		return nil, true, invalid(ErrBadClaims, "token claim %q has more than %d items", claim, maxListItems)
	}
	if items == nil {
		items = []string{}
	}
	return items, true, nil
}
