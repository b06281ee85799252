package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/chat"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func newVerifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return v
}

func sign(t *testing.T, alg string, key any, c auth.Claims) string {
	t.Helper()
	tok, err := auth.Sign(alg, key, c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// signMap signs arbitrary claims (for malformed claim tests).
func signMap(t *testing.T, alg string, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refused checks that err is a *chat.Error with code and cause, and that
// its message does not contain the token.
func refused(t *testing.T, what string, err error, code chat.Code, cause error, token string) {
	t.Helper()
	var ce *chat.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: error %v, want a *chat.Error", what, err)
	}
	if ce.Code != code {
		t.Fatalf("%s: code %s (%v), want %s", what, ce.Code, err, code)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("%s: error %v is not %v", what, err, cause)
	}
	if ce.Message == "" || (token != "" && strings.Contains(ce.Message, token)) {
		t.Fatalf("%s: message %q is empty or echoes the token", what, ce.Message)
	}
}

func TestHMAC(t *testing.T) {
	ctx := context.Background()
	v := newVerifier(t, auth.Config{HMACSecret: secret})
	tok := sign(t, "HS256", secret, auth.Claims{Subject: "u1", Nickname: "Alice", Rooms: []string{"general", "Team-*"}, Roles: []string{"admin"}})
	id, err := v.Authenticate(ctx, tok)
	if err != nil {
		t.Fatalf("valid token: %v", err)
	}
	if id.Subject != "u1" || id.Nickname != "Alice" || !id.Admin || !slices.Equal(id.Rooms, []string{"general", "team-*"}) || id.Post != nil {
		t.Fatalf("identity %+v", id)
	}

	cases := []struct {
		name  string
		tok   string
		code  chat.Code
		cause error
	}{
		{"missing", "", chat.CodeUnauthenticated, auth.ErrMissing},
		{"not a JWT", "hello", chat.CodeTokenInvalid, auth.ErrMalformed},
		{"garbage header", "!!.e30.sig", chat.CodeTokenInvalid, auth.ErrMalformed},
		{"expired", sign(t, "HS256", secret, auth.Claims{Subject: "u1", Now: time.Now().Add(-2 * time.Hour)}), chat.CodeTokenExpired, auth.ErrExpired},
		{"wrong secret", sign(t, "HS256", []byte("another secret of at least 32 bytes!"), auth.Claims{Subject: "u1"}), chat.CodeTokenInvalid, auth.ErrBadSignature},
		{"HS384 not pinned", sign(t, "HS384", secret, auth.Claims{Subject: "u1"}), chat.CodeTokenInvalid, auth.ErrWrongAlgorithm},
		{"alg none", signMap(t, "none", jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()}), chat.CodeTokenInvalid, auth.ErrWrongAlgorithm},
		{"no exp", signMap(t, "HS256", secret, jwt.MapClaims{"sub": "u1"}), chat.CodeTokenInvalid, auth.ErrBadClaims},
		{"no sub", signMap(t, "HS256", secret, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}), chat.CodeTokenInvalid, auth.ErrBadClaims},
		{"nbf in the future", signMap(t, "HS256", secret, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(2 * time.Hour).Unix(), "nbf": time.Now().Add(time.Hour).Unix()}), chat.CodeTokenInvalid, auth.ErrNotYetValid},
		{"rooms not strings", signMap(t, "HS256", secret, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(), "rooms": []any{1}}), chat.CodeTokenInvalid, auth.ErrBadClaims},
		{"bad room pattern", signMap(t, "HS256", secret, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(), "rooms": "a/b"}), chat.CodeTokenInvalid, auth.ErrBadClaims},
		{"bad nickname", signMap(t, "HS256", secret, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(), "name": "a:b"}), chat.CodeTokenInvalid, auth.ErrBadClaims},
		{"tampered payload", tamper(sign(t, "HS256", secret, auth.Claims{Subject: "u1"})), chat.CodeTokenInvalid, auth.ErrBadSignature},
	}
	for _, tc := range cases {
		_, err := v.Authenticate(ctx, tc.tok)
		refused(t, tc.name, err, tc.code, tc.cause, tc.tok)
	}
}

