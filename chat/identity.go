package chat

import (
	"context"
	"errors"
	"path"
	"strings"
	"time"
)

// Identity is a verified user: who a session is and what it may do, as a
// token said (package auth builds it from a JWT). A session without one
// is anonymous: a self-chosen nickname with the rights of everyone (every
// public room, its own DM rooms).
//
// An Identity is immutable once passed to Connect.
type Identity struct {
	// Subject is the stable user id (a JWT's "sub"). Required. The
	// sessions of a Subject are one user (several devices) and share one
	// message rate limit.
	Subject string
	// Nickname is the display name, set by the token: the user cannot
	// choose another one (Rename fails with ErrForbidden).
	Nickname string
	// Admin may moderate: Kick users; it may also join, read and post to
	// every public room whatever Rooms and Post say. DM rooms stay
	// private to their two users.
	Admin bool
	// Rooms are the patterns (RoomPattern) of the public rooms the user
	// may join and read. nil: every public room; empty: none.
	Rooms []string
	// Post are the patterns of the public rooms the user may post and
	// type in (it must also be allowed to join them). nil: the same as
	// Rooms; empty: none (read only).
	Post []string
	// Expires, if set, ends the session then (EventDisconnect with
	// ReasonExpired): a session does not outlive its token. Connect
	// refuses an Identity that has already expired.
	Expires time.Time
}

// MayRead reports whether id may join and read the public room (canonical
// name). A nil Identity (anonymous) may.
func (id *Identity) MayRead(room string) bool {
	return id == nil || id.Admin || MatchRooms(id.Rooms, room)
}

// MayPost reports whether id may post to the public room.
func (id *Identity) MayPost(room string) bool {
	if id == nil || id.Admin {
		return true
	}
	if !MatchRooms(id.Rooms, room) {
		return false
	}
	return id.Post == nil || MatchRooms(id.Post, room)
}

// MatchRooms reports whether room matches one of patterns; nil patterns
// match everything, an empty list nothing. Patterns must have passed
// RoomPattern.
func MatchRooms(patterns []string, room string) bool {
	if patterns == nil {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, room); ok {
			return true
		}
	}
	return false
}

// RoomPattern validates and canonicalizes a room pattern: a public room
// name in which "*" matches any run of characters and "?" any one
// ("general", "team-*", "*"). Patterns are lowercased like room names.
func RoomPattern(p string) (string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "" || len(p) > 64 {
		return "", Errorf(CodeInvalidArgument, "room pattern must be 1-64 characters")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '?' {
			continue
		}
		return "", Errorf(CodeInvalidArgument, "room pattern %q: only a-z, 0-9, '_', '-', '*' and '?' are allowed", p)
	}
	return p, nil
}

// Authenticator verifies a client's token (package auth's Verifier is
// one). Errors are *Error values with CodeUnauthenticated,
// CodeTokenExpired or CodeTokenInvalid (their Message is safe to show
// and never contains the token), or CodeUnavailable when the keys
// cannot be fetched.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// Authenticate turns a client's token into an Identity for
// ConnectParams. An empty token means an anonymous client: (nil, nil),
// unless Config.RequireIdentity is set (ErrUnauthenticated). A token sent
// to a Service without an Authenticator is refused (CodeTokenInvalid)
// rather than ignored, so a client never believes it is authenticated
// when it is not.
func (s *Service) Authenticate(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		if s.cfg.RequireIdentity {
			return nil, ErrUnauthenticated
		}
		return nil, nil
	}
	if s.cfg.Authenticator == nil {
		return nil, Errorf(CodeTokenInvalid, "this server does not accept tokens")
	}
	id, err := s.cfg.Authenticator.Authenticate(ctx, token)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, Wrap(CodeUnavailable, "cannot verify the token now, try again later", err)
	}
	if id == nil || id.Subject == "" {
		return nil, Errorf(CodeTokenInvalid, "token has no subject")
	}
	return id, nil
}

// RequiresIdentity reports whether sessions need a verified Identity.
func (s *Service) RequiresIdentity() bool { return s.cfg.RequireIdentity }

// AcceptsTokens reports whether the Service has an Authenticator.
func (s *Service) AcceptsTokens() bool { return s.cfg.Authenticator != nil }
