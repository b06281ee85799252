package chat

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Files attached to messages.
//
// A file travels with its message: the Store appends both in one
// transaction (Draft.File), so a message never points at a missing file
// and a file never exists without its message; Store.Delete removes the
// file with the message. Clients learn a message's file from its
// Attachment (id, name, type, size, image dimensions), in history,
// catch-up and events alike, and download it from any node with a file
// token (Session.FileToken): rights are those of the room's messages,
// read rights to download, post rights to upload.
//
// Uploading is two steps, so that every gateway (and a cluster without
// sticky sessions) can take the bytes over plain HTTP: the session asks
// for an upload slot (Session.UploadSlot checks membership, post rights,
// the size limit, the declared type and the rate limit, and signs what it
// allowed), then the client sends the bytes to any node, which completes
// it (Service.Upload: the content is sniffed and checked against the
// allowlist and the declared type, images are measured, and the message
// is stored and published). A slot always carries a client id, so a
// retried upload stores one file and one message. Session.Upload does both
// steps for a gateway that has the bytes at hand (REST).

// Attachment describes the file of a message. Values are immutable once
// stored: a Message and its Attachment are shared by every recipient.
type Attachment struct {
	ID   string `json:"id"`   // opaque, unguessable; the download URL's key
	Name string `json:"name"` // the file name as uploaded (CheckFileName)
	Type string `json:"type"` // the media type, sniffed from the content ("image/png")
	Size int64  `json:"size"` // bytes
	// Width and Height are an image's dimensions in pixels, read from its
	// header at upload (0 for other files), so that clients can lay out a
	// preview before it loads.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// FileDraft is the file of a Draft: its Attachment (ID, Name, Type, Size
// and dimensions already set and checked by the Service) and its bytes.
type FileDraft struct {
	Attachment
	Data []byte
}

// StoredFile is what Store.File returns: the Attachment and where its
// message is (the room decides who may read it).
type StoredFile struct {
	Attachment
	Room string
	Seq  int64
	TS   int64 // the message's time, Unix ms
}

// FileStore is the file side of a Store (Store embeds it). Files are
// written by Append (Draft.File) and removed by Delete, with their
// message.
type FileStore interface {
	// File returns the file with id and its message's room and seq, or
	// ErrNotFound when there is none (never stored, or deleted with its
	// message). The id is checked with CheckFileID.
	File(ctx context.Context, id string) (StoredFile, error)
	// FileChunk returns part n (0, 1, 2…) of the file's bytes: the
	// FileChunkBytes bytes from n*FileChunkBytes (fewer for the last
	// part). A part past the end, or a file that does not exist, is
	// ErrNotFound. Readers never hold more than one part in memory.
	FileChunk(ctx context.Context, id string, n int) ([]byte, error)
	// Secret returns the store's signing key for file tokens and upload
	// slots: random bytes created on the first call and the same for
	// every Store over the same data (every node of a cluster), so that
	// what one node signs any node verifies.
	Secret(ctx context.Context) ([]byte, error)
}

// Store limits for files.
const (
	// FileChunkBytes is the size of the parts a Store keeps a file in and
	// FileChunk returns.
	FileChunkBytes = 256 << 10
	// MaxStoredFileBytes bounds FileDraft.Size; FileConfig.MaxBytes may not
	// exceed it.
	MaxStoredFileBytes = 1 << 30
	// MaxFileNameBytes bounds a file name.
	MaxFileNameBytes = 255
	// SecretBytes is the length of Store.Secret.
	SecretBytes = 32
)

// The error codes of files (docs/protocol.md).
const (
	// CodeFileTooLarge: the file is larger than the server accepts.
	CodeFileTooLarge Code = "file_too_large"
	// CodeUnsupportedFile: the file's type is not allowed, or its bytes
	// are not what its name or declared type say (a disguised file).
	CodeUnsupportedFile Code = "unsupported_file"
)

// FileConfig configures files (Config.Files). The zero value of every
// field means its default.
type FileConfig struct {
	// MaxBytes is the largest file accepted. Default 10 MiB; at most
	// MaxStoredFileBytes.
	MaxBytes int64
	// Types are the media types accepted, as sniffed from the content
	// ("image/png"); a type ending in "/*" accepts its whole family
	// ("image/*"). Default DefaultFileTypes. Types rendered by browsers
	// as active content (HTML, SVG, XML, JavaScript) are refused whatever
	// this says: see SniffFile.
	Types []string
	// MemoryBytes bounds the file bytes held in memory by uploads in
	// progress (each holds its whole file until it is stored); uploads
	// beyond it wait. Default 8 × MaxBytes.
	MemoryBytes int64
	// TokenTTL is how long a file token (Session.FileToken) is valid;
	// never past its session's Identity. Default 12h.
	TokenTTL time.Duration
	// SlotTTL is how long an upload slot may be used. Default 15m.
	SlotTTL time.Duration
}

// DefaultFileTypes are the file types accepted by default: images
// browsers preview, PDF and plain text.
var DefaultFileTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}

