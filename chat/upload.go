package chat

import (
	"context"
	"errors"
	"io"
	"strings"
)

// UploadRequest asks for an upload slot: the file a session is about to
// send to a room.
type UploadRequest struct {
	Room string
	Name string // the file's name (CheckFileName cleans it)
	Size int64  // its exact size in bytes
	// Type is the declared media type ("" for none): the content must be
	// of this type. The name's extension is checked the same way.
	Type string
	// Text is an optional caption, sent as the message's text.
	Text string
	// ClientID makes the upload idempotent like Send's: a retried upload
	// with the same id stores one file and one message. "" gets a fresh
	// one, bound to the slot.
	ClientID string
	// ReplyTo is the id of the message of the same room the file answers
	// ("" for none), checked when the slot is signed (as SendParams').
	ReplyTo string
}

// UploadSlot is a signed permission to upload one file: send its bytes to
// Service.Upload (HTTP: PUT /api/v1/uploads/{token}) before Expires.
type UploadSlot struct {
	Token    string `json:"token"`
	Expires  int64  `json:"expires"`  // Unix ms
	ClientID string `json:"clientId"` // the message's client id
	MaxBytes int64  `json:"maxBytes"`
}

// FileToken lets its holder download the files of the rooms its session
// may read, from any node, until Expires (Service.OpenFile).
type FileToken struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"` // Unix ms
}

// FileToken returns a token for downloading the files of the rooms this
// session may read (its DM rooms by its current nickname). It is valid for
// Config.Files.TokenTTL, never past the session's Identity.
func (s *Session) FileToken(ctx context.Context) (FileToken, error) {
	if err := s.lockOpen(); err != nil {
		return FileToken{}, err
	}
	nick, id := s.nick, s.ident
	s.svc.mu.Unlock()
	key, err := s.svc.signingKey(ctx)
	if err != nil {
		return FileToken{}, err
	}
	exp := s.svc.cfg.Now().Add(s.svc.cfg.Files.TokenTTL)
	c := readClaims{Key: NickKey(nick), AllRoom: true}
	if id != nil {
		if !id.Expires.IsZero() && id.Expires.Before(exp) {
			exp = id.Expires
		}
		c.Admin, c.AllRoom, c.Rooms = id.Admin, id.Rooms == nil, id.Rooms
	}
	c.Expires = exp.UnixMilli()
	return FileToken{Token: sign(key, purposeRead, c), Expires: c.Expires}, nil
}

