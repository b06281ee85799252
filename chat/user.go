package chat

import "slices"

// user is an online user of this node: a nickname and its sessions. An
// anonymous user has exactly one session (a second connection with the
// nickname is refused, or replaces it with the resume token); a verified
// user may have several, one per device or gateway, which share its
// rooms' presence (joined with the first session in a room, left with the
// last), its online status and its rate buckets. Guarded by Service.mu.
type user struct {
	key      string    // NickKey
	ident    *Identity // the first session's; nil when anonymous
	sessions []*Session
	claimID  string // the session id under which this node claimed the nickname (Roster)
}

// info is the user as listed: its first session's id and start.
func (u *user) info() User { return u.sessions[0].user() }

// session returns the session whose resume token is token, if any.
func (u *user) session(token string) *Session {
	i := slices.IndexFunc(u.sessions, func(s *Session) bool { return constantTimeEqual(s.token, token) })
	if i < 0 {
		return nil
	}
	return u.sessions[i]
}

// remove drops sess and reports whether it was the last one.
func (u *user) remove(sess *Session) bool {
	u.sessions = slices.DeleteFunc(u.sessions, func(s *Session) bool { return s == sess })
	return len(u.sessions) == 0
}