// Validate reports what New would refuse in c.
func (c FileConfig) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c FileConfig) withDefaults() (FileConfig, error) {
	if c.MaxBytes == 0 {
		c.MaxBytes = 10 << 20
	}
	if c.MaxBytes < 0 || c.MaxBytes > MaxStoredFileBytes {
		return c, Errorf(CodeInvalidArgument, "chat: Files.MaxBytes %d: want 1..%d", c.MaxBytes, MaxStoredFileBytes)
	}
	if c.Types == nil {
		c.Types = DefaultFileTypes
	}
	types := make([]string, 0, len(c.Types))
	for _, t := range c.Types {
		t = strings.ToLower(strings.TrimSpace(t))
		major, minor, ok := strings.Cut(t, "/")
		if !ok || major == "" || minor == "" || strings.ContainsAny(t, " ;,") {
			return c, Errorf(CodeInvalidArgument, "chat: Files.Types: %q is not a media type (like image/png or image/*)", t)
		}
		types = append(types, t)
	}
	c.Types = types
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = 8 * c.MaxBytes
	}
	c.MemoryBytes = max(c.MemoryBytes, c.MaxBytes)
	if c.TokenTTL <= 0 {
		c.TokenTTL = 12 * time.Hour
	}
	if c.SlotTTL <= 0 {
		c.SlotTTL = 15 * time.Minute
	}
	return c, nil
}

// allows reports whether media type t (lower case, no parameters) is in
// the allowlist.
func (c FileConfig) allows(t string) bool {
	for _, a := range c.Types {
		if a == t {
			return true
		}
		if family, ok := strings.CutSuffix(a, "/*"); ok && strings.HasPrefix(t, family+"/") {
			return true
		}
	}
	return false
}

// CheckFileName validates and cleans a file name as uploaded: the part
// after the last slash or backslash (a browser may send a path), without
// surrounding white space; 1..MaxFileNameBytes bytes of valid UTF-8
// without control, bidi or invisible characters, and not "." or "..".
func CheckFileName(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "" || name == "." || name == "..":
		return "", Errorf(CodeInvalidArgument, "the file needs a name")
	case len(name) > MaxFileNameBytes:
		return "", Errorf(CodeInvalidArgument, "the file name is %d bytes, the limit is %d", len(name), MaxFileNameBytes)
	case !utf8.ValidString(name):
		return "", Errorf(CodeInvalidArgument, "the file name is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) || isBidiControl(r) || isInvisible(r) {
			return "", Errorf(CodeInvalidArgument, "the file name contains the character %U, which is not allowed in names", r)
		}
	}
	return name, nil
}

// CheckFileID validates a file id argument: what NewFileID makes.
func CheckFileID(id string) error {
	if len(id) != fileIDLen {
		return Errorf(CodeNotFound, "no such file")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Errorf(CodeNotFound, "no such file")
		}
	}
	return nil
}

const fileIDLen = 22 // 16 random bytes, base64url without padding

// NewFileID returns a new random file id (128 bits, URL-safe).
func NewFileID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckFileDraft validates the file of a Draft the way every Store must.
func CheckFileDraft(f *FileDraft) error {
	if err := CheckFileID(f.ID); err != nil {
		return Errorf(CodeInvalidArgument, "file id %q is not one NewFileID makes", f.ID)
	}
	if name, err := CheckFileName(f.Name); err != nil {
		return err
	} else if name != f.Name {
		return Errorf(CodeInvalidArgument, "file name %q is not clean (want %q)", f.Name, name)
	}
	switch {
	case f.Type == "" || strings.ContainsAny(f.Type, " ;") || !strings.Contains(f.Type, "/"):
		return Errorf(CodeInvalidArgument, "file type %q is not a media type", f.Type)
	case f.Size != int64(len(f.Data)):
		return Errorf(CodeInvalidArgument, "file size %d, but %d bytes of data", f.Size, len(f.Data))
	case f.Size < 1:
		return Errorf(CodeInvalidArgument, "the file is empty")
	case f.Size > MaxStoredFileBytes:
		return Errorf(CodeFileTooLarge, "the file is %d bytes, the limit is %d", f.Size, MaxStoredFileBytes)
	case f.Width < 0 || f.Height < 0:
		return Errorf(CodeInvalidArgument, "negative image dimensions")
	}
	return nil
}

// FileChunks splits data into the parts a Store keeps (FileChunkBytes
// each, the last one shorter). The parts share data's memory.
func FileChunks(data []byte) [][]byte {
	out := make([][]byte, 0, (len(data)+FileChunkBytes-1)/FileChunkBytes)
	for len(data) > FileChunkBytes {
		out = append(out, data[:FileChunkBytes:FileChunkBytes])
		data = data[FileChunkBytes:]
	}
	if len(data) > 0 {
		out = append(out, data)
	}
	return out
}
