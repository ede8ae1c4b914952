package tokenclient

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
)

// Config configures a Source. TokenURL and ClientID are required.
type Config struct {
	// TokenURL is the token endpoint, e.g. "https://certbound.internal:8443/oauth2/token".
	// It must be https.
	TokenURL string
	// ClientID is sent as client_id on every request (RFC 8705 §2 requires
	// it with mutual-TLS client authentication).
	ClientID string
	// Scopes are requested as the space-separated scope parameter. Nil
	// asks for the server's default: every scope the client is allowed.
	Scopes []string
	// Audience is the certbound audience name to request ("audience"
	// parameter). Empty means the client's default audience.
	Audience string
	// Resource is an RFC 8707 resource indicator (an absolute URI, no
	// fragment) to request instead of Audience. Set at most one of the two.
	Resource string
	// HTTPClient sends the token requests. For tls_client_auth and bound
	// tokens it must present the client certificate (enrollclient's
	// Renewer.HTTPClient does). Nil means a client with a 30s timeout and no
	// certificate: only clients with a ClientSecret can use it, and their
	// tokens are unbound. Redirects are never followed.
	//
	// The Source sends its token requests through a copy of HTTPClient that
	// accepts only certbound's own server certificate
	// (certs.VerifyServerConnection), so that a service's certificate from
	// the same CA never receives a token request or a secret; HTTPClient
	// itself is not changed. New adds that check to a nil Transport, an
	// *http.Transport (cloned), or a transport with a WithVerifyConnection
	// method (ServerCheckable: enrollclient's clients have it), and refuses
	// any other transport.
	HTTPClient *http.Client
	// Certificate, if not nil, returns the client certificate HTTPClient
	// presents now (enrollclient's Renewer.Leaf). When its RFC 8705
	// thumbprint differs from the one the cached token was fetched with, the
	// token is dropped and a new one fetched (RFC 8705 §6.3). Nil means the
	// certificate never changes for the life of the Source.
	Certificate func() *x509.Certificate
	// EarlyExpiry is how long before expiry a token is refreshed. Zero
	// means 10 % of the token's lifetime or 60s, whichever is smaller. A
	// still-valid token is returned if a refresh in this window fails.
	EarlyExpiry time.Duration
	// ClientSecret authenticates clients registered with
	// client_secret_basic or client_secret_post. Zero for mutual-TLS clients,
	// which then send no Authorization header at all.
	ClientSecret secret.Secret
	// AuthStyle chooses how ClientSecret is sent: oauth2.AuthStyleInParams
	// for client_secret_post; any other value (the zero value included)
	// means HTTP Basic, client_secret_basic (RFC 6749 §2.3.1), with no
	// probing. Ignored without a ClientSecret.
	AuthStyle oauth2.AuthStyle
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Source is an oauth2.TokenSource for certbound's token endpoint. It is safe
// for concurrent use.
type Source struct {
	cfg    Config       // checked, defaults filled in; immutable after New
	client *http.Client // cfg.HTTPClient without redirects, requiring certbound's server certificate
	base   *http.Client // cfg.HTTPClient as given (a default one if nil), for Client(nil)
	form   url.Values   // request parameters except credentials; immutable

	fetching chan struct{} // holds one token while a request is in flight

	mu      sync.Mutex // guards the fields below
	cached  *entry     // nil before the first token or after Invalidate
	waitErr *Error     // last refusal with Retry-After, returned until waitEnd
	waitEnd time.Time
}

// entry is a cached token and what decides its reuse.
type entry struct {
	token     *oauth2.Token // Expiry is the real expiry
	refreshAt time.Time     // Expiry - early expiry
	x5t       string        // thumbprint of the certificate when it was fetched; "" if none known
}

// defaultTimeout is the timeout of the HTTP client used when Config has none.
const defaultTimeout = 30 * time.Second

// maxTokenResponse bounds a token response; a JWT access token is a few KiB.
const maxTokenResponse = 64 << 10

// New checks cfg and returns a Source. It makes no request.
func New(cfg Config) (*Source, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" {
		return nil, errors.New("tokenclient: Config.TokenURL must be an absolute https URL")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("tokenclient: Config.ClientID is empty")
	}
	if cfg.Audience != "" && cfg.Resource != "" {
		return nil, errors.New("tokenclient: set Config.Audience or Config.Resource, not both")
	}
	if cfg.Resource != "" {
		r, err := url.Parse(cfg.Resource)
		if err != nil || !r.IsAbs() || r.Fragment != "" {
			return nil, errors.New("tokenclient: Config.Resource must be an absolute URI without a fragment (RFC 8707 §2)")
		}
	}
	for _, s := range cfg.Scopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("tokenclient: scope %q is not an RFC 6749 §3.3 scope token", s)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := &http.Client{Timeout: defaultTimeout}
	if cfg.HTTPClient != nil {
		base = cfg.HTTPClient
	}
	client := *base
	rt, err := requireCertboundServer(base.Transport)
	if err != nil {
		return nil, err
	}
	client.Transport = rt
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	form := url.Values{"grant_type": {"client_credentials"}}
	if len(cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(cfg.Scopes, " "))
	}
	if cfg.Audience != "" {
		form.Set("audience", cfg.Audience)
	}
	if cfg.Resource != "" {
		form.Set("resource", cfg.Resource)
	}
	return &Source{cfg: cfg, client: &client, base: base, form: form, fetching: make(chan struct{}, 1)}, nil
}

