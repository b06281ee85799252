package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/banter-chat/banter/chat"
)

// decodeBody reads a JSON object body into v. An empty body decodes as {}
// when optional is set. Every failure is invalid_argument naming the
// culprit.
func decodeBody(r *http.Request, v any, optional bool) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		if optional {
			return nil
		}
		return chat.Errorf(chat.CodeInvalidArgument, "the request body must be a JSON object")
	}
	if data[0] != '{' {
		return chat.Errorf(chat.CodeInvalidArgument, "the request body must be a JSON object")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return chat.Errorf(chat.CodeInvalidArgument, "field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return chat.Errorf(chat.CodeInvalidArgument, "the request body is not valid JSON: %v", err)
	}
	return nil
}

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

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return k
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

type okOnly struct {
	OK bool `json:"ok"`
}

// SessionResult answers POST /sessions (the hello ack of protocol 1).
type SessionResult struct {
	OK          bool        `json:"ok"`
	Protocol    int         `json:"protocol"`
	ID          string      `json:"id"`
	Nickname    string      `json:"nickname"`
	Token       string      `json:"token"`
	Limits      chat.Limits `json:"limits"`
	DefaultRoom string      `json:"defaultRoom"`
	Rooms       []any       `json:"rooms"`
}

type joinResult struct {
	OK bool `json:"ok"`
	chat.JoinResult
}

type joinFailure struct {
	Room  string    `json:"room"`
	OK    bool      `json:"ok"`
	Error ErrorBody `json:"error"`
}

// createSession connects a session: anonymous with a nickname, or as the
// user of a JWT sent as "Authorization: Bearer <jwt>" (or in the body's
// "token"), whose nickname it then has.
func (g *Gateway) createSession(w http.ResponseWriter, r *http.Request) {
	var a struct {
		Nickname *string  `json:"nickname"`
		Rooms    []string `json:"rooms"`
		Resume   string   `json:"resume"`
		Token    string   `json:"token"`
	}
	if err := decodeBody(r, &a, true); err != nil {
		g.fail(w, r, err)
		return
	}
	if t := token(r, false); a.Token == "" && g.svc.AcceptsTokens() && strings.Count(t, ".") == 2 {
		// A JWT. Anything else (an old session token), or any header
		// when the server does not verify tokens (a proxy's own bearer
		// token), is not ours to judge here.
		a.Token = t
	}
	if a.Nickname == nil && a.Token == "" {
		if g.svc.RequiresIdentity() {
			g.fail(w, r, chat.ErrUnauthenticated)
		} else {
			g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "field \"nickname\" is missing"))
		}
		return
	}
	if a.Nickname == nil {
		a.Nickname = new(string)
	}
	if len(a.Rooms) > 50 {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "at most 50 rooms"))
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	ident, err := g.svc.Authenticate(ctx, a.Token)
	if err != nil {
		if code := chat.ErrorCode(err); code == chat.CodeUnavailable || code == chat.CodeInternal {
			g.log.Warn("rest: cannot verify a token", "err", err)
		}
		g.fail(w, r, err)
		return
	}
	s, err := g.connect(ctx, *a.Nickname, ident, a.Resume, false)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	rooms := []any{}
	for _, room := range a.Rooms {
		res, err := s.sess.Join(ctx, room, chat.JoinOptions{})
		if err != nil {
			code, msg := chat.ClientError(err)
			rooms = append(rooms, joinFailure{Room: room, Error: ErrorBody{Code: code, Message: msg}})
			continue
		}
		rooms = append(rooms, joinResult{OK: true, JoinResult: res})
	}
	writeJSON(w, http.StatusCreated, SessionResult{
		OK: true, Protocol: 1, ID: s.sess.ID(), Nickname: s.sess.Nickname(), Token: s.sess.Token(),
		Limits: g.svc.Limits(), DefaultRoom: g.svc.DefaultRoom(), Rooms: rooms,
	})
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
	writeJSON(w, http.StatusOK, okOnly{OK: true})
}

type nickResult struct {
	OK       bool   `json:"ok"`
	Nickname string `json:"nickname"`
}

func (g *Gateway) rename(w http.ResponseWriter, r *http.Request, s *session) {
	var a struct {
		Nickname *string `json:"nickname"`
	}
	if err := decodeBody(r, &a, false); err != nil {
		g.fail(w, r, err)
		return
	}
	if a.Nickname == nil {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "field \"nickname\" is missing"))
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	if err := s.sess.Rename(ctx, *a.Nickname); err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nickResult{OK: true, Nickname: s.sess.Nickname()})
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

type roomsResult struct {
	OK    bool            `json:"ok"`
	Rooms []chat.RoomInfo `json:"rooms"`
}

// rooms lists the public rooms, plus the caller's DM rooms with a session.
func (g *Gateway) rooms(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := g.ctx(r)
	defer cancel()
	var rooms []chat.RoomInfo
	s, err := g.viewer(r)
	switch {
	case err != nil:
	case s != nil:
		rooms, err = s.sess.Rooms(ctx) // the rooms its token allows, and its DM rooms
	default:
		rooms, err = g.svc.Rooms(ctx)
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if rooms == nil {
		rooms = []chat.RoomInfo{}
	}
	writeJSON(w, http.StatusOK, roomsResult{OK: true, Rooms: rooms})
}

type membersResult struct {
	OK      bool     `json:"ok"`
	Room    string   `json:"room"`
	Members []string `json:"members"`
	Typing  []string `json:"typing,omitempty"`
}

// members lists who is in a room on this node. A DM room's members are
// shown only to its two users, a room a token does not allow to nobody.
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
	members, err := g.svc.Members(room)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, membersResult{OK: true, Room: room, Members: members})
}

