package enrollclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/certbound/certbound/certs"
)

// ClientTLSConfig returns a TLS client configuration that presents this
// identity's certificate and trusts only its pinned root. It never changes;
// use Renewer.ClientTLSConfig for one that follows renewals.
func (id *Identity) ClientTLSConfig() *tls.Config {
	return clientTLSConfig(func() *Identity { return id })
}

// ServerTLSConfig returns a TLS server configuration that serves this
// identity's certificate and verifies client certificates against its
// pinned root when a client offers one (tls.VerifyClientCertIfGiven). A
// resource server that must refuse clients without a certificate sets
// ClientAuth to tls.RequireAndVerifyClientCert on the result.
func (id *Identity) ServerTLSConfig() *tls.Config {
	return serverTLSConfig(func() *Identity { return id })
}

// HTTPClient returns an http.Client whose connections use ClientTLSConfig.
func (id *Identity) HTTPClient() *http.Client {
	return &http.Client{Transport: newIdentityTransport(func() *Identity { return id }, clientTLSConfig), Timeout: defaultTimeout}
}

// ClientTLSConfigFor is ClientTLSConfig for calling one service by its
// identity: the server's certificate must chain to the pinned root (for
// serverAuth) and carry exactly the SPIFFE ID server (SPIFFE X509-SVID §5,
// as go-spiffe's tlsconfig.AuthorizeID). The host name of the URL is not
// checked: the SPIFFE ID is the server's name, so a service needs no DNS
// name in its certificate. A server with another identity fails the
// handshake with ErrServerIDMismatch, before anything is sent.
func (id *Identity) ClientTLSConfigFor(server certs.ID) *tls.Config {
	return authorizingTLSConfig(server)(func() *Identity { return id })
}

// HTTPClientFor returns an http.Client whose connections use
// ClientTLSConfigFor(server).
func (id *Identity) HTTPClientFor(server certs.ID) *http.Client {
	return &http.Client{Transport: newIdentityTransport(func() *Identity { return id }, authorizingTLSConfig(server)), Timeout: defaultTimeout}
}

// clientTLSConfig presents get()'s certificate on every handshake. RootCAs
// are fixed when the config is built: roots do not change on renewal.
func clientTLSConfig(get func() *Identity) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    get().Roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Always offer it, even when the server's acceptable-CA list does
			// not name our issuer: certbound's listener sends no list at all.
			return &get().Certificate, nil
		},
	}
}

// certboundTLSConfig is clientTLSConfig for talking to certbound itself: the
// server must also present certbound's own server certificate
// (certs.VerifyServerConnection), so that a service's certificate from the
// same CA, whatever names it carries, never receives a CSR or a token request.
func certboundTLSConfig(get func() *Identity) *tls.Config {
	c := clientTLSConfig(get)
	c.VerifyConnection = certs.VerifyServerConnection
	return c
}

// authorizingTLSConfig returns a builder of clientTLSConfig that accepts only
// a server holding the SPIFFE ID server. crypto/tls's own verification checks
// the host name, which a SPIFFE ID replaces, so it is turned off and
// VerifyConnection does the whole job: chain to the pinned roots for
// serverAuth at the current time, then the ID. VerifyConnection runs on
// resumed handshakes too.
func authorizingTLSConfig(server certs.ID) func(get func() *Identity) *tls.Config {
	return func(get func() *Identity) *tls.Config {
		c := clientTLSConfig(get)
		roots := c.RootCAs
		c.InsecureSkipVerify = true // replaced, not skipped: see VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyServerID(cs, roots, server) }
		return c
	}
}

// verifyServerID checks that the peer's chain verifies to roots for
// serverAuth and that its leaf's SPIFFE ID is want.
func verifyServerID(cs tls.ConnectionState, roots *x509.CertPool, want certs.ID) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrUntrustedChain)
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("%w: the server's certificate: %w", ErrUntrustedChain, err)
	}
	got, err := certs.IDFromCertificate(leaf)
	if err != nil {
		return fmt.Errorf("%w: the server has no SPIFFE ID of a service, want %s", ErrServerIDMismatch, want)
	}
	if got != want {
		return fmt.Errorf("%w: the server is %s, want %s", ErrServerIDMismatch, got, want)
	}
	return nil
}

// serverTLSConfig serves get()'s certificate on every handshake.
func serverTLSConfig(get func() *Identity) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &get().Certificate, nil
		},
		ClientCAs:  get().Roots,
		ClientAuth: tls.VerifyClientCertIfGiven,
	}
}

// identityTransport is an http.RoundTripper that keeps one http.Transport
// per identity. When the identity changes it starts a new transport and
// closes the idle connections of the old one, so no request made after a
// renewal travels on a connection authenticated with the old certificate.
// That matters for bound tokens (RFC 8705 §3): the token endpoint binds a
// token to the certificate of the connection it arrived on, and a resource
// server compares with the certificate of its connection.
type identityTransport struct {
	get   func() *Identity
	build func(get func() *Identity) *tls.Config // the TLS configuration of each new transport

	mu  sync.Mutex      // guards the fields below
	id  *Identity       // identity t was built for; nil before the first request
	t   *http.Transport // transport for id
	old *http.Transport // previous transport, closed again at the next rotation
}

func newIdentityTransport(get func() *Identity, build func(get func() *Identity) *tls.Config) *identityTransport {
	return &identityTransport{get: get, build: build}
}

// WithVerifyConnection returns a transport like it, for the same identity,
// whose TLS handshakes also run check after every verification it already
// does. tokenclient uses it to require certbound's server certificate
// (certs.VerifyServerConnection) on the token requests it sends through a
// client from HTTPClient, while the client itself keeps calling services.
func (it *identityTransport) WithVerifyConnection(check func(tls.ConnectionState) error) http.RoundTripper {
	build := it.build
	return newIdentityTransport(it.get, func(get func() *Identity) *tls.Config {
		c := build(get)
		prev := c.VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if prev != nil {
				if err := prev(cs); err != nil {
					return err
				}
			}
			return check(cs)
		}
		return c
	})
}

// RoundTrip implements http.RoundTripper.
func (it *identityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return it.transport().RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// current transport.
func (it *identityTransport) CloseIdleConnections() {
	it.mu.Lock()
	defer it.mu.Unlock()
	for _, t := range []*http.Transport{it.t, it.old} {
		if t != nil {
			t.CloseIdleConnections()
		}
	}
}

func (it *identityTransport) transport() *http.Transport {
	id := it.get()
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.id == id {
		return it.t
	}
	if it.old != nil {
		it.old.CloseIdleConnections() // requests in flight at the last rotation are long done
	}
	if it.t != nil {
		it.t.CloseIdleConnections()
	}
	it.old = it.t
	it.id = id
	it.t = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     it.build(func() *Identity { return id }),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 16,
	}
	return it.t
}
