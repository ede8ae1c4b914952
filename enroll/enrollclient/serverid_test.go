package enrollclient_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// TestHTTPClientForAuthorizesTheServerID: a service is called by its SPIFFE
// ID, whatever the host name of the URL; a service of the same CA with
// another ID, and a server of another CA with the same ID, are refused at the
// handshake, before the request is sent.
func TestHTTPClientForAuthorizesTheServerID(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	caller := enrollFixture(t, newWireServer(t, ca))

	serve := func(t *testing.T, c *testCA) (url string, hits *atomic.Int64) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "svc")
		c.writeIdentity(t, dir, time.Now().Add(-time.Minute), time.Now().Add(time.Hour)) // spiffe://certbound.local/svc-a, no DNS name
		id, err := enrollclient.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		hits = &atomic.Int64{}
		rs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
		rs.TLS = id.ServerTLSConfig()
		rs.TLS.Certificates = []tls.Certificate{id.Certificate} // else httptest adds its own, served when no SNI is sent (an IP URL)
		rs.Config.ErrorLog = log.New(io.Discard, "", 0)
		rs.StartTLS()
		t.Cleanup(rs.Close)
		return rs.URL, hits // https://127.0.0.1:<port>: not a name the certificate carries
	}
	svcA := certs.ID{TrustDomain: "certbound.local", ClientID: "svc-a"}
	svcB := certs.ID{TrustDomain: "certbound.local", ClientID: "svc-b"}

	t.Run("accept/expected-id-any-host", func(t *testing.T) {
		url, hits := serve(t, ca)
		resp, err := caller.HTTPClientFor(svcA).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if hits.Load() != 1 {
			t.Fatalf("hits %d", hits.Load())
		}
	})
	t.Run("reject/another-service-of-the-same-ca", func(t *testing.T) {
		url, hits := serve(t, ca)
		_, err := caller.HTTPClientFor(svcB).Get(url)
		if !errors.Is(err, enrollclient.ErrServerIDMismatch) {
			t.Fatalf("error %v, want ErrServerIDMismatch", err)
		}
		if hits.Load() != 0 {
			t.Fatal("the request reached the server")
		}
	})
	t.Run("reject/same-id-from-another-ca", func(t *testing.T) {
		url, hits := serve(t, newTestCA(t))
		_, err := caller.HTTPClientFor(svcA).Get(url)
		if !errors.Is(err, enrollclient.ErrUntrustedChain) {
			t.Fatalf("error %v, want ErrUntrustedChain", err)
		}
		if hits.Load() != 0 {
			t.Fatal("the request reached the server")
		}
	})
	t.Run("reject/certbound-itself", func(t *testing.T) {
		ws := newWireServer(t, ca) // certbound's server certificate: no service ID
		_, err := caller.HTTPClientFor(svcA).Get(ws.URL + "/v1/roots")
		if !errors.Is(err, enrollclient.ErrServerIDMismatch) {
			t.Fatalf("error %v, want ErrServerIDMismatch", err)
		}
	})
}
