package chat

// userLimit is the pair of rate buckets of one user (an Identity's
// Subject, or an anonymous nickname), shared by all its sessions on this
// node. refs counts the sessions using it; guarded by Service.mu.
type userLimit struct {
	msg, typ *Bucket
	refs     int
}

// limitKey names the user whose buckets the session uses.
func (s *Session) limitKey() string {
	if s.ident != nil {
		return "s:" + s.ident.Subject
	}
	return "n:" + NickKey(s.nick)
}

// acquireLimitLocked returns the buckets of key with one more reference.
// Buckets of users without sessions are kept until they are full again
// (a reconnect must not refill them); they are swept here when the map
// has doubled since the last sweep, so it stays proportional to the
// users online plus the recently active ones.
func (s *Service) acquireLimitLocked(key string) *userLimit {
	l := s.limits[key]
	if l == nil {
		if len(s.limits) >= s.sweepAt {
			for k, x := range s.limits {
				if x.refs <= 0 && x.msg.Full() && x.typ.Full() {
					delete(s.limits, k)
				}
			}
			s.sweepAt = max(1024, 2*len(s.limits))
		}
		l = &userLimit{
			msg: NewBucket(s.cfg.RateBurst, s.cfg.RatePerSecond, s.cfg.Now),
			typ: NewBucket(s.cfg.RateBurst, s.cfg.RatePerSecond, s.cfg.Now),
		}
		s.limits[key] = l
	}
	l.refs++
	return l
}
