// Package tokenex is certbound's OAuth 2.0 authorization server core: the
// client registry, client authentication (RFC 8705 mutual TLS and client
// secrets), the client-credentials grant (RFC 6749 §4.4) issuing
// certificate-bound JWT access tokens (RFC 9068, RFC 8705 §3), the signing
// keys and their JWKS, introspection (RFC 7662) and the authorization-server
// metadata (RFC 8414). It has no HTTP code: the edge decodes requests into
// [TokenRequest], [ClientSpec] and friends, calls one [Service] method and
// renders the result or the [*Error].
//
// # Tokens
//
// An access token is a JWT signed with the current key (ES256 by default,
// RS256 as an option; RFC 9068 §2.1), header {"alg","kid","typ":"at+jwt"},
// with the claims iss, sub (= client_id), client_id, aud (one audience, a
// string), scope ("a b"), iat, nbf, exp, jti (128 random bits) and, whenever
// the client presented a TLS certificate — whatever its authentication method
// — cnf {"x5t#S256": base64url(SHA-256(leaf DER))} (RFC 8705 §3.1). scp (the
// scopes as an array) and stt (always 1) are private claims kept so that
// verifiers written for the seed's flow accept the tokens unchanged.
// client_gen (private, opaque) is the random generation of the client record
// the token was issued to: introspection refuses a token whose client has
// been deleted even when a client of the same id was registered since.
// Verifiers that do not introspect ignore it. Tokens are not JWT-SVIDs. sub is the client id, which only an administrator
// chooses (RFC 9068 §5, RFC 9700 §2.6).
//
// # Client authentication
//
// A client authenticates with its registered method only:
//   - tls_client_auth: PeerVerifier (ca.Authority.VerifyClient) verifies the
//     chain to certbound's root, validity, revocation and client status; the
//     SPIFFE ID must equal the registered tls_client_auth_san_uri exactly.
//   - self_signed_tls_client_auth: the leaf's x5t#S256 must be one the client
//     registered (constant-time comparison) and the certificate within its
//     validity period. The chain is not validated (RFC 8705 §2.2).
//   - client_secret_basic / client_secret_post: the secret's SHA-256 is
//     compared in constant time with the stored one; for unknown clients a
//     dummy comparison runs, so timing does not reveal which ids exist.
//
// Using two methods in one request (Basic and client_secret) is
// invalid_request (RFC 6749 §2.3). Every failed authentication is
// invalid_client with the same description; [Error.Reason] tells the log why.
//
// # Audience
//
// One audience per token (RFC 9068 §3). resource (RFC 8707: an absolute URI
// without fragment) or audience (a registered name) selects it among the
// client's registered audiences; both given and different is invalid_target,
// as is a second, different resource; neither selects the client's first
// audience, and a client without audiences gets invalid_target — never a
// token without aud.
//
// # Keys
//
// Signing keys live in storage (PKCS #8). Their kid is the RFC 7638 JWK
// thumbprint. [Service.RotateKey] stores a new key that signs from now +
// Config.ActivationDelay on (zero: at once) and is published from now on, so
// that with several replicas every one publishes it before any signs with it;
// the old key signs until then and stays in the JWKS until every token it
// signed has expired (MaxTokenTTL plus the 60 s clock skew resource servers
// tolerate). The key set is immutable and swapped atomically; JWKS and
// metadata bytes are computed once per set.
//
// # Guarantees
//
//   - No secret, token or private key appears in an error, a Reason, or a
//     String method: client secrets and access tokens are secret.Secret.
//   - Client secrets are stored only as SHA-256 hashes.
//   - The token path writes nothing to the database.
//   - Every method of Service is safe for concurrent use.
//
// tokenex never imports net/http or echo, and never imports enroll.
package tokenex
