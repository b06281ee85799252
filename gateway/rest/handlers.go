package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Routes of protocol 1's commands decode their bodies with
// proto1.DecodeBody (the path fills the room or nickname) and run them
// with the session's proto1.Conn: the answers are the command's, with
// an HTTP status.

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, statusErr(http.StatusRequestEntityTooLarge, chat.Errorf(chat.CodeMessageTooLarge, "the request body is larger than %d bytes", MaxBodyBytes))
		}
		return nil, chat.Errorf(chat.CodeInvalidArgument, "cannot read the request body")
	}
	return buf.Bytes(), nil
}

// command reads the body of a request for command name; path sets what
// the route's path carries.
func command(r *http.Request, name string, path func(*proto1.Command)) (proto1.Command, error) {
	body, err := readBody(r)
	if err != nil {
		return proto1.Command{Name: name}, err
	}
	return proto1.DecodeBody(name, body, path)
}

// run decodes the request's command, runs it for s and answers it with
// status (or the error's).
func (g *Gateway) run(w http.ResponseWriter, r *http.Request, s *session, status int, name string, path func(*proto1.Command)) {
	cmd, err := command(r, name, path)
	var res any
	if err == nil {
		res, err = s.Exec(r.Context(), cmd, s)
	}
	g.answer(w, r, status, res, err)
}

// answer writes a command's answer: {"ok": true, ...result} with status,
// or the error's.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, status int, result any, err error) {
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeBody(w, status, append(proto1.Ack(result), '\n'))
}

func pathRoom(r *http.Request) func(*proto1.Command) {
	return func(c *proto1.Command) { c.Room = r.PathValue("room") }
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, false, chat.Errorf(chat.CodeInvalidArgument, "query parameter %q must be a non-negative integer", name)
	}
	return v, true, nil
}

// createSession runs hello: a session anonymous with a nickname, or as the
// user of a JWT sent as "Authorization: Bearer <jwt>" (or in the body's
// "token"), whose nickname it then has.
func (g *Gateway) createSession(w http.ResponseWriter, r *http.Request) {
	cmd, err := command(r, proto1.CmdHello, nil)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if t := token(r, false); cmd.Token == "" && g.svc.AcceptsTokens() && strings.Count(t, ".") == 2 {
		// A JWT. Anything else (an old session token), or any header
		// when the server does not verify tokens (a proxy's own bearer
		// token), is not ours to judge here.
		cmd.Token = t
	}
	res, err := g.connect(r.Context(), cmd)
	g.answer(w, r, http.StatusCreated, res, err)
}

type sessionInfo struct {
	OK       bool     `json:"ok"`
	ID       string   `json:"id"`
	Nickname string   `json:"nickname"`
	Rooms    []string `json:"rooms"`
}

func (g *Gateway) getSession(w http.ResponseWriter, r *http.Request, s *session) {
	writeJSON(w, http.StatusOK, sessionInfo{OK: true, ID: s.sess.ID(), Nickname: s.sess.Nickname(), Rooms: s.sess.Joined()})
}

func (g *Gateway) deleteSession(w http.ResponseWriter, r *http.Request, s *session) {
	g.forget(s)
	s.end("deleted by the client", "logout")
	writeBody(w, http.StatusOK, append(proto1.Ack(nil), '\n'))
}

func (g *Gateway) rename(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdNick, nil)
}

type usersResult struct {
	OK    bool        `json:"ok"`
	Users []chat.User `json:"users"`
}

// viewer returns the session of a request to a route that needs none,
// if it sent a token, or always when the server requires identities
// (then nothing is public).
func (g *Gateway) viewer(r *http.Request) (*session, error) {
	if token(r, false) == "" && !g.svc.RequiresIdentity() {
		return nil, nil
	}
	return g.lookup(r, false)
}

func (g *Gateway) users(w http.ResponseWriter, r *http.Request) {
	if _, err := g.viewer(r); err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, usersResult{OK: true, Users: g.svc.Users()})
}

// rooms lists the public rooms, plus the caller's DM rooms with a session.
func (g *Gateway) rooms(w http.ResponseWriter, r *http.Request) {
	s, err := g.viewer(r)
	var res any
	switch {
	case err != nil:
	case s != nil:
		// The rooms its token allows, and its DM rooms.
		res, err = s.Exec(r.Context(), proto1.Command{Name: proto1.CmdRooms}, s)
	default:
		ctx, cancel := g.proto.Context(r.Context())
		defer cancel()
		var rooms []chat.RoomInfo
		if rooms, err = g.svc.Rooms(ctx); rooms == nil {
			rooms = []chat.RoomInfo{}
		}
		res = proto1.RoomsResult{Rooms: rooms}
	}
	g.answer(w, r, http.StatusOK, res, err)
}

type membersResult struct {
	OK      bool     `json:"ok"`
	Room    string   `json:"room"`
	Members []string `json:"members"`
	More    bool     `json:"more"`
}