// UploadSlot checks that the session may post req's file to its room and
// returns a signed slot for the bytes. Checked now: the room (joined, post
// rights), the name, the size against Config.Files.MaxBytes, the declared
// type and the name's extension against the allowlist, the caption, the
// client id, and the user's message rate limit (a slot is a message).
// Errors: those of Send, ErrInvalidArgument (name, size), CodeFileTooLarge,
// CodeUnsupportedFile.
func (s *Session) UploadSlot(ctx context.Context, req UploadRequest) (UploadSlot, error) {
	svc := s.svc
	fc := svc.cfg.Files
	name, err := NormalizeRoom(req.Room)
	if err != nil {
		return UploadSlot{}, err
	}
	fname, err := CheckFileName(req.Name)
	if err != nil {
		return UploadSlot{}, err
	}
	switch {
	case req.Size < 1:
		return UploadSlot{}, Errorf(CodeInvalidArgument, "the file is empty (size must be at least 1 byte)")
	case req.Size > fc.MaxBytes:
		return UploadSlot{}, Errorf(CodeFileTooLarge, "the file is %d bytes, the limit is %d", req.Size, fc.MaxBytes)
	}
	declared, err := NormalizeMediaType(req.Type)
	if err != nil {
		return UploadSlot{}, err
	}
	for _, t := range []string{declared, NameType(fname)} {
		if strings.HasPrefix(t, "text/") && !activeType(t) {
			t = "text/plain"
		}
		if t != "" && (activeType(t) || !fc.allows(t)) {
			return UploadSlot{}, Errorf(CodeUnsupportedFile, "files of type %s are not accepted (accepted: %s)", t, strings.Join(fc.Types, ", "))
		}
	}
	if req.Text != "" {
		if err := CheckMessageText(req.Text, svc.cfg.MaxMessageBytes); err != nil {
			return UploadSlot{}, err
		}
	}
	if err := CheckClientID(req.ClientID); err != nil {
		return UploadSlot{}, err
	}
	clientID := req.ClientID
	if clientID == "" {
		clientID = "upload-" + randomHex(12)
	}
	if err := s.lockOpen(); err != nil {
		return UploadSlot{}, err
	}
	member, nick, may := s.rooms[name] != nil, s.nick, s.mayPostLocked(name)
	svc.mu.Unlock()
	switch {
	case !member:
		return UploadSlot{}, ErrNotMember
	case !may:
		return UploadSlot{}, postForbidden(name)
	}
	if req.ReplyTo != "" {
		if err := svc.checkReply(ctx, name, req.ReplyTo); err != nil {
			return UploadSlot{}, err
		}
	}
	key, err := svc.signingKey(ctx)
	if err != nil {
		return UploadSlot{}, err
	}
	if !s.lim.msg.Take() {
		svc.stats.rateLimited.Add(1)
		return UploadSlot{}, ErrRateLimited
	}
	c := slotClaims{
		Room: name, From: nick, ClientID: clientID, Name: fname, Type: declared, Size: req.Size, Text: req.Text,
		ReplyTo: req.ReplyTo, Expires: svc.cfg.Now().Add(fc.SlotTTL).UnixMilli(),
	}
	if a, b, dm := DMParticipants(name); dm {
		c.Notify = "@" + a
		if a == NickKey(nick) {
			c.Notify = "@" + b
		}
	}
	return UploadSlot{Token: sign(key, purposeUpload, c), Expires: c.Expires, ClientID: clientID, MaxBytes: req.Size}, nil
}

// Upload completes an upload slot (from any node): it reads exactly the
// slot's size from body, checks the content (FileConfig.SniffFile: the
// allowlist, the declared type of the slot and of contentType, the name's
// extension, markup, image dimensions), stores the file with its message
// and publishes it. A slot used again stores nothing more: the original
// message comes back with Duplicate set. Errors: CodeForbidden (a bad or
// expired slot), CodeInvalidArgument (a short body), CodeFileTooLarge (a
// longer one), CodeUnsupportedFile, ErrUnavailable.
func (s *Service) Upload(ctx context.Context, slot string, body io.Reader, contentType string) (Message, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return Message{}, err
	}
	var c slotClaims
	if err := verify(key, purposeUpload, slot, &c, errBadSlot); err != nil {
		return Message{}, err
	}
	if s.cfg.Now().UnixMilli() > c.Expires {
		return Message{}, errOldSlot
	}
	declared, err := NormalizeMediaType(contentType)
	if err != nil {
		return Message{}, err
	}
	if strings.HasPrefix(declared, "text/") && strings.HasPrefix(c.Type, "text/") {
		declared = c.Type // text/markdown and text/plain: both plain text
	}
	switch {
	case c.Type == "":
		c.Type = declared
	case declared != "" && declared != c.Type:
		return Message{}, Errorf(CodeUnsupportedFile, "the upload says it is %s but its slot was asked for %s", declared, c.Type)
	}
	if err := s.fileMem.Acquire(ctx, c.Size); err != nil {
		return Message{}, Wrap(CodeUnavailable, "the server is busy storing other files, try again", err)
	}
	defer s.fileMem.Release(c.Size)
	data := make([]byte, c.Size)
	if n, err := io.ReadFull(body, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Message{}, Errorf(CodeInvalidArgument, "the upload has %d bytes, its slot is for %d", n, c.Size)
		}
		return Message{}, Wrap(CodeInvalidArgument, "the upload could not be read", err)
	}
	var one [1]byte
	if n, _ := body.Read(one[:]); n > 0 {
		return Message{}, Errorf(CodeFileTooLarge, "the upload is longer than the %d bytes of its slot", c.Size)
	}
	typ, w, h, err := s.cfg.Files.SniffFile(data, c.Name, c.Type)
	if err != nil {
		return Message{}, err
	}
	// The reply was checked when the slot was signed: checking again here
	// would refuse the retry of an upload whose original was deleted since.
	d := Draft{Room: c.Room, Sender: c.From, Text: c.Text, ClientID: c.ClientID, ReplyTo: c.ReplyTo, Mentions: ParseMentions(c.Text), File: &FileDraft{
		Attachment: Attachment{ID: NewFileID(), Name: c.Name, Type: typ, Size: c.Size, Width: w, Height: h},
		Data:       data,
	}}
	m, err := s.store.Append(ctx, d)
	if err != nil {
		return Message{}, storeErr(err)
	}
	if m.Duplicate {
		s.stats.duplicates.Add(1)
		return m, nil
	}
	s.stats.stored.Add(1)
	ev := &Event{Kind: EventMessage, Room: m.Room, Message: &m}
	if c.Notify != "" {
		s.publish(ctx, c.Notify, ev)
	}
	s.publish(ctx, m.Room, ev)
	return m, nil
}

