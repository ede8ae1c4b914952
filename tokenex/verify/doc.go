// Package verify is what a resource server imports to accept certbound access
// tokens: it verifies RFC 9068 JWT access tokens and their RFC 8705
// certificate binding, and ships net/http middleware (echo middleware lives in
// verifyecho) that answers with RFC 6750 challenges.
//
// Configure the issuer and this server's audience, build a [Verifier] with
// [New], then either call [Verifier.Verify] with the raw token and the client
// certificate of the TLS connection, or wrap handlers with [RequireScopes]:
//
//	v, err := verify.New(ctx, verify.Config{Issuer: "https://localhost:8443", Audience: "event"})
//	...
//	mux.Handle("POST /events", verify.RequireScopes(v, "event.create")(events))
//
// The listener must request client certificates (tls.RequestClientCert is
// enough: RFC 8705 §6.2 says a resource server need not validate the chain,
// because the token binds the exact certificate).
//
// Guarantees, in the order they are checked (RFC 9068 §4, RFC 8705 §3):
//   - The token is at most [MaxTokenBytes] and a compact JWS with a "typ" of
//     "at+jwt" or "application/at+jwt" (any case) and no "crit" header.
//   - "kid" is required and names a key in the issuer's JWKS. The algorithm is
//     pinned by the key, never chosen by the token: ES256 for EC P-256 keys,
//     RS256 for RSA keys of 2048 to 8192 bits. "none", HMAC and any mismatch
//     are refused before a signature is computed.
//   - The signature verifies (golang-jwt's ES256 and RS256 methods); the
//     claims are decoded only after that. Then "iss" equals Config.Issuer
//     byte for byte, "aud" (a string or an array) contains Config.Audience,
//     "exp" has not passed and "nbf" and "iat" are not in the future, each
//     with Config.Leeway. "iat", "exp", "sub", "client_id" and "jti" are
//     required (RFC 9068 §2.2).
//   - When "cnf" carries "x5t#S256", the client certificate must be present
//     and its thumbprint ([certs.X5tS256]) must equal it, compared in constant
//     time. A token without "cnf" is refused unless Config.AllowUnbound is set;
//     a "cnf" with any other confirmation method is always refused.
//   - The middleware reads the token from the Authorization header only (RFC
//     6750 §2.1) and the certificate from the TLS connection only; a
//     certificate in a request header counts only from a [TrustedProxy] the
//     operator configured (RFC 8705 §6.5, RFC 9700 §4.13).
//   - Every failure of Verify is an [*Error] whose Description is safe to send
//     to the caller and which wraps one sentinel per rule, for errors.Is.
//
// Keys: the JWKS is found through the issuer's RFC 8414 metadata (or given),
// fetched, when Config.HTTPClient is nil, over TLS that trusts Config.Roots
// and accepts only certbound's own server certificate
// (certs.VerifyServerConnection), so a service holding a certificate of the
// same CA cannot serve forged keys; a caller-supplied HTTPClient should add
// that check itself. The JWKS is fetched once by New, refreshed in the
// background every RefreshInterval while the verifier is in use, and
// refetched at once, at most every MinRefreshInterval, when a token names an
// unknown "kid". A key the
// authorization server stops publishing stops verifying after the next
// refresh. If a refresh fails, the keys already known stay in use.
//
// It never decodes a token without verifying it, never fetches keys named by a
// token ("jku", "x5u" and "jwk" headers are ignored), never reads tokens from
// the URL query or form body, and never puts a token in an error or log.
package verify
