package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/banter-chat/banter/chat"
)

// Mode says whether clients must authenticate.
type Mode string

const (
	// ModeAnonymous (the default): clients choose a nickname and need no
	// token; a client that sends one is verified (and refused if the
	// token is bad), and then has the token's identity and rights.
	ModeAnonymous Mode = "anonymous"
	// ModeRequired: every gateway refuses clients without a valid token.
	ModeRequired Mode = "required"
)

// ParseMode parses a Mode name; "" is ModeAnonymous.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", ModeAnonymous:
		return ModeAnonymous, nil
	case ModeRequired:
		return ModeRequired, nil
	}
	return "", fmt.Errorf("auth: mode %q: want anonymous or required", s)
}

// Config configures authentication. The zero value is anonymous mode
// without a verifier (tokens refused). Only cmd/ reads files and the
// environment: key material arrives here as bytes.
type Config struct {
	Mode Mode

	// Key material: exactly one of HMACSecret, PublicKeyPEM, JWKS or
	// JWKSURL enables the Verifier.
	//
	// HMACSecret is the shared secret of HS256/384/512, at least 32
	// bytes.
	HMACSecret []byte
	// PublicKeyPEM is an RSA, ECDSA or Ed25519 public key ("PUBLIC KEY",
	// "RSA PUBLIC KEY") or a certificate, PEM-encoded.
	PublicKeyPEM []byte
	// JWKS is a JSON Web Key Set document (RFC 7517); JWKSURL is where
	// to fetch one (https, or http on loopback for tests).
	JWKS    []byte
	JWKSURL string

	// Algorithms pins the accepted "alg" values. Default: HS256 with an
	// HMAC secret; with public keys, the algorithm each key implies
	// (RS256 for RSA, ES256/384/512 by curve, EdDSA, or the JWK's
	// "alg"). HMAC algorithms are refused with public keys and the other
	// way round (no algorithm confusion); "none" is never accepted.
	Algorithms []string
	// Issuer and Audience, when set, must match the "iss" claim and be
	// one of the "aud" claim's values.
	Issuer   string
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default
	// 30s; negative means none.
	Leeway time.Duration

	// NicknameClaim names the claim holding the nickname. Default
	// "name"; the subject is used when the claim is absent or empty.
	NicknameClaim string
	// RoomsClaim, PostClaim and RolesClaim name the rights claims.
	// Defaults "rooms", "post" and "roles".
	RoomsClaim string
	PostClaim  string
	RolesClaim string
	// AdminRole is the role that makes an admin. Default "admin".
	AdminRole string

	// HTTPClient fetches JWKSURL. Default: a client with FetchTimeout.
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch. Default 5s.
	FetchTimeout time.Duration
	// JWKSMinRefresh is the least time between two fetches caused by
	// unknown key ids (a flood of tokens with made-up kids must not
	// become a flood of fetches). Default 30s.
	JWKSMinRefresh time.Duration
	// JWKSMaxAge refetches the set when a token arrives after it is
	// this old, so removed keys stop being accepted. Default 1h.
	JWKSMaxAge time.Duration

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Enabled reports whether key material is configured (a Verifier can be
// built).
func (c Config) Enabled() bool {
	return len(c.HMACSecret) > 0 || len(c.PublicKeyPEM) > 0 || len(c.JWKS) > 0 || c.JWKSURL != ""
}

func (c Config) withDefaults() (Config, error) {
	var err error
	if c.Mode, err = ParseMode(string(c.Mode)); err != nil {
		return c, err
	}
	n := 0
	for _, set := range []bool{len(c.HMACSecret) > 0, len(c.PublicKeyPEM) > 0, len(c.JWKS) > 0, c.JWKSURL != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0 && c.Mode == ModeRequired:
		return c, errors.New("auth: mode required needs key material (an HMAC secret, a public key or a JWKS)")
	case n > 1:
		return c, errors.New("auth: give one of an HMAC secret, a public key, a JWKS document or a JWKS URL")
	}
	if len(c.HMACSecret) > 0 && len(c.HMACSecret) < 32 {
		return c, fmt.Errorf("auth: the HMAC secret is %d bytes; at least 32 are required", len(c.HMACSecret))
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	c.Leeway = max(c.Leeway, 0)
	if c.NicknameClaim == "" {
		c.NicknameClaim = "name"
	}
	if c.RoomsClaim == "" {
		c.RoomsClaim = "rooms"
	}
	if c.PostClaim == "" {
		c.PostClaim = "post"
	}
	if c.RolesClaim == "" {
		c.RolesClaim = "roles"
	}
	if c.AdminRole == "" {
		c.AdminRole = "admin"
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 5 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.FetchTimeout}
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = 30 * time.Second
	}
	if c.JWKSMaxAge <= 0 {
		c.JWKSMaxAge = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	for i, a := range c.Algorithms {
		c.Algorithms[i] = strings.TrimSpace(a)
		if !slices.Contains(knownAlgs, c.Algorithms[i]) {
			return c, fmt.Errorf("auth: algorithm %q: want one of %s", a, strings.Join(knownAlgs, ", "))
		}
	}
	return c, nil
}

var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	knownAlgs = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// The causes of a refused token, for errors.Is on what Authenticate
// returns (a *chat.Error wrapping one of these).
var (
	ErrMissing        = errors.New("auth: no token")
	ErrMalformed      = errors.New("auth: malformed token")
	ErrExpired        = errors.New("auth: token expired")
	ErrNotYetValid    = errors.New("auth: token not valid yet")
	ErrWrongAlgorithm = errors.New("auth: algorithm not accepted")
	ErrBadSignature   = errors.New("auth: bad signature")
	ErrUnknownKey     = errors.New("auth: unknown key")
	ErrWrongIssuer    = errors.New("auth: wrong issuer")
	ErrWrongAudience  = errors.New("auth: wrong audience")
	ErrBadClaims      = errors.New("auth: bad claims")
)

func fail(code chat.Code, cause error, format string, args ...any) error {
	return &chat.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

func invalid(cause error, format string, args ...any) error {
	return fail(chat.CodeTokenInvalid, cause, format, args...)
}

// MaxTokenBytes bounds a token: larger ones are refused before parsing.
const MaxTokenBytes = 8 << 10

// Verifier checks tokens against one key source. It implements
// chat.Authenticator.
type Verifier struct {
	cfg    Config
	algs   []string
	hmac   []byte
	static []jwk // a PEM key or an inline JWKS
	remote *jwksCache
	parser *jwt.Parser
}

var _ chat.Authenticator = (*Verifier)(nil)

// New returns the Verifier of cfg. With a JWKS URL the set is fetched
// now, so that a wrong URL fails at startup. cfg.Enabled must hold.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("auth: no key material configured")
	}
	v := &Verifier{cfg: cfg}
	var implied []string
	switch {
	case len(cfg.HMACSecret) > 0:
		v.hmac = cfg.HMACSecret
		implied = []string{"HS256"}
	case len(cfg.PublicKeyPEM) > 0:
		k, err := parsePublicKeyPEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		v.static = []jwk{{key: k, alg: impliedAlg(k)}}
		implied = []string{impliedAlg(k)}
	case len(cfg.JWKS) > 0:
		if v.static, err = parseJWKS(cfg.JWKS); err != nil {
			return nil, err
		}
		implied = setAlgs(v.static)
	default:
		v.remote = newJWKSCache(cfg)
		keys, err := v.remote.initial(ctx)
		if err != nil {
			return nil, err
		}
		implied = setAlgs(keys)
	}
	v.algs = slices.Clone(cfg.Algorithms)
	if len(v.algs) == 0 {
		v.algs = implied
	}
	for _, a := range v.algs {
		if slices.Contains(hmacAlgs, a) != (v.hmac != nil) {
			if v.hmac != nil {
				return nil, fmt.Errorf("auth: algorithm %s needs a public key, not an HMAC secret", a)
			}
			return nil, fmt.Errorf("auth: algorithm %s needs an HMAC secret, not a public key", a)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Algorithms returns the accepted algorithms.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Mode returns the configured mode.
func (v *Verifier) Mode() Mode { return v.cfg.Mode }

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Authenticate implements chat.Authenticator.
func (v *Verifier) Authenticate(ctx context.Context, token string) (*chat.Identity, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fail(chat.CodeUnauthenticated, ErrMissing, "authentication required: send a token")
	}
	if len(token) > MaxTokenBytes {
		return nil, invalid(ErrMalformed, "token is longer than %d bytes", MaxTokenBytes)
	}
	// The header is read first so that a wrong algorithm is reported as
	// such (the JWT library reports it as a bad signature).
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid(ErrMalformed, "token is not a JWT (want three dot-separated parts)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	var h header
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return nil, invalid(ErrMalformed, "token header is not base64url-encoded JSON")
	}
	if !slices.Contains(v.algs, h.Alg) {
		return nil, invalid(ErrWrongAlgorithm, "token algorithm %q is not accepted (want %s)", clip(h.Alg), strings.Join(v.algs, ", "))
	}
	key, err := v.key(ctx, h)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	_, err = v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return nil, v.classify(err)
	}
	return v.identity(claims)
}

// key finds the verification key of a token.
func (v *Verifier) key(ctx context.Context, h header) (any, error) {
	if v.hmac != nil {
		return v.hmac, nil
	}
	keys := v.static
	if v.remote != nil {
		var err error
		if keys, err = v.remote.keys(ctx, h.Kid); err != nil {
			return nil, err
		}
	}
	if k, ok := pick(keys, h); ok {
		return k, nil
	}
	if h.Kid == "" {
		return nil, invalid(ErrUnknownKey, "token has no key id (kid) and no single key fits it")
	}
	return nil, invalid(ErrUnknownKey, "token key id %q is unknown", clip(h.Kid))
}

// pick chooses the key: by kid when the token names one, else the only
// key that fits the algorithm.
func pick(keys []jwk, h header) (crypto.PublicKey, bool) {
	var found []jwk
	for _, k := range keys {
		if (h.Kid == "" || k.kid == h.Kid) && k.fits(h.Alg) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil, false
	}
	return found[0].key, true
}

// classify maps the JWT library's errors to ours.
func (v *Verifier) classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid(ErrMalformed, "token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid(ErrBadSignature, "token signature is invalid")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid(ErrBadClaims, "token has no expiry (exp)")
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(chat.CodeTokenExpired, ErrExpired, "token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid(ErrNotYetValid, "token is not valid yet (nbf or iat in the future)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid(ErrWrongIssuer, "token issuer is not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid(ErrWrongAudience, "token audience is not accepted")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The key does not suit the algorithm (an RSA key for an ES256
		// token): the token cannot be ours.
		return invalid(ErrBadSignature, "token signature is invalid")
	}
	return invalid(errors.Join(ErrBadClaims, err), "token claims are invalid")
}

// clip shortens attacker-controlled text quoted in a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
