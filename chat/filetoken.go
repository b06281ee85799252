package chat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
)

// File tokens and upload slots are signed, not stored: any node of a
// cluster verifies what another node issued, with the key every node
// reads from the shared Store (Store.Secret). A token is
// base64url(JSON claims) "." base64url(HMAC-SHA256), the MAC taken over a
// purpose label and the claims, so that a token of one purpose is never
// accepted for another.

// fileKey is the Service's signing key, read from the Store once.
type fileKey struct {
	mu  sync.Mutex // leaf
	key []byte
}

// signingKey returns the key, reading the Store's secret the first time.
// It is called with no lock of the Service held.
func (s *Service) signingKey(ctx context.Context) ([]byte, error) {
	s.fkey.mu.Lock()
	key := s.fkey.key
	s.fkey.mu.Unlock()
	if key != nil {
		return key, nil
	}
	secret, err := s.store.Secret(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	if len(secret) < 16 {
		return nil, Errorf(CodeInternal, "the store's secret is too short")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("banter files v1"))
	key = mac.Sum(nil)
	s.fkey.mu.Lock()
	s.fkey.key = key
	s.fkey.mu.Unlock()
	return key, nil
}

// The purposes of signed tokens.
const (
	purposeRead   = "read"
	purposeUpload = "upload"
)

func macOf(key []byte, purpose string, claims []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write(claims)
	return mac.Sum(nil)
}

func sign(key []byte, purpose string, claims any) string {
	b, err := json.Marshal(claims)
	if err != nil {
		panic("chat: token claims: " + err.Error()) // our own structs
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(macOf(key, purpose, b))
}

// verify checks token's MAC for purpose and decodes its claims into v.
// Every failure is the same error: a client learns nothing about keys.
func verify(key []byte, purpose, token string, v any, bad *Error) error {
	body, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 16<<10 {
		return bad
	}
	claims, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, macOf(key, purpose, claims)) {
		return bad
	}
	dec := json.NewDecoder(bytes.NewReader(claims))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return bad
	}
	return nil
}

// readClaims are what a file token says: who may read which rooms, until
// when.
type readClaims struct {
	Key     string   `json:"k"`            // NickKey of the holder: DM rooms
	Rooms   []string `json:"r,omitempty"`  // Identity.Rooms patterns
	AllRoom bool     `json:"ra,omitempty"` // Identity.Rooms was nil: every public room
	Admin   bool     `json:"a,omitempty"`
	Expires int64    `json:"e"` // Unix ms
}

// mayRead is Session.mayReadLocked for the holder of a file token.
func (c readClaims) mayRead(room string) bool {
	if a, b, dm := DMParticipants(room); dm {
		return c.Key == a || c.Key == b
	}
	return c.Admin || c.AllRoom || MatchRooms(c.Rooms, room)
}

// slotClaims are what an upload slot allowed.
type slotClaims struct {
	Room     string `json:"room"`
	From     string `json:"from"` // the sender's nickname as displayed
	Notify   string `json:"dm,omitempty"`
	ClientID string `json:"c"`
	Name     string `json:"n"`
	Type     string `json:"y,omitempty"` // declared media type, "" for none
	Size     int64  `json:"s"`
	Text     string `json:"x,omitempty"`
	ReplyTo  string `json:"re,omitempty"` // a message id, checked when signed
	Expires  int64  `json:"e"`            // Unix ms
}

var (
	errBadFileToken = &Error{Code: CodeForbidden, Message: "the file token is invalid: ask for a new one (fileToken)"}
	errOldFileToken = &Error{Code: CodeForbidden, Message: "the file token has expired: ask for a new one (fileToken)"}
	errBadSlot      = &Error{Code: CodeForbidden, Message: "the upload slot is invalid: ask for a new one (upload)"}
	errOldSlot      = &Error{Code: CodeForbidden, Message: "the upload slot has expired: ask for a new one (upload)"}
)
