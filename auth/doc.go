// Package auth verifies JSON Web Tokens (RFC 7519) and turns their claims
// into a chat.Identity: who the user is, the nickname it shows, the rooms
// it may join and post to, and whether it is an admin. Every gateway hands
// the token it received (Socket.IO handshake auth, MQTT password, REST
// Authorization header, /ws and TCP hello) to chat.Service.Authenticate,
// which calls the Verifier: one set of rules for every way in.
//
// # Entry points
//
//   - New(Config) returns a Verifier (a chat.Authenticator). Key material
//     is an HMAC secret (HS256/384/512), a PEM public key (RS*, PS*, ES*,
//     EdDSA), or a JWKS document given inline or fetched from a URL
//     (cached; refetched when a token names an unknown key id, at most
//     once per Config.JWKSMinRefresh, and when older than
//     Config.JWKSMaxAge). Only the algorithms of Config.Algorithms are
//     accepted (default: the one the key implies), "none" never.
//   - Verifier.Authenticate(ctx, token) returns the Identity or a
//     *chat.Error with code unauthenticated, token_expired or
//     token_invalid and a message safe for the client (it never contains
//     the token); errors.Is tells the precise cause (ErrMalformed,
//     ErrExpired, ErrWrongAlgorithm, ErrBadSignature, ErrWrongIssuer,
//     ErrWrongAudience, ErrUnknownKey, ErrBadClaims).
//   - Sign mints a token (the `banter token` helper and tests).
//
// # Claims
//
// "exp" is required (and becomes Identity.Expires: the session ends with
// its token); "nbf" and "iat" are checked when present; "iss" and
// "aud" when configured; Config.Leeway absorbs clock skew. "sub" is the
// user id (required). The nickname is Config.NicknameClaim ("name"),
// falling back to "sub". "rooms" lists the room patterns the user may
// join and read ("general", "team-*"; absent = every public room), "post"
// those it may post to (absent = the same as "rooms"; [] = read only).
// "roles" containing "admin" makes the user an admin. Lists may also be
// space-separated strings, like OAuth's "scope".
//
// # Concurrency
//
// A Verifier is safe for concurrent use. A JWKS refetch holds no lock
// while it waits on the network; concurrent verifications needing it
// share one fetch.
package auth