// tamper replaces the payload with one naming another subject.
func tamper(tok string) string {
	p := strings.Split(tok, ".")
	p[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999,"roles":["admin"]}`))
	return strings.Join(p, ".")
}

func TestLeewayIssuerAudience(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	v := newVerifier(t, auth.Config{HMACSecret: secret, Issuer: "https://login.example", Audience: "banter",
		Leeway: 10 * time.Second, Now: func() time.Time { return now }})
	c := auth.Claims{Subject: "u1", Issuer: "https://login.example", Audience: "banter", Now: now.Add(-time.Hour), TTL: time.Hour - 5*time.Second}
	if _, err := v.Authenticate(ctx, sign(t, "HS256", secret, c)); err != nil {
		t.Fatalf("expired 5s ago, leeway 10s: %v", err)
	}
	c.TTL = time.Hour - 20*time.Second
	_, err := v.Authenticate(ctx, sign(t, "HS256", secret, c))
	refused(t, "expired 20s ago", err, chat.CodeTokenExpired, auth.ErrExpired, "")
	c.TTL = time.Hour * 2
	c.Issuer = "https://evil.example"
	_, err = v.Authenticate(ctx, sign(t, "HS256", secret, c))
	refused(t, "wrong issuer", err, chat.CodeTokenInvalid, auth.ErrWrongIssuer, "")
	c.Issuer, c.Audience = "https://login.example", "other"
	_, err = v.Authenticate(ctx, sign(t, "HS256", secret, c))
	refused(t, "wrong audience", err, chat.CodeTokenInvalid, auth.ErrWrongAudience, "")
}

func TestClaims(t *testing.T) {
	ctx := context.Background()
	v := newVerifier(t, auth.Config{HMACSecret: secret, NicknameClaim: "nick"})
	exp := time.Now().Add(time.Hour).Unix()
	id, err := v.Authenticate(ctx, signMap(t, "HS256", secret, jwt.MapClaims{
		"sub": "u-42", "exp": exp, "nick": "  Bob ", "rooms": "general team-*", "post": []any{}, "roles": "user admin"}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Nickname != "Bob" || !id.Admin || !slices.Equal(id.Rooms, []string{"general", "team-*"}) || id.Post == nil || len(id.Post) != 0 {
		t.Fatalf("identity %+v", id)
	}
	id, err = v.Authenticate(ctx, signMap(t, "HS256", secret, jwt.MapClaims{"sub": "carol", "exp": exp, "name": "ignored: other claim"}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Nickname != "carol" || id.Admin || id.Rooms != nil {
		t.Fatalf("identity %+v: want the subject as nickname, no rights claims", id)
	}
	// The rights these claims give.
	u := &chat.Identity{Subject: "x", Rooms: []string{"general", "team-*"}, Post: []string{"team-a"}}
	for room, want := range map[string][2]bool{
		"general": {true, false}, "team-a": {true, true}, "team-b": {true, false}, "random": {false, false},
	} {
		if got := [2]bool{u.MayRead(room), u.MayPost(room)}; got != want {
			t.Errorf("%s: read/post %v, want %v", room, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	rsaKey := mustRSA(t)
	for name, cfg := range map[string]auth.Config{
		"required without keys": {Mode: auth.ModeRequired},
		"short secret":          {HMACSecret: []byte("short")},
		"two sources":           {HMACSecret: secret, PublicKeyPEM: publicPEM(t, &rsaKey.PublicKey)},
		"HS with a public key":  {PublicKeyPEM: publicPEM(t, &rsaKey.PublicKey), Algorithms: []string{"HS256"}},
		"RS with a secret":      {HMACSecret: secret, Algorithms: []string{"RS256"}},
		"unknown alg":           {HMACSecret: secret, Algorithms: []string{"none"}},
		"bad mode":              {Mode: "open", HMACSecret: secret},
		"private key PEM":       {PublicKeyPEM: privatePEM(t, rsaKey)},
		"no PEM":                {PublicKeyPEM: []byte("not pem")},
		"bad JWKS":              {JWKS: []byte(`{"keys":[]}`)},
		"unreachable JWKS URL":  {JWKSURL: "http://127.0.0.1:1/jwks.json", FetchTimeout: time.Second},
	} {
		if _, err := auth.New(ctx, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicPEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func privatePEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestPublicKeys(t *testing.T) {
	ctx := context.Background()
	rsaKey := mustRSA(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg  string
		pub  any
		priv any
	}{{"RS256", &rsaKey.PublicKey, rsaKey}, {"ES384", &ecKey.PublicKey, ecKey}, {"EdDSA", edPub, edKey}} {
		v := newVerifier(t, auth.Config{PublicKeyPEM: publicPEM(t, tc.pub)})
		if got := v.Algorithms(); !slices.Equal(got, []string{tc.alg}) {
			t.Fatalf("%s: default algorithms %v", tc.alg, got)
		}
		// Private keys as PEM bytes, as the token helper passes them.
		tok := sign(t, tc.alg, privatePEM(t, tc.priv), auth.Claims{Subject: "u1"})
		if _, err := v.Authenticate(ctx, tok); err != nil {
			t.Fatalf("%s: %v", tc.alg, err)
		}
	}
	// Algorithm confusion: a token signed HS256 with the RSA public key
	// as the secret must not pass a verifier pinned to RS256.
	v := newVerifier(t, auth.Config{PublicKeyPEM: publicPEM(t, &rsaKey.PublicKey)})
	forged := signMap(t, "HS256", publicPEM(t, &rsaKey.PublicKey), jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	_, err := v.Authenticate(ctx, forged)
	refused(t, "HS256 with the public key", err, chat.CodeTokenInvalid, auth.ErrWrongAlgorithm, forged)
	// RS384 is not pinned by default.
	_, err = v.Authenticate(ctx, sign(t, "RS384", rsaKey, auth.Claims{Subject: "u1"}))
	refused(t, "RS384", err, chat.CodeTokenInvalid, auth.ErrWrongAlgorithm, "")
	// Pinned explicitly, PS256 works with the same key.
	v = newVerifier(t, auth.Config{PublicKeyPEM: publicPEM(t, &rsaKey.PublicKey), Algorithms: []string{"RS256", "PS256"}})
	if _, err := v.Authenticate(ctx, sign(t, "PS256", rsaKey, auth.Claims{Subject: "u1"})); err != nil {
		t.Fatalf("PS256: %v", err)
	}
	other := mustRSA(t)
	_, err = v.Authenticate(ctx, sign(t, "RS256", other, auth.Claims{Subject: "u1"}))
	refused(t, "another RSA key", err, chat.CodeTokenInvalid, auth.ErrBadSignature, "")
}

// jwkOf returns the JWK of an RSA or EC public key.
func jwkOf(kid string, pub any) map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := k.Bytes()
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "alg": "ES256", "x": enc(b[1 : 1+size]), "y": enc(b[1+size:])}
	}
	panic("key type")
}

func TestJWKSURL(t *testing.T) {
	ctx := context.Background()
	k1, k2 := mustRSA(t), mustRSA(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	keys := []map[string]string{jwkOf("k1", &k1.PublicKey), jwkOf("ec", &ec.PublicKey)}
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL, JWKSMinRefresh: time.Minute, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if got := v.Algorithms(); !slices.Equal(got, []string{"ES256", "RS256"}) {
		t.Fatalf("algorithms %v", got)
	}
	claims := auth.Claims{Subject: "u1", Now: now, KeyID: "k1"}
	if _, err := v.Authenticate(ctx, sign(t, "RS256", k1, claims)); err != nil {
		t.Fatalf("k1: %v", err)
	}
	claims.KeyID = "ec"
	if _, err := v.Authenticate(ctx, sign(t, "ES256", ec, claims)); err != nil {
		t.Fatalf("ec: %v", err)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (cached)", n)
	}
	// Key rotation: k2 appears; a token naming it triggers one refetch.
	mu.Lock()
	keys = append(keys, jwkOf("k2", &k2.PublicKey))
	mu.Unlock()
	clock.Add(int64(2 * time.Minute))
	claims.KeyID, claims.Now = "k2", time.Unix(0, clock.Load())
	if _, err := v.Authenticate(ctx, sign(t, "RS256", k2, claims)); err != nil {
		t.Fatalf("k2 after rotation: %v", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Unknown kids: refused, and refetched at most once per minute.
	for i := range 5 {
		claims.KeyID = "made-up"
		_, err := v.Authenticate(ctx, sign(t, "RS256", k2, claims))
		refused(t, "unknown kid", err, chat.CodeTokenInvalid, auth.ErrUnknownKey, "")
		_ = i
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after unknown kids within a minute, want 2", n)
	}
	// A token signed by k1 but naming k2 fails the signature.
	claims.KeyID = "k2"
	_, err := v.Authenticate(ctx, sign(t, "RS256", k1, claims))
	refused(t, "kid of another key", err, chat.CodeTokenInvalid, auth.ErrBadSignature, "")
	// The ES256 key does not verify RS256 tokens.
	claims.KeyID = "ec"
	_, err = v.Authenticate(ctx, sign(t, "RS256", k1, claims))
	refused(t, "RS256 token naming the EC key", err, chat.CodeTokenInvalid, auth.ErrUnknownKey, "")

	// The server goes away: a known key still verifies; an unknown kid
	// after the refresh interval is "unavailable", not the client's fault.
	srv.Close()
	clock.Add(int64(2 * time.Minute))
	claims.Now = time.Unix(0, clock.Load())
	claims.KeyID = "k1"
	if _, err := v.Authenticate(ctx, sign(t, "RS256", k1, claims)); err != nil {
		t.Fatalf("k1 with the JWKS server down: %v", err)
	}
	claims.KeyID = "k3"
	_, err = v.Authenticate(ctx, sign(t, "RS256", k1, claims))
	refused(t, "unknown kid, server down", err, chat.CodeUnavailable, nil, "")
}

func TestInlineJWKS(t *testing.T) {
	k := mustRSA(t)
	set, _ := json.Marshal(map[string]any{"keys": []any{jwkOf("only", &k.PublicKey), map[string]string{"kty": "oct", "k": "c2VjcmV0"}}})
	v := newVerifier(t, auth.Config{JWKS: set})
	// No kid: the only RSA key is used.
	if _, err := v.Authenticate(context.Background(), sign(t, "RS256", k, auth.Claims{Subject: "u1"})); err != nil {
		t.Fatal(err)
	}
}
