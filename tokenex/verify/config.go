package verify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
)

// Defaults for the zero values of Config.
const (
	DefaultLeeway             = 60 * time.Second // SPEC §3 clock skew
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultMinRefreshInterval = 10 * time.Second
	DefaultRealm              = "certbound"
	defaultHTTPTimeout        = 10 * time.Second
)

// Config configures a Verifier. Issuer and Audience are required; the zero
// value of every other field is the safe choice.
type Config struct {
	// Issuer is the authorization server's issuer identifier, e.g.
	// "https://localhost:8443". A token's "iss" must equal it byte for byte,
	// and so must the "issuer" of the discovered metadata (RFC 8414 §3.3).
	Issuer string
	// Audience is this resource server's identifier; a token's "aud" must
	// contain it.
	Audience string
	// JWKSURL is where the signing keys are published. Empty means discover
	// it as "jwks_uri" of the RFC 8414 metadata at
	// <Issuer>/.well-known/oauth-authorization-server. Either way it must be
	// https.
	JWKSURL string
	// HTTPClient fetches the metadata and the JWKS. Nil means a client that
	// verify builds: a 10 s timeout, Roots as its trust anchors, and
	// certbound's server check (certs.VerifyServerConnection): a server whose
	// certificate is not certbound's own, such as a service's certificate
	// from the same CA, is refused at the handshake, so it can never serve a
	// forged JWKS. A client you pass is used as it is: the check is then
	// yours to add (set its tls.Config.VerifyConnection to
	// certs.VerifyServerConnection); without it any service holding a
	// certificate from certbound's CA with the issuer's host name can serve
	// keys that verify tokens it forged.
	HTTPClient *http.Client
	// Roots are the CA certificates the client verify builds trusts
	// (certbound's root, from enrollclient's Identity.Roots or ca.pem).
	// Nil means the system roots. Ignored when HTTPClient is set.
	Roots *x509.CertPool
	// AllowUnbound accepts tokens without a "cnf" binding. The zero value
	// refuses them: every token must be bound to the caller's certificate.
	AllowUnbound bool
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means 60 s.
	Leeway time.Duration
	// RefreshInterval is how old the JWKS may get before a request triggers a
	// background refresh. Zero means 5 minutes.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two JWKS fetches, so that
	// tokens with random "kid" values cannot make the verifier hammer the
	// authorization server. Zero means 10 s.
	MinRefreshInterval time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Realm is the realm of the WWW-Authenticate challenges the middleware
	// sends. Empty means "certbound". It may not contain '"' or '\'.
	Realm string
	// TrustedProxy, when set, lets a TLS-terminating proxy pass the client
	// certificate in a request header. Nil means headers never count: the
	// certificate comes from the TLS connection only.
	TrustedProxy *TrustedProxy
}

// TrustedProxy describes a TLS-terminating reverse proxy that passes the
// client certificate it verified in a request header (RFC 8705 §6.5). The
// proxy must strip that header from the requests it receives (RFC 9700
// §4.13); the middleware believes the header only on connections from From,
// and on those it ignores the TLS connection's own certificate, which is the
// proxy's.
//
// The header value is either the URL-escaped PEM certificate that nginx puts
// in $ssl_client_escaped_cert, or an RFC 9440 Client-Cert byte sequence
// (":<base64 DER>:"). Envoy's X-Forwarded-Client-Cert is not understood.
type TrustedProxy struct {
	// Header is the request header that carries the certificate, e.g.
	// "X-SSL-Client-Cert" or "Client-Cert". Required.
	Header string
	// From lists the proxy addresses. A request counts as coming from the
	// proxy when the host of its RemoteAddr is inside one prefix. Required.
	From []netip.Prefix
}

// withDefaults validates c and fills in the zero values.
func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		return c, fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if c.Audience == "" {
		return c, fmt.Errorf("%w: Audience is required", ErrConfig)
	}
	if c.JWKSURL != "" {
		if err := checkHTTPS(c.JWKSURL, true); err != nil {
			return c, fmt.Errorf("%w: JWKSURL %w", ErrConfig, err)
		}
	} else if err := checkHTTPS(c.Issuer, false); err != nil {
		return c, fmt.Errorf("%w: Issuer, used for discovery, %w", ErrConfig, err)
	}
	if c.Leeway < 0 || c.RefreshInterval < 0 || c.MinRefreshInterval < 0 {
		return c, fmt.Errorf("%w: durations may not be negative", ErrConfig)
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.MinRefreshInterval == 0 {
		c.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.Roots,
				VerifyConnection: certs.VerifyServerConnection},
			TLSHandshakeTimeout: defaultHTTPTimeout,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if !quotable(c.Realm) {
		return c, fmt.Errorf("%w: Realm must be printable ASCII without '\"' or '\\'", ErrConfig)
	}
	if p := c.TrustedProxy; p != nil {
		if p.Header == "" || len(p.From) == 0 {
			return c, fmt.Errorf("%w: TrustedProxy needs Header and From", ErrConfig)
		}
		if strings.EqualFold(p.Header, "Authorization") {
			return c, fmt.Errorf("%w: TrustedProxy.Header may not be Authorization", ErrConfig)
		}
		from := make([]netip.Prefix, len(p.From))
		for i, pfx := range p.From {
			if !pfx.IsValid() {
				return c, fmt.Errorf("%w: TrustedProxy.From[%d] is not a valid prefix", ErrConfig, i)
			}
			// Remote addresses are unmapped before matching, so unmap
			// ::ffff:a.b.c.d/n prefixes too.
			if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
				pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
			}
			from[i] = pfx.Masked()
		}
		c.TrustedProxy = &TrustedProxy{Header: http.CanonicalHeaderKey(p.Header), From: from}
	}
	return c, nil
}

// checkHTTPS accepts an absolute https URL without user info or fragment,
// and without a query unless allowQuery. RFC 8414 §2 requires https for the
// issuer (with no query or fragment) and for jwks_uri.
func checkHTTPS(raw string, allowQuery bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || (u.RawQuery != "" && !allowQuery) {
		return errors.New("must be an https URL without user info or fragment (or query, for an issuer)")
	}
	return nil
}

// quotable reports whether s can go into an RFC 9110 quoted-string unescaped.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
