package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// jwk is one verification key with what it may verify.
type jwk struct {
	kid    string
	alg    string // the JWK's "alg", or the one its type implies
	stated bool   // alg was the JWK's own
	key    crypto.PublicKey
}

// fits reports whether the key may verify a token of alg.
func (k jwk) fits(alg string) bool {
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return false
		}
	case *ecdsa.PublicKey:
		if alg != ecAlg(key.Curve) {
			return false
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return false
		}
	default:
		return false
	}
	// A JWK that names its algorithm verifies only that one (RFC 7517
	// 4.4); for RSA, the implied RS256 does not exclude RS384/PS256.
	return !k.stated || k.alg == alg
}

func ecAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// impliedAlg is the default algorithm of a key.
func impliedAlg(k crypto.PublicKey) string {
	switch key := k.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		return ecAlg(key.Curve)
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// setAlgs is the default algorithm list of a key set.
func setAlgs(keys []jwk) []string {
	var out []string
	for _, k := range keys {
		if k.alg != "" && !slices.Contains(out, k.alg) {
			out = append(out, k.alg)
		}
	}
	slices.Sort(out)
	return out
}

// parsePublicKeyPEM reads the first public key or certificate of data.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("auth: no PEM public key or certificate found")
		}
		var k any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
				k = cert.PublicKey
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return nil, errors.New("auth: the PEM holds a private key; give the server the public key only")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("auth: PEM %s: %w", b.Type, err)
		}
		if impliedAlg(k) == "" {
			return nil, fmt.Errorf("auth: PEM %s: unsupported key type %T", b.Type, k)
		}
		return k, nil
	}
}

// A JSON Web Key as found in a set (RFC 7517, 7518 section 6, 8037).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// parseJWKS reads a key set. Keys not for signatures, of unknown types or
// with private parts are refused or skipped: a set with no usable key is
// an error.
func parseJWKS(data []byte) ([]jwk, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: JWKS is not valid JSON: %w", err)
	}
	var out []jwk
	for i, r := range set.Keys {
		if r.Use != "" && r.Use != "sig" {
			continue
		}
		if r.D != "" {
			return nil, fmt.Errorf("auth: JWKS key %d (%q) holds a private key", i, r.Kid)
		}
		k, err := r.publicKey()
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS key %d (%q): %w", i, r.Kid, err)
		}
		if k == nil {
			continue // a key type we do not verify with (oct, X25519…)
		}
		j := jwk{kid: r.Kid, alg: r.Alg, stated: r.Alg != "", key: k}
		if !j.stated {
			j.alg = impliedAlg(k)
		} else if !slices.Contains(knownAlgs, j.alg) || slices.Contains(hmacAlgs, j.alg) || !j.fits(j.alg) {
			continue // an algorithm we do not accept for this key
		}
		out = append(out, j)
	}
	if len(out) == 0 {
		return nil, errors.New("auth: JWKS has no usable signature key (RSA, EC P-256/384/521, Ed25519)")
	}
	return out, nil
}

func b64(s, what string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%q is not base64url", what)
	}
	return b, nil
}

func (r rawJWK) publicKey() (crypto.PublicKey, error) {
	switch r.Kty {
	case "RSA":
		n, err := b64(r.N, "n")
		if err != nil {
			return nil, err
		}
		e, err := b64(r.E, "e")
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, errors.New("RSA exponent too large")
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 are required", k.N.BitLen())
		}
		return k, nil
	case "EC":
		var c elliptic.Curve
		switch r.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC curve %q is not supported", r.Crv)
		}
		x, err := b64(r.X, "x")
		if err != nil {
			return nil, err
		}
		y, err := b64(r.Y, "y")
		if err != nil {
			return nil, err
		}
		size := (c.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("EC coordinates have the wrong length")
		}
		// Uncompressed point encoding, checked to be on the curve.
		k, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err)
		}
		return k, nil
	case "OKP":
		if r.Crv != "Ed25519" {
			return nil, nil
		}
		x, err := b64(r.X, "x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key has the wrong length")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, nil
}