// Upload is UploadSlot and Service.Upload at once, for a gateway that has
// the bytes at hand (REST).
func (s *Session) Upload(ctx context.Context, req UploadRequest, body io.Reader, contentType string) (Message, error) {
	slot, err := s.UploadSlot(ctx, req)
	if err != nil {
		return Message{}, err
	}
	return s.svc.Upload(ctx, slot.Token, body, contentType)
}

// OpenFile opens file id for the holder of a file token (Session.FileToken,
// from any node). Errors: CodeForbidden (a bad or expired token, or a file
// of a room the token's holder may not read), ErrNotFound, ErrUnavailable.
func (s *Service) OpenFile(ctx context.Context, token, id string) (*FileReader, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	var c readClaims
	if err := verify(key, purposeRead, token, &c, errBadFileToken); err != nil {
		return nil, err
	}
	if s.cfg.Now().UnixMilli() > c.Expires {
		return nil, errOldFileToken
	}
	return s.openFile(ctx, id, c.mayRead)
}

// OpenFile opens file id if the session may read its room.
func (s *Session) OpenFile(ctx context.Context, id string) (*FileReader, error) {
	if err := s.lockOpen(); err != nil {
		return nil, err
	}
	s.svc.mu.Unlock()
	return s.svc.openFile(ctx, id, func(room string) bool {
		s.svc.mu.Lock()
		defer s.svc.mu.Unlock()
		return s.mayReadLocked(room)
	})
}

func (s *Service) openFile(ctx context.Context, id string, mayRead func(string) bool) (*FileReader, error) {
	if err := CheckFileID(id); err != nil {
		return nil, err
	}
	f, err := s.store.File(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	if !mayRead(f.Room) {
		return nil, Errorf(CodeForbidden, "this file belongs to a room you may not read")
	}
	return &FileReader{File: f, store: s.store, ctx: ctx, chunk: -1}, nil
}

// FileReader reads a stored file part by part (an io.ReadSeeker, so that
// http.ServeContent answers ranges). It holds one part in memory. It is
// bound to the context it was opened with.
type FileReader struct {
	File StoredFile

	store Store
	ctx   context.Context
	off   int64
	chunk int // the part in buf; -1: none
	buf   []byte
}

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	if r.off >= r.File.Size {
		return 0, io.EOF
	}
	n := int(r.off / FileChunkBytes)
	if n != r.chunk {
		buf, err := r.store.FileChunk(r.ctx, r.File.ID, n)
		if err != nil {
			return 0, storeErr(err)
		}
		r.chunk, r.buf = n, buf
	}
	start := int(r.off - int64(n)*FileChunkBytes)
	if start >= len(r.buf) {
		return 0, Errorf(CodeUnavailable, "file %s is shorter than its size", r.File.ID)
	}
	k := copy(p, r.buf[start:])
	r.off += int64(k)
	return k, nil
}

// Seek implements io.Seeker.
func (r *FileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.File.Size
	}
	if offset < 0 {
		return 0, Errorf(CodeInvalidArgument, "seek before the start of the file")
	}
	r.off = offset
	return offset, nil
}