// ServerCheckable is a transport that can return a copy of itself whose TLS
// handshakes also run check, after the verification they already do.
// enrollclient's HTTP clients implement it; implement it on a custom
// transport to use that transport with a Source.
type ServerCheckable interface {
	WithVerifyConnection(check func(tls.ConnectionState) error) http.RoundTripper
}

// ErrUncheckableTransport: Config.HTTPClient's transport is neither an
// *http.Transport nor a ServerCheckable, so the Source cannot make sure it
// talks to certbound's own server.
var ErrUncheckableTransport = errors.New("tokenclient: cannot require certbound's server certificate on this transport; use an *http.Transport, enrollclient's HTTPClient, or a transport implementing ServerCheckable")

// requireCertboundServer returns rt changed so that every TLS handshake also
// runs certs.VerifyServerConnection: the handshake, and with it the request,
// fails unless the server holds certbound's own server certificate.
func requireCertboundServer(rt http.RoundTripper) (http.RoundTripper, error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	switch t := rt.(type) {
	case *http.Transport:
		return requireOnTransport(t), nil
	case ServerCheckable:
		return t.WithVerifyConnection(certs.VerifyServerConnection), nil
	}
	return nil, fmt.Errorf("%w (got %T)", ErrUncheckableTransport, rt)
}

func requireOnTransport(t *http.Transport) *http.Transport {
	c := t.Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSClientConfig != nil {
		tc = c.TLSClientConfig.Clone()
	}
	prev := tc.VerifyConnection
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if prev != nil {
			if err := prev(cs); err != nil {
				return err
			}
		}
		return certs.VerifyServerConnection(cs)
	}
	c.TLSClientConfig = tc
	return c
}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Token returns a valid token, fetching one if the cache holds none. It
// implements oauth2.TokenSource; the request is bounded by HTTPClient's
// timeout only. Prefer TokenContext where a context is at hand.
func (s *Source) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// TokenContext returns the cached token if it is fresh and was fetched with
// the current certificate; otherwise it fetches a new one, or waits for the
// fetch another goroutine has started. ctx bounds the wait and the request.
// The returned token is the caller's to keep; changing it does not change
// the cache.
func (s *Source) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if t, err := s.fromCache(); t != nil || err != nil {
		return t, err
	}
	select {
	case s.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.fetching }()
	if t, err := s.fromCache(); t != nil || err != nil { // fetched while we waited
		return t, err
	}
	e, err := s.fetch(ctx)
	if err != nil {
		return s.afterFailure(err)
	}
	s.mu.Lock()
	s.cached, s.waitErr = e, nil
	s.mu.Unlock()
	return copyToken(e.token), nil
}

// Invalidate drops the cached token, so the next call fetches a new one.
// Call it when a resource server refuses the token as invalid_token.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.cached = nil
	s.mu.Unlock()
}

// fromCache returns a reusable cached token, or the last refusal while
// the server's Retry-After forbids asking again and no token is left, or
// (nil, nil) when a request is needed.
func (s *Source) fromCache() (*oauth2.Token, error) {
	now := s.cfg.Now()
	x5t := s.thumbprint()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.cached
	usable := e != nil && now.Before(e.token.Expiry) && sameThumbprint(e.x5t, x5t)
	if usable && now.Before(e.refreshAt) {
		return copyToken(e.token), nil
	}
	if s.waitErr != nil && now.Before(s.waitEnd) {
		if usable {
			return copyToken(e.token), nil
		}
		return nil, s.waitErr
	}
	return nil, nil
}

