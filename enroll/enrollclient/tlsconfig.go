package enrollclient

import (
	"crypto/tls"
	"net/http"
	"sync"
	"time"
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
	return &http.Client{Transport: newIdentityTransport(func() *Identity { return id }), Timeout: defaultTimeout}
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
	get func() *Identity

	mu  sync.Mutex      // guards the fields below
	id  *Identity       // identity t was built for; nil before the first request
	t   *http.Transport // transport for id
	old *http.Transport // previous transport, closed again at the next rotation
}

func newIdentityTransport(get func() *Identity) *identityTransport {
	return &identityTransport{get: get}
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
		TLSClientConfig:     clientTLSConfig(func() *Identity { return id }),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 16,
	}
	return it.t
}