// members lists who is in a room (cluster-wide), a page at a time: after
// (a nickname) and limit. A DM room's members are shown only to its two
// users, a room a token does not allow to nobody.
func (g *Gateway) members(w http.ResponseWriter, r *http.Request) {
	room, err := chat.NormalizeRoom(r.PathValue("room"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	s, err := g.viewer(r)
	if err == nil && s == nil && chat.IsDMRoom(room) {
		err = errNoToken
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if s != nil && !s.sess.MayRead(room) {
		if chat.IsDMRoom(room) {
			g.fail(w, r, chat.ErrForbidden)
		} else {
			g.fail(w, r, chat.Errorf(chat.CodeForbidden, "your token does not allow room %q", room))
		}
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "limit must be a positive integer"))
			return
		}
	}
	members, more, err := g.svc.MemberPage(room, r.URL.Query().Get("after"), limit)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if members == nil {
		members = []string{}
	}
	writeJSON(w, http.StatusOK, membersResult{OK: true, Room: room, Members: members, More: more})
}

func (g *Gateway) join(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdJoin, pathRoom(r))
}

func (g *Gateway) leave(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdLeave, pathRoom(r))
}

// messages pages history: ?before=seq (backwards, default the latest) or
// ?after=seq (forwards: short polling), with &limit=. The response has a
// strong ETag; a client that sends it back in If-None-Match gets 304 Not
// Modified while nothing new arrived.
func (g *Gateway) messages(w http.ResponseWriter, r *http.Request, s *session) {
	before, hasBefore, err := queryInt(r, "before")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	after, hasAfter, err := queryInt(r, "after")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	limit, _, err := queryInt(r, "limit")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if hasBefore && hasAfter {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "give before or after, not both"))
		return
	}
	cmd := proto1.Command{Name: proto1.CmdHistory, Room: r.PathValue("room"), Before: before, Limit: int(min(limit, chat.MaxPageLimit))}
	if hasAfter {
		cmd.Name, cmd.After = proto1.CmdSince, &after
	}
	res, err := s.Exec(r.Context(), cmd, s)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	body := append(proto1.Ack(res), '\n')
	// Messages never change once stored (a deletion changes the page,
	// and so its hash), so the body is a function of what exists: its
	// hash is a correct strong validator.
	h := fnv.New64a()
	h.Write(body)
	etag := fmt.Sprintf(`"%016x"`, h.Sum64())
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeBody(w, http.StatusOK, body)
}

// etagMatch implements If-None-Match's list and "*" (weak comparison).
func etagMatch(header, etag string) bool {
	for _, t := range bytes.Split([]byte(header), []byte(",")) {
		t = bytes.TrimSpace(t)
		t = bytes.TrimPrefix(t, []byte("W/"))
		if string(t) == "*" || string(t) == etag {
			return true
		}
	}
	return false
}

// sent answers a posted message: 201, or 200 for a duplicate.
func (g *Gateway) sent(w http.ResponseWriter, r *http.Request, res proto1.SendResult, err error) {
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	g.answer(w, r, status, res, err)
}

// sendJoining runs send for s, joining the room first if the session is
// not a member yet (over HTTP there is nothing to gain from a separate
// join).
func sendJoining(ctx context.Context, s *session, cmd proto1.Command) (proto1.SendResult, error) {
	res, err := s.Exec(ctx, cmd, s)
	if errors.Is(err, chat.ErrNotMember) {
		if _, err = s.Exec(ctx, proto1.Command{Name: proto1.CmdJoin, Room: cmd.Room, Limit: 1}, s); err == nil {
			res, err = s.Exec(ctx, cmd, s)
		}
	}
	if err != nil {
		return proto1.SendResult{}, err
	}
	return res.(proto1.SendResult), nil
}

// post sends a message to a room, joining it first if needed.
func (g *Gateway) post(w http.ResponseWriter, r *http.Request, s *session) {
	cmd, err := command(r, proto1.CmdSend, pathRoom(r))
	var res proto1.SendResult
	if err == nil {
		res, err = sendJoining(r.Context(), s, cmd)
	}
	g.sent(w, r, res, err)
}

func (g *Gateway) directMessage(w http.ResponseWriter, r *http.Request, s *session) {
	cmd, err := command(r, proto1.CmdDM, func(c *proto1.Command) { c.To = r.PathValue("nickname") })
	var res any
	if err == nil {
		res, err = s.Exec(r.Context(), cmd, s)
	}
	sr, _ := res.(proto1.SendResult)
	g.sent(w, r, sr, err)
}

func (g *Gateway) typing(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdTyping, pathRoom(r))
}

// kick ends another user's session (admins only).
func (g *Gateway) kick(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdKick, func(c *proto1.Command) { c.Nickname = new(r.PathValue("nickname")) })
}

// deleteMessage turns a message into a tombstone (admins only).
func (g *Gateway) deleteMessage(w http.ResponseWriter, r *http.Request, s *session) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "the message's seq must be an integer"))
		return
	}
	g.run(w, r, s, http.StatusOK, proto1.CmdDelete, func(c *proto1.Command) { c.Room, c.Seq = r.PathValue("room"), seq })
}

// writeJSON answers v (a REST-only result) as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeBody(w, http.StatusInternalServerError, append(proto1.Failure(chat.ErrInternal), '\n'))
		return
	}
	writeBody(w, status, append(body, '\n'))
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