// afterFailure decides what a failed refresh returns: the cached token while
// it is still valid for the current certificate, else the error.
func (s *Source) afterFailure(err error) (*oauth2.Token, error) {
	now := s.cfg.Now()
	x5t := s.thumbprint()
	s.mu.Lock()
	defer s.mu.Unlock()
	if te := (*Error)(nil); errors.As(err, &te) && te.RetryAfter > 0 {
		s.waitErr, s.waitEnd = te, now.Add(te.RetryAfter)
	}
	if e := s.cached; e != nil && now.Before(e.token.Expiry) && sameThumbprint(e.x5t, x5t) {
		return copyToken(e.token), nil
	}
	return nil, err
}

// fetch requests a token. If the certificate changed while the request was
// in flight, the token may be bound to the old one, so it asks once more.
func (s *Source) fetch(ctx context.Context) (*entry, error) {
	for attempt := 0; ; attempt++ {
		before := s.thumbprint()
		if s.changedSinceCache(before) {
			// Idle connections were authenticated with the old certificate; a
			// token requested on one would be bound to it.
			s.client.CloseIdleConnections()
		}
		e, err := s.request(ctx)
		if err != nil {
			return nil, err
		}
		e.x5t = before
		if after := s.thumbprint(); sameThumbprint(before, after) || attempt == 1 {
			return e, nil
		}
		s.client.CloseIdleConnections()
	}
}

func (s *Source) changedSinceCache(x5t string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cached != nil && !sameThumbprint(s.cached.x5t, x5t)
}

// request performs one token request (RFC 6749 §4.4.2) and decodes the
// answer (§5.1, §5.2).
func (s *Source) request(ctx context.Context) (*entry, error) {
	form := url.Values{}
	for k, v := range s.form {
		form[k] = v
	}
	useBasic := !s.cfg.ClientSecret.IsZero() && s.cfg.AuthStyle != oauth2.AuthStyleInParams
	if !useBasic {
		form.Set("client_id", s.cfg.ClientID)
		if !s.cfg.ClientSecret.IsZero() {
			form.Set("client_secret", s.cfg.ClientSecret.Reveal())
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("tokenclient: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if useBasic {
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret.Reveal()))
	}
	start := s.cfg.Now() // expiry counts from before the request: never later than the server's
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tokenclient: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, decodeError(resp.StatusCode, resp.Header, body, s.cfg.Now())
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, fmt.Errorf("tokenclient: POST %s: %w", req.URL.Path, err)
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadResponse, maxTokenResponse)
	}
	return s.decodeToken(body, start)
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       string          `json:"scope"`
}

// decodeToken turns a 200 body into a cache entry whose expiry counts from
// start. Errors never quote the body: it may hold the token.
func (s *Source) decodeToken(body []byte, start time.Time) (*entry, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadResponse)
	}
	if r.AccessToken == "" {
		return nil, fmt.Errorf("%w: no access_token", ErrBadResponse)
	}
	if !strings.EqualFold(r.TokenType, "Bearer") { // RFC 6749 §5.1: case-insensitive
		return nil, fmt.Errorf("%w: got %q", ErrUnsupportedTokenType, sanitize(r.TokenType, 32))
	}
	secs, err := parseExpiresIn(r.ExpiresIn)
	if err != nil {
		return nil, err
	}
	life := time.Duration(secs) * time.Second
	early := s.cfg.EarlyExpiry
	if early == 0 {
		early = min(life/10, time.Minute)
	}
	early = min(max(early, 0), life)
	expiry := start.Add(life)
	tok := &oauth2.Token{AccessToken: r.AccessToken, TokenType: "Bearer", Expiry: expiry, ExpiresIn: secs}
	tok = tok.WithExtra(map[string]any{"scope": r.Scope, "expires_in": secs})
	return &entry{token: tok, refreshAt: expiry.Add(-early)}, nil
}

// parseExpiresIn reads expires_in as a JSON number (or, leniently, a string
// of digits). It must be positive: certbound always sends it, and a token
// with no known lifetime cannot be cached safely.
func parseExpiresIn(raw json.RawMessage) (int64, error) {
	str := strings.Trim(string(raw), `"`)
	secs, err := strconv.ParseInt(str, 10, 64)
	if err != nil || secs <= 0 || secs > 366*24*3600 {
		return 0, fmt.Errorf("%w: expires_in must be a positive number of seconds", ErrBadResponse)
	}
	return secs, nil
}

// thumbprint is the x5t#S256 of the current certificate, "" if unknown.
func (s *Source) thumbprint() string {
	if s.cfg.Certificate == nil {
		return ""
	}
	c := s.cfg.Certificate()
	if c == nil {
		return ""
	}
	return certs.X5tS256(c.Raw)
}

func sameThumbprint(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// copyToken returns a copy the caller may modify without touching the cache.
func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}
