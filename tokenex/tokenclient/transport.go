package tokenclient

import (
	"net/http"
)

// Transport is an http.RoundTripper that adds "Authorization: Bearer
// <token>" from Source to every request and sends it through Base. Give it
// the transport of the mutual-TLS client, so the resource server sees the
// certificate the token is bound to (RFC 8705 §3). Unlike oauth2.Transport
// it fetches tokens with the request's context.
type Transport struct {
	// Source supplies the tokens. Required.
	Source *Source
	// Base sends the requests. Nil means http.DefaultTransport, which
	// presents no client certificate: bound tokens will then be refused.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.TokenContext(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, also on error
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of Base, if it can.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Client returns an http.Client for calls to resource servers: requests go
// through base's transport (so with its client certificate) with a token
// from s. base nil means Config.HTTPClient as given, without the server
// check the Source adds for its own token requests. Redirects are not
// followed, so a token is never carried to a URL the caller did not choose.
func (s *Source) Client(base *http.Client) *http.Client {
	if base == nil {
		base = s.base
	}
	return &http.Client{
		Transport:     &Transport{Source: s, Base: base.Transport},
		Timeout:       base.Timeout,
		Jar:           base.Jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
