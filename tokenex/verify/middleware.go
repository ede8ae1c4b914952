package verify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// RequireScopes returns net/http middleware that lets a request through only
// with a valid access token, bound to the client certificate of its
// connection, that grants every one of scopes. The verified claims are in the
// request's context (ClaimsFromContext). Refusals are answered by
// Verifier.WriteError:
//   - no bearer token: 401 with a bare `Bearer realm="..."` challenge;
//   - a malformed request: 400 invalid_request;
//   - an invalid, expired, unbound or mismatched token: 401 invalid_token;
//   - a missing scope: 403 insufficient_scope with the needed scope.
func RequireScopes(v *Verifier, scopes ...string) func(http.Handler) http.Handler {
	scopes = slices.Clone(scopes)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := v.Authorize(r, scopes...)
			if err != nil {
				v.WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
		})
	}
}

// Authorize is the middleware without the HTTP response: it takes the token
// from the Authorization header (RFC 6750 §2.1 only; the scheme is
// case-insensitive) and the client certificate from r.TLS (or from the
// configured TrustedProxy's header, on connections from the proxy), verifies
// them with Verify and checks that the token grants every one of scopes.
// Every error is an *Error; pass it to WriteError. Adapters for other
// frameworks (verifyecho) are built on Authorize and WriteError.
func (v *Verifier) Authorize(r *http.Request, scopes ...string) (*Claims, error) {
	token, e := bearerToken(r)
	if e != nil {
		return nil, e
	}
	peer, e := v.peerCertificate(r)
	if e != nil {
		return nil, e
	}
	c, err := v.Verify(r.Context(), token, peer)
	if err != nil {
		return nil, err
	}
	for _, s := range scopes {
		if !c.HasScope(s) {
			return nil, &Error{
				Code:        CodeInsufficientScope,
				Description: ErrInsufficientScope.Error(),
				Scope:       strings.Join(scopes, " "),
				rule:        ErrInsufficientScope,
			}
		}
	}
	return c, nil
}

// WriteError answers a refused request: the status of err's code, a
// WWW-Authenticate Bearer challenge (RFC 6750 §3) and the JSON body
// {"error", "error_description"} (SPEC §5). For CodeUnauthorized the challenge
// is bare, only the realm (RFC 6750 §3.1). An error that is not an *Error gets
// 500 server_error with no detail.
func (v *Verifier) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		writeJSON(w, http.StatusInternalServerError, "server_error", "the request could not be authorized")
		return
	}
	w.Header().Set("WWW-Authenticate", v.challenge(e))
	writeJSON(w, e.status(), e.Code, e.Description)
}

// challenge formats the Bearer challenge for e (RFC 6750 §3). Attribute
// values that cannot be sent as a plain quoted-string are left out.
func (v *Verifier) challenge(e *Error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(v.realm)
	b.WriteByte('"')
	if e.Code == CodeUnauthorized || !quotable(e.Code) || e.Code == "" {
		return b.String()
	}
	attr := func(name, value string) {
		if value != "" && quotable(value) {
			b.WriteString(", ")
			b.WriteString(name)
			b.WriteString(`="`)
			b.WriteString(value)
			b.WriteByte('"')
		}
	}
	attr("error", e.Code)
	attr("error_description", e.Description)
	if e.Code == CodeInsufficientScope {
		attr("scope", e.Scope)
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, code, description string) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// bearerToken returns the token of the request's "Authorization: Bearer"
// header. Another scheme counts as no token (RFC 6750 §3.1); two
// Authorization headers, an empty token or a token in the URL query (RFC 6750
// §2.3, which is not supported because URLs end up in logs) are malformed
// requests.
func bearerToken(r *http.Request) (string, *Error) {
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", invalidRequest("access tokens are not accepted in the URL, send an Authorization header")
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", noToken()
	case 1:
	default:
		return "", invalidRequest("the request has more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", noToken()
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", invalidRequest("the Bearer credentials are empty")
	}
	return token, nil
}

func noToken() *Error {
	return &Error{Code: CodeUnauthorized, Description: ErrNoToken.Error(), rule: ErrNoToken}
}

// peerCertificate returns the client certificate of r: from the trusted
// proxy's header when r comes from the proxy, else the leaf the client sent in
// the TLS handshake, else nil.
func (v *Verifier) peerCertificate(r *http.Request) (*x509.Certificate, *Error) {
	if p := v.proxy; p != nil && p.trusts(r.RemoteAddr) {
		return p.certificate(r.Header)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], nil
	}
	return nil, nil
}

type claimsKey struct{}

// ContextWithClaims returns a copy of ctx carrying c. The middleware calls it
// after a successful check; handlers read the claims with ClaimsFromContext.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims the middleware verified for this
// request, and false if there are none.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