func (g *Gateway) join(w http.ResponseWriter, r *http.Request, s *session) {
	var a struct {
		After *int64 `json:"after"`
		Limit int    `json:"limit"`
	}
	if err := decodeBody(r, &a, true); err != nil {
		g.fail(w, r, err)
		return
	}
	opt := chat.JoinOptions{Limit: a.Limit}
	if a.After != nil {
		opt.CatchUp, opt.After = true, *a.After
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	res, err := s.sess.Join(ctx, r.PathValue("room"), opt)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, joinResult{OK: true, JoinResult: res})
}

type roomResult struct {
	OK   bool   `json:"ok"`
	Room string `json:"room"`
}

func (g *Gateway) leave(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := g.ctx(r)
	defer cancel()
	if err := s.sess.Leave(ctx, r.PathValue("room")); err != nil {
		g.fail(w, r, err)
		return
	}
	room, _ := chat.NormalizeRoom(r.PathValue("room")) // Leave succeeded: valid
	writeJSON(w, http.StatusOK, roomResult{OK: true, Room: room})
}

type pageResult struct {
	OK       bool           `json:"ok"`
	Room     string         `json:"room"`
	Messages []chat.Message `json:"messages"`
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
	if limit > chat.MaxPageLimit {
		limit = chat.MaxPageLimit // chat caps it further
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	var msgs []chat.Message
	if hasAfter {
		msgs, err = s.sess.Since(ctx, r.PathValue("room"), after, int(limit))
	} else {
		msgs, err = s.sess.History(ctx, r.PathValue("room"), before, int(limit))
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	room, _ := chat.NormalizeRoom(r.PathValue("room"))
	body, err := json.Marshal(pageResult{OK: true, Room: room, Messages: msgs})
	if err != nil {
		g.fail(w, r, err)
		return
	}
	body = append(body, '\n')
	// Messages never change once stored, so the body is a function of
	// what exists: its hash is a correct strong validator.
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

type sendArgs struct {
	Text     *string `json:"text"`
	ClientID string  `json:"clientId"`
}

// SendResult answers a posted message (the send ack of protocol 1).
type SendResult struct {
	OK        bool   `json:"ok"`
	ID        string `json:"id"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	TS        int64  `json:"ts"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

func sent(w http.ResponseWriter, m chat.Message) {
	status := http.StatusCreated
	if m.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, SendResult{OK: true, ID: m.ID, Room: m.Room, Seq: m.Seq, TS: m.TS, Duplicate: m.Duplicate})
}

func (a *sendArgs) check() error {
	if a.Text == nil {
		return chat.Errorf(chat.CodeInvalidArgument, "field \"text\" is missing")
	}
	return nil
}

// post sends a message to a room, joining it first if needed (over HTTP
// there is nothing to gain from a separate join).
func (g *Gateway) post(w http.ResponseWriter, r *http.Request, s *session) {
	var a sendArgs
	err := decodeBody(r, &a, false)
	if err == nil {
		err = a.check()
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	m, err := sendJoining(ctx, s.sess, r.PathValue("room"), *a.Text, a.ClientID)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	sent(w, m)
}

func (g *Gateway) directMessage(w http.ResponseWriter, r *http.Request, s *session) {
	var a sendArgs
	err := decodeBody(r, &a, false)
	if err == nil {
		err = a.check()
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	m, err := s.sess.DirectMessage(ctx, r.PathValue("nickname"), *a.Text, a.ClientID)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	sent(w, m)
}

func (g *Gateway) typing(w http.ResponseWriter, r *http.Request, s *session) {
	var a struct {
		Typing *bool `json:"typing"`
	}
	if err := decodeBody(r, &a, false); err != nil {
		g.fail(w, r, err)
		return
	}
	if a.Typing == nil {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "field \"typing\" is missing"))
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	if err := s.sess.Typing(ctx, r.PathValue("room"), *a.Typing); err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, okOnly{OK: true})
}

// kick ends another user's session (admins only).
func (g *Gateway) kick(w http.ResponseWriter, r *http.Request, s *session) {
	var a struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(r, &a, true); err != nil {
		g.fail(w, r, err)
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	if err := s.sess.Kick(ctx, r.PathValue("nickname"), a.Reason); err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, okOnly{OK: true})
}

type deleteResult struct {
	OK   bool   `json:"ok"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
}

// deleteMessage turns a message into a tombstone (admins only).
func (g *Gateway) deleteMessage(w http.ResponseWriter, r *http.Request, s *session) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "the message's seq must be an integer"))
		return
	}
	ctx, cancel := g.ctx(r)
	defer cancel()
	m, err := s.sess.DeleteMessage(ctx, r.PathValue("room"), seq)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResult{OK: true, Room: m.Room, Seq: m.Seq})
}
