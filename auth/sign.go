package auth

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what Sign puts in a token.
type Claims struct {
	Subject  string
	Nickname string   // "name"; empty: none (the subject is shown)
	Rooms    []string // nil: no claim (every room)
	Post     []string // nil: no claim (the same as Rooms)
	Roles    []string
	Issuer   string
	Audience string
	TTL      time.Duration // default 1h
	KeyID    string        // the "kid" header
	Now      time.Time     // default time.Now()
}

// Sign returns a token for c, signed with alg and key: an HMAC secret
// ([]byte) for HS*, a crypto.Signer or a PEM private key ([]byte) for the
// others. It is for the `banter token` helper and for tests; production
// tokens come from the application's login service.
func Sign(alg string, key any, c Claims) (string, error) {
	m := jwt.GetSigningMethod(alg)
	if m == nil || alg == "none" {
		return "", fmt.Errorf("auth: unknown signing algorithm %q", alg)
	}
	if c.Subject == "" {
		return "", errors.New("auth: a token needs a subject")
	}
	if b, ok := key.([]byte); ok && !strings.HasPrefix(alg, "HS") {
		k, err := parsePrivateKeyPEM(b)
		if err != nil {
			return "", err
		}
		key = k
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	claims := jwt.MapClaims{"sub": c.Subject, "iat": now.Unix(), "exp": now.Add(c.TTL).Unix()}
	if c.Nickname != "" {
		claims["name"] = c.Nickname
	}
	if c.Rooms != nil {
		claims["rooms"] = c.Rooms
	}
	if c.Post != nil {
		claims["post"] = c.Post
	}
	if c.Roles != nil {
		claims["roles"] = c.Roles
	}
	if c.Issuer != "" {
		claims["iss"] = c.Issuer
	}
	if c.Audience != "" {
		claims["aud"] = c.Audience
	}
	t := jwt.NewWithClaims(m, claims)
	if c.KeyID != "" {
		t.Header["kid"] = c.KeyID
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("auth: no PEM private key found")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("auth: PEM %s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("auth: PEM %s: unsupported key type %T", b.Type, k)
		}
		return s, nil
	}
}
