package rest

import (
	"net/http"
	"strconv"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// The routes on messages and read state (docs/api.md, "Message state"):
// each runs the protocol 1 command of the same name.

// pathSeq reads the message's seq from the path.
func pathSeq(r *http.Request) (int64, error) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil {
		return 0, chat.Errorf(chat.CodeInvalidArgument, "the message's seq must be an integer")
	}
	return seq, nil
}

// editMessage replaces the text of one's own message: body {"text"}.
func (g *Gateway) editMessage(w http.ResponseWriter, r *http.Request, s *session) {
	seq, err := pathSeq(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.run(w, r, s, http.StatusOK, proto1.CmdEdit, func(c *proto1.Command) { c.Room, c.Seq = r.PathValue("room"), seq })
}

// react adds (PUT) or removes (DELETE) the user's reaction {emoji}.
func (g *Gateway) react(remove bool) func(w http.ResponseWriter, r *http.Request, s *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		seq, err := pathSeq(r)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		g.run(w, r, s, http.StatusOK, proto1.CmdReact, func(c *proto1.Command) {
			c.Room, c.Seq, c.Emoji, c.Remove = r.PathValue("room"), seq, r.PathValue("emoji"), remove
		})
	}
}

// seen tells who has read a message (counts only in large rooms).
func (g *Gateway) seen(w http.ResponseWriter, r *http.Request, s *session) {
	seq, err := pathSeq(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	res, err := s.Exec(r.Context(), proto1.Command{Name: proto1.CmdSeen, Room: r.PathValue("room"), Seq: seq}, s)
	g.answer(w, r, http.StatusOK, res, err)
}

// changes pages the room's changed messages: ?after=<rev>&limit=.
func (g *Gateway) changes(w http.ResponseWriter, r *http.Request, s *session) {
	after, _, err := queryInt(r, "after")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	limit, _, err := queryInt(r, "limit")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	cmd := proto1.Command{Name: proto1.CmdChanges, Room: r.PathValue("room"), After: &after, Limit: int(min(limit, chat.MaxPageLimit))}
	res, err := s.Exec(r.Context(), cmd, s)
	g.answer(w, r, http.StatusOK, res, err)
}

// markRead moves the user's read marker: body {"read", "delivered"}.
func (g *Gateway) markRead(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdMark, pathRoom(r))
}
