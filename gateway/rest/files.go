package rest

import (
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Files and search over HTTP (docs/api.md, "Files", "Search"): the upload
// slots of protocol 1 are completed here (PUT /uploads/{token}, any node),
// REST sessions upload in one request (POST /rooms/{room}/files), and
// files are downloaded with a file token or a session token (GET
// /files/{id}/{name}).

// uploadedResult answers an upload: the stored message with its
// attachment.
type uploadedResult struct {
	Message   chat.Message `json:"message"`
	Duplicate bool         `json:"duplicate,omitempty"`
}

// fileCSP forbids everything to a served file, as a document: no script,
// no style, no plugin, no framing, and sandboxed (a unique origin) should
// a browser render it anyway.
const fileCSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (g *Gateway) answerUpload(w http.ResponseWriter, r *http.Request, m chat.Message, err error) {
	if err != nil {
		g.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if m.Duplicate {
		status = http.StatusOK
	}
	g.answer(w, r, status, uploadedResult{Message: m, Duplicate: m.Duplicate}, nil)
}

// putUpload completes an upload slot: the body is the file's bytes.
func (g *Gateway) putUpload(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := g.proto.Context(r.Context())
	defer cancel()
	m, err := g.svc.Upload(ctx, r.PathValue("token"), r.Body, r.Header.Get("Content-Type"))
	g.answerUpload(w, r, m, err)
}

// postFile uploads a file for a REST session in one request: the body is
// the file's bytes, the query its name (required), clientId and text.
func (g *Gateway) postFile(w http.ResponseWriter, r *http.Request, s *session) {
	if r.ContentLength < 0 {
		g.fail(w, r, statusErr(http.StatusLengthRequired, chat.Errorf(chat.CodeInvalidArgument, "send the file with a Content-Length")))
		return
	}
	q := r.URL.Query()
	req := chat.UploadRequest{
		Room: r.PathValue("room"), Name: q.Get("name"), Size: r.ContentLength,
		Type: r.Header.Get("Content-Type"), Text: q.Get("text"), ClientID: q.Get("clientId"),
		ReplyTo: q.Get("replyTo"),
	}
	if req.Name == "" {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "query parameter \"name\" (the file's name) is missing"))
		return
	}
	ctx, cancel := g.proto.Context(r.Context())
	defer cancel()
	m, err := s.sess.Upload(ctx, req, r.Body, req.Type)
	g.answerUpload(w, r, m, err)
}

// getFile serves a file to the holder of a file token (?token= or
// Authorization: Bearer) or of a REST session token.
func (g *Gateway) getFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tok := r.URL.Query().Get("token")
	if tok == "" {
		tok = token(r, false)
	}
	if tok == "" {
		g.fail(w, r, statusErr(http.StatusUnauthorized, chat.Errorf(chat.CodeUnauthenticated,
			"downloading a file needs a token: ?token= from the fileToken command, or a session's bearer token")))
		return
	}
	ctx := r.Context()
	var f *chat.FileReader
	var err error
	g.mu.Lock()
	s := g.sessions[tok]
	g.mu.Unlock()
	if s != nil {
		s.touch()
		f, err = s.sess.OpenFile(ctx, id)
	} else {
		f, err = g.svc.OpenFile(ctx, tok, id)
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	a := f.File.Attachment
	h := w.Header()
	typ := a.Type
	if typ == "text/plain" {
		typ += "; charset=utf-8"
	}
	disposition := "attachment"
	if chat.InlineType(a.Type) {
		disposition = "inline"
	}
	h.Set("Content-Type", typ)
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": a.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", fileCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("ETag", strconv.Quote(a.ID))
	http.ServeContent(w, r, "", time.UnixMilli(f.File.TS), f)
}

// search runs protocol 1's search: ?text=&room=&before=&limit=.
func (g *Gateway) search(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	if !q.Has("text") {
		g.fail(w, r, chat.Errorf(chat.CodeInvalidArgument, "query parameter \"text\" (the words to search for) is missing"))
		return
	}
	limit, _, err := queryInt(r, "limit")
	if err != nil {
		g.fail(w, r, err)
		return
	}
	text := q.Get("text")
	cmd := proto1.Command{Name: proto1.CmdSearch, Room: q.Get("room"), Search: &proto1.SearchArgs{
		Text: &text, Room: q.Get("room"), Before: q.Get("before"), Limit: int(min(limit, chat.MaxSearchLimit)),
	}}
	res, err := s.Exec(r.Context(), cmd, s)
	g.answer(w, r, http.StatusOK, res, err)
}

// fileToken gives a REST session a file token (for links it hands to a
// browser).
func (g *Gateway) fileToken(w http.ResponseWriter, r *http.Request, s *session) {
	res, err := s.Exec(r.Context(), proto1.Command{Name: proto1.CmdFileToken}, s)
	g.answer(w, r, http.StatusOK, res, err)
}

// uploadSlot runs protocol 1's upload: a slot for PUT /uploads/{token}.
func (g *Gateway) uploadSlot(w http.ResponseWriter, r *http.Request, s *session) {
	g.run(w, r, s, http.StatusOK, proto1.CmdUpload, pathRoom(r))
}
