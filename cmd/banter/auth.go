package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/banter-chat/banter/auth"
)

// authFlags are the authentication flags of serve (docs/operations.md,
// Authentication). The secret itself is never a flag: a file, or the
// environment.
type authFlags struct {
	getenv                      func(string) string
	mode, secretFile, publicKey string
	jwks, algs, issuer, aud     string
}

func addAuthFlags(fs *flag.FlagSet) *authFlags {
	f := &authFlags{getenv: func(string) string { return "" }}
	fs.StringVar(&f.mode, "auth-mode", "", "`mode`: anonymous (default: nicknames, tokens optional) or required (every client needs a JWT)")
	fs.StringVar(&f.secretFile, "jwt-secret-file", "", "`file` holding the HMAC secret of HS256/384/512 tokens, at least 32 bytes; or set BANTER_JWT_SECRET to the secret itself (never a flag)")
	fs.StringVar(&f.publicKey, "jwt-public-key", "", "PEM `file` of the RSA, ECDSA or Ed25519 public key (or certificate) verifying tokens")
	fs.StringVar(&f.jwks, "jwt-jwks", "", "JWKS verifying tokens: a `file`, or an https:// URL fetched at startup and refreshed")
	fs.StringVar(&f.algs, "jwt-algs", "", "comma-separated accepted `algorithms`, e.g. RS256,PS256; default: the one the key implies")
	fs.StringVar(&f.issuer, "jwt-issuer", "", "required iss `claim`; empty: not checked")
	fs.StringVar(&f.aud, "jwt-audience", "", "required aud `value`; empty: not checked")
	return f
}

// config reads the key material and returns the auth configuration.
func (f *authFlags) config() (auth.Config, error) {
	mode, err := auth.ParseMode(f.mode)
	if err != nil {
		return auth.Config{}, fmt.Errorf("--auth-mode: %w", err)
	}
	c := auth.Config{Mode: mode, Issuer: f.issuer, Audience: f.aud}
	secret, err := readSecret(f.secretFile, f.getenv)
	if err != nil {
		return c, err
	}
	c.HMACSecret = secret
	if f.publicKey != "" {
		if c.PublicKeyPEM, err = os.ReadFile(f.publicKey); err != nil {
			return c, fmt.Errorf("--jwt-public-key: %w", err)
		}
	}
	switch {
	case strings.HasPrefix(f.jwks, "https://") || strings.HasPrefix(f.jwks, "http://"):
		c.JWKSURL = f.jwks
	case f.jwks != "":
		if c.JWKS, err = os.ReadFile(f.jwks); err != nil {
			return c, fmt.Errorf("--jwt-jwks: %w", err)
		}
	}
	for _, a := range strings.Split(f.algs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Algorithms = append(c.Algorithms, a)
		}
	}
	return c, nil
}

// readSecret reads the HMAC secret from file, else BANTER_JWT_SECRET. A
// trailing newline in the file (echo secret > file) is not part of it.
func readSecret(file string, getenv func(string) string) ([]byte, error) {
	if file == "" {
		if s := getenv("BANTER_JWT_SECRET"); s != "" {
			return []byte(s), nil
		}
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--jwt-secret-file: %w", err)
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("--jwt-secret-file %s is empty", file)
	}
	return b, nil
}

const tokenUsage = `Usage: banter token [flags]

Prints a signed JWT for testing and for the examples of docs/operations.md.
Production tokens come from your application's login service.

Flags:
`

// tokenMain is `banter token`.
func tokenMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("banter token", flag.ContinueOnError)
	secretFile := fs.String("secret-file", getenv("BANTER_JWT_SECRET_FILE"), "file with the HMAC secret (or set BANTER_JWT_SECRET)")
	keyFile := fs.String("private-key", "", "PEM private key for RS*/PS*/ES*/EdDSA instead of a secret")
	alg := fs.String("alg", "", "signing algorithm; default HS256 with a secret, RS256/ES256… from the key")
	sub := fs.String("sub", "", "the user id (required)")
	name := fs.String("name", "", "the nickname; default: the user id")
	rooms := fs.String("rooms", "", "comma-separated room patterns the user may join and read (default: no claim, every room)")
	post := fs.String("post", "-", "comma-separated room patterns the user may post to (default: no claim, as --rooms; empty: read only)")
	admin := fs.Bool("admin", false, "give the admin role (kick)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	kid := fs.String("kid", "", "key id header")
	iss := fs.String("iss", "", "issuer claim")
	aud := fs.String("aud", "", "audience claim")
	usage := func(w io.Writer) { fmt.Fprint(w, tokenUsage); fs.SetOutput(w); fs.PrintDefaults() }
	if err := parseFlags(fs, args, "banter token", usage, stdout); err != nil {
		return commandExit("banter token", err, stderr)
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "banter token: "+format+"\n", args...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q: every value is a flag (banter token --help)", fs.Arg(0))
	case *sub == "":
		return fail("--sub is required: the user id the token is for, e.g. --sub alice")
	}
	c := auth.Claims{Subject: *sub, Nickname: *name, TTL: *ttl, KeyID: *kid, Issuer: *iss, Audience: *aud}
	list := func(s string) []string {
		out := []string{}
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	if *rooms != "" {
		c.Rooms = list(*rooms)
	}
	if *post != "-" {
		c.Post = list(*post)
	}
	if *admin {
		c.Roles = []string{"admin"}
	}
	var key any
	switch {
	case *keyFile != "":
		pemBytes, err := os.ReadFile(*keyFile)
		if err != nil {
			return fail("%v", fileProblem("private-key", *keyFile, err))
		}
		key = pemBytes
		if *alg == "" {
			*alg = "RS256"
		}
	default:
		secret, err := readSecret(*secretFile, getenv)
		if err != nil {
			return fail("%v", err)
		}
		if secret == nil {
			return fail("no signing key: give --secret-file FILE, set BANTER_JWT_SECRET, or give --private-key FILE")
		}
		if *alg == "" {
			*alg = "HS256"
		}
		if !strings.HasPrefix(*alg, "HS") {
			return fail("--alg %s signs with a private key (--private-key FILE), not with a secret", *alg)
		}
		// The server's own check: a token it would never accept is no use.
		if _, err := auth.New(context.Background(), auth.Config{HMACSecret: secret, Algorithms: []string{*alg}}); err != nil {
			return fail("%s (the server refuses such a secret)", strings.TrimPrefix(err.Error(), "auth: "))
		}
		key = secret
	}
	tok, err := auth.Sign(*alg, key, c)
	if err != nil {
		// Every failure here is in the arguments: the algorithm or the key.
		return fail("%s (--alg takes HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA, matching the key)",
			strings.TrimPrefix(err.Error(), "auth: "))
	}
	fmt.Fprintln(stdout, tok)
	return exitOK
}
