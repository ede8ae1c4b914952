package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex"
)

// tokenResponse is RFC 6749 §5.1. No refresh token: RFC 6749 §4.4.3.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// token is POST /oauth2/token (RFC 6749 §4.4, RFC 8705).
func (a *API) token(c echo.Context) error {
	form, err := bindOAuthForm(c)
	if err != nil {
		return err
	}
	auth, err := clientAuth(c, form)
	if err != nil {
		return err
	}
	req := tokenex.TokenRequest{
		ClientAuth: auth,
		GrantType:  form.Get("grant_type"),
		Scope:      form.Get("scope"),
		Audience:   form.Get("audience"),
		Resource:   nonEmpty(form["resource"]),
	}
	return a.issueToken(c, req, func(t *tokenex.Token) any {
		return tokenResponse{AccessToken: t.AccessToken.Reveal(), TokenType: t.TokenType, ExpiresIn: t.ExpiresIn, Scope: t.Scope}
	})
}

// issueToken runs the grant and renders the body render builds, with the
// RFC 6749 §5.1 no-store headers. Shared by /oauth2/token and the seed route.
func (a *API) issueToken(c echo.Context, req tokenex.TokenRequest, render func(*tokenex.Token) any) error {
	c.Set(ctxClientID, req.ClientID)
	tok, err := a.tokens.IssueToken(c.Request().Context(), req)
	if err != nil {
		return err
	}
	c.Set(ctxClientID, tok.ClientID)
	noStore(c)
	return c.JSON(http.StatusOK, render(tok))
}

// introspect is POST /oauth2/introspect (RFC 7662). The caller is an admin
// (Bearer admin key) or an authenticated client (RFC 7662 §2.1).
func (a *API) introspect(c echo.Context) error {
	form, err := bindOAuthForm(c)
	if err != nil {
		return err
	}
	if key, ok := adminKey(c.Request()); ok && !isBasic(c.Request()) {
		name, valid := a.admin.AdminKey(key)
		if !valid {
			return &apiError{Status: 401, Code: tokenex.CodeInvalidClient, Description: "caller authentication failed",
				Challenge: challengeAdmin, Reason: "bad_admin_key"}
		}
		c.Set(ctxClientID, "admin")
		c.Set(ctxAdminKey, name)
	} else {
		auth, err := clientAuth(c, form)
		if err != nil {
			return err
		}
		caller, err := a.tokens.AuthenticateClient(c.Request().Context(), auth)
		if err != nil {
			return err
		}
		c.Set(ctxClientID, caller.ClientID)
	}
	tok := form.Get("token")
	if tok == "" {
		return &apiError{Status: 400, Code: tokenex.CodeInvalidRequest, Description: "token is required"}
	}
	res, err := a.tokens.Introspect(c.Request().Context(), secret.FromString(tok))
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, res)
}

// oauthMethodNotAllowed answers anything but POST on the OAuth endpoints
// with RFC 6749's invalid_request (§3.2: "MUST use the HTTP POST method").
func oauthMethodNotAllowed(c echo.Context) error {
	c.Response().Header().Set("Allow", http.MethodPost)
	return &apiError{Status: 405, Code: tokenex.CodeInvalidRequest, Description: "use POST with an application/x-www-form-urlencoded body"}
}

// bindOAuthForm reads an RFC 6749 form body strictly: the form content type
// only, nothing in the query string (§2.3.1: credentials MUST NOT be in the
// request URI), valid UTF-8, and no parameter twice (§3.2) except resource
// (RFC 8707 §2). Empty values count as absent (§3.2).
func bindOAuthForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationForm {
		return nil, oauthBadRequest("the body must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, oauthBadRequest("parameters must be sent in the request body, not the URL")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		var he *echo.HTTPError
		if errors.As(err, &tooLarge) || errors.As(err, &he) {
			return nil, echo.ErrStatusRequestEntityTooLarge
		}
		return nil, oauthBadRequest("could not read the request body")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauthBadRequest("the body is not valid form encoding")
	}
	for k, vs := range form {
		if len(vs) > 1 && k != "resource" {
			return nil, oauthBadRequest("a parameter was sent more than once")
		}
		for _, v := range vs {
			if !validUTF8Text(k) || !validUTF8Text(v) {
				return nil, oauthBadRequest("parameters must be valid UTF-8 without control characters")
			}
		}
	}
	return form, nil
}

func oauthBadRequest(desc string) *apiError {
	return &apiError{Status: 400, Code: tokenex.CodeInvalidRequest, Description: desc}
}

// clientAuth collects what the request offers to authenticate its client:
// client_id and client_secret parameters, an Authorization: Basic header and
// the (unverified) TLS chain. tokenex decides which method applies.
func clientAuth(c echo.Context, form url.Values) (tokenex.ClientAuth, error) {
	auth := tokenex.ClientAuth{ClientID: form.Get("client_id"), PeerChain: unverifiedPeerChain(c)}
	if s := form.Get("client_secret"); s != "" {
		auth.ClientSecret = secret.FromString(s)
	}
	basic, err := basicCredentials(c.Request())
	auth.Basic = basic
	return auth, err
}

// basicCredentials is the one place certbound reads client credentials
// from an "Authorization: Basic" header (client_secret_basic). It returns
// nil, nil when the request carries no Basic authorization.
func basicCredentials(r *http.Request) (*tokenex.BasicAuth, error) {
	if !isBasic(r) {
		return nil, nil
	}
	return parseBasic(r.Header.Values("Authorization"))
}

// parseBasic decodes the Authorization header values of a Basic request:
// exactly one value, "Basic" (any case), one space, base64 (RFC 7617 §2) of
// "<id>:<secret>" split at the first colon, and both halves
// form-url-decoded, as RFC 6749 §2.3.1 requires ("%3A" is a colon inside
// the id, "+" a space). A header that is not that is invalid_client (401);
// bad percent-encoding is invalid_request.
func parseBasic(values []string) (*tokenex.BasicAuth, error) {
	malformed := &apiError{Status: 401, Code: tokenex.CodeInvalidClient, Description: "malformed Basic credentials",
		Challenge: challengeClient, Reason: "malformed_basic"}
	if len(values) != 1 {
		return nil, malformed
	}
	scheme, payload, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, malformed
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, malformed
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, malformed
	}
	return tokenex.DecodeBasicAuth(user, pass)
}

// isBasic reports whether the request offers Basic authorization.
func isBasic(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if scheme, _, _ := strings.Cut(v, " "); strings.EqualFold(scheme, "Basic") {
			return true
		}
	}
	return false
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// validUTF8Text refuses invalid UTF-8 and control characters.
func validUTF8Text(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// jwks is GET /.well-known/jwks.json and its seed alias /auth/jwt/jwks.json.
func (a *API) jwks(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/jwk-set+json", a.tokens.JWKS())
}

// metadata is GET /.well-known/oauth-authorization-server (RFC 8414).
func (a *API) metadata(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, a.tokens.Metadata())
}

// rotateKeys is POST /v1/keys/rotate: a new signing key, published at once
// and signing from active_at on (later than now with replicas, so that every
// replica publishes it first); the old one signs until then and stays
// published until every token it signed has expired.
func (a *API) rotateKeys(c echo.Context) error {
	rot, err := a.tokens.RotateKey(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rotateKeysResponse{KID: rot.KID, ActiveAt: rot.ActiveAt.UTC().Truncate(time.Second)})
}

// rotateKeysResponse is POST /v1/keys/rotate's body.
type rotateKeysResponse struct {
	KID      string    `json:"kid"`
	ActiveAt time.Time `json:"active_at"` // when it starts signing (RFC 3339)
}
