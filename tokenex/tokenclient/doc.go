// Package tokenclient fetches OAuth 2.0 access tokens from certbound's token
// endpoint with the client credentials grant (RFC 6749 §4.4) over mutual TLS
// (RFC 8705), and caches them.
//
// A [Source] is an oauth2.TokenSource. It
//   - authenticates with the TLS client certificate of Config.HTTPClient
//     (tls_client_auth, RFC 8705 §2): client_id goes in the form body and no
//     Authorization header is sent; or, for clients registered with a secret,
//     with HTTP Basic (client_secret_basic, RFC 6749 §2.3.1) or form fields
//     (client_secret_post);
//   - asks for scope, and for one audience (certbound's "audience") or
//     resource (RFC 8707);
//   - caches the token and fetches a new one shortly before it expires, one
//     request at a time however many goroutines ask;
//   - drops the cached token as soon as the client certificate changes: the
//     token is bound to the certificate's thumbprint (RFC 8705 §3, §6.3), so
//     it is useless with the renewed one.
//
// Token requests go only to certbound's own server: the Source adds
// certs.VerifyServerConnection to its copy of Config.HTTPClient, so a service
// holding a certificate from the same CA, whatever its names, fails the
// handshake before the request, client_id or secret is written (an error
// wrapping certs.ErrNotCertboundServer). Source.Client(nil) calls resource
// servers with HTTPClient as given.
//
// Errors from the endpoint (RFC 6749 §5.2) are returned as *[Error] and
// match the sentinels ErrInvalidClient, ErrInvalidScope, … with errors.Is.
//
// Why not golang.org/x/oauth2/clientcredentials: it reads the HTTP client
// from a context value, computes expiry from a package clock, and in its
// default mode first sends an empty Basic header, which certbound treats as a
// failed client_secret_basic attempt. The request is a dozen lines; writing it
// here keeps the wire format exact and testable. The result is still an
// *oauth2.Token, so oauth2.Transport and everything else built on
// oauth2.TokenSource work with a Source.
//
// The package never logs, never puts a token or secret in an error, keeps no
// package-level state and imports no certbound package but certs.
package tokenclient
