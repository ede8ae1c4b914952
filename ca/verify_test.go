package ca_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
)

func TestVerifyClient(t *testing.T) {
	c := catest.New(t)
	chain := func(cert tls.Certificate, _ *x509.Certificate) []*x509.Certificate {
		return catest.PeerCertificates(t, cert)
	}
	revoked, revokedLeaf := c.Leaf(t, "svc-r")
	c.Status.Revoke(certs.SerialString(revokedLeaf.SerialNumber))
	c.Status.Disable("svc-d")
	c.Status.Forget("svc-gone")
	foreign := catest.ForeignCA(t)
	goodLeaf, _ := c.Leaf(t, "svc-a")

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		wantErr error
	}{
		{"accept/leaf-and-intermediate", chain(c.Leaf(t, "svc-a")), nil},
		{"accept/leaf-only", catest.PeerCertificates(t, goodLeaf)[:1], nil},
		{"accept/with-dns-names", chain(c.Leaf(t, "svc-a", catest.DNSNames("svc-a.internal"))), nil},
		{"accept/extra-junk-after-leaf-is-ignored", append(chain(c.Leaf(t, "svc-a")), foreign.Authority.Intermediate(), foreign.Authority.Root()), nil},
		{"accept/client-id-with-dots", chain(c.Leaf(t, "a..b")), nil},

		{"reject/no-cert", nil, ca.ErrNoClientCert},
		{"reject/nil-leaf", []*x509.Certificate{nil}, ca.ErrNoClientCert},
		{"reject/foreign-ca-same-san", chain(foreign.Leaf(t, "svc-a")), ca.ErrUntrusted},
		{"reject/foreign-ca-with-its-intermediate", []*x509.Certificate{
			catest.PeerCertificates(t, must(foreign.Leaf(t, "svc-a")))[0], foreign.Authority.Intermediate(), foreign.Authority.Root(),
		}, ca.ErrUntrusted},
		{"reject/sibling-intermediate-of-the-same-root", c.SiblingLeaf(t, "svc-a"), ca.ErrUntrusted},
		{"reject/sibling-intermediate-leaf-only", c.SiblingLeaf(t, "svc-a")[:1], ca.ErrUntrusted},
		{"reject/self-signed-same-san", chain(catest.SelfSigned(t, "svc-a")), ca.ErrUntrusted},
		{"reject/expired", chain(c.ExpiredLeaf(t, "svc-a")), ca.ErrExpired},
		{"reject/expired-is-untrusted", chain(c.ExpiredLeaf(t, "svc-a")), ca.ErrUntrusted},
		{"reject/not-yet-valid", chain(c.NotYetValidLeaf(t, "svc-a")), ca.ErrExpired},
		{"reject/two-uri-sans", chain(c.TwoURISANsLeaf(t, "svc-a")), ca.ErrIdentity},
		{"reject/no-uri-san", chain(c.NoURISANLeaf(t, "svc-a")), ca.ErrIdentity},
		{"reject/wrong-trust-domain", chain(c.WrongTrustDomainLeaf(t, "svc-a")), ca.ErrIdentity},
		{"reject/ca-cert-as-leaf", chain(c.CALeaf(t, "svc-a")), ca.ErrUntrusted},
		{"reject/keycertsign-leaf", chain(c.KeyCertSignLeaf(t, "svc-a")), ca.ErrUntrusted},
		{"reject/intermediate-as-leaf", chain(c.IntermediateAsLeaf(t)), ca.ErrUntrusted},
		{"reject/root-as-leaf", chain(c.RootAsLeaf(t)), ca.ErrUntrusted},
		{"reject/server-auth-only", chain(c.ServerAuthOnlyLeaf(t, "svc-a")), ca.ErrUntrusted},
		{"reject/server-certificate", chain(c.ServerCertificate(t), nil), ca.ErrUntrusted},
		{"reject/revoked", chain(revoked, revokedLeaf), ca.ErrRevoked},
		{"reject/disabled-client", chain(c.Leaf(t, "svc-d")), ca.ErrClientDisabled},
		{"reject/unknown-client", chain(c.Leaf(t, "svc-gone")), ca.ErrUnknownClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer, err := c.Authority.VerifyClient(t.Context(), tt.chain)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyClient error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if peer != (ca.Peer{}) {
					t.Fatal("VerifyClient returned a Peer with an error")
				}
				return
			}
			leaf := tt.chain[0]
			if peer.Certificate() != leaf {
				t.Error("Certificate() is not the presented leaf")
			}
			id, _ := certs.IDFromCertificate(leaf)
			if peer.ID() != id || peer.ClientID() != id.ClientID || peer.ID().TrustDomain != catest.TrustDomain {
				t.Errorf("ID = %v, want %v", peer.ID(), id)
			}
			if peer.Serial() != certs.SerialString(leaf.SerialNumber) {
				t.Errorf("Serial = %q", peer.Serial())
			}
			if peer.Thumbprint() != certs.X5tS256(leaf.Raw) {
				t.Errorf("Thumbprint = %q", peer.Thumbprint())
			}
		})
	}
}

// TestVerifyClientAsksStatusEveryTime: revoking or disabling takes effect on
// the next call; the cache of verified chains holds no status.
func TestVerifyClientAsksStatusEveryTime(t *testing.T) {
	c := catest.New(t)
	cert, leaf := c.Leaf(t, "svc-a")
	chain := catest.PeerCertificates(t, cert)
	if _, err := c.Authority.VerifyClient(t.Context(), chain); err != nil {
		t.Fatal(err)
	}
	c.Status.Disable("svc-a")
	if _, err := c.Authority.VerifyClient(t.Context(), chain); !errors.Is(err, ca.ErrClientDisabled) {
		t.Fatalf("after Disable: %v", err)
	}
	c.Status.Enable("svc-a")
	c.Status.Revoke(certs.SerialString(leaf.SerialNumber))
	if _, err := c.Authority.VerifyClient(t.Context(), chain); !errors.Is(err, ca.ErrRevoked) {
		t.Fatalf("after Revoke: %v", err)
	}
}

// TestVerifyClientStatusFailure: a broken StatusSource fails closed, and its
// error is not mistaken for a verdict on the certificate.
func TestVerifyClientStatusFailure(t *testing.T) {
	c := catest.New(t)
	chain := catest.PeerCertificates(t, must(c.Leaf(t, "svc-a")))
	boom := errors.New("database is locked")
	c.Status.Fail(boom)
	_, err := c.Authority.VerifyClient(t.Context(), chain)
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the StatusSource's", err)
	}
	for _, verdict := range []error{ca.ErrNoClientCert, ca.ErrUntrusted, ca.ErrIdentity, ca.ErrRevoked, ca.ErrClientDisabled, ca.ErrUnknownClient} {
		if errors.Is(err, verdict) {
			t.Errorf("a StatusSource failure matches %v", verdict)
		}
	}
}

// TestVerifyClientUsesInjectedClock: CurrentTime comes from Config.Now.
func TestVerifyClientUsesInjectedClock(t *testing.T) {
	now := time.Now()
	clock := now
	c := catest.New(t, catest.WithNow(func() time.Time { return clock }))
	chain := catest.PeerCertificates(t, must(c.Leaf(t, "svc-a", catest.Lifetime(time.Hour))))
	if _, err := c.Authority.VerifyClient(t.Context(), chain); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(2 * time.Hour)
	if _, err := c.Authority.VerifyClient(t.Context(), chain); !errors.Is(err, ca.ErrExpired) {
		t.Fatalf("two hours later: %v, want ErrExpired", err)
	}
	clock = now.Add(-2 * time.Minute)
	if _, err := c.Authority.VerifyClient(t.Context(), chain); !errors.Is(err, ca.ErrExpired) {
		t.Fatalf("two minutes before: %v, want ErrExpired", err)
	}
	clock = now.Add(-30 * time.Second) // inside the one-minute back-dating
	if _, err := c.Authority.VerifyClient(t.Context(), chain); err != nil {
		t.Fatalf("30 s before issuance: %v", err)
	}
}

func TestVerifyClientConcurrent(t *testing.T) {
	c := catest.New(t)
	chain := catest.PeerCertificates(t, must(c.Leaf(t, "svc-a")))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := c.Authority.VerifyClient(context.Background(), chain); err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					c.Status.Disable("other")
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifyClientOverTLS runs the production arrangement over loopback: the
// listener only requests a certificate (SPEC §4) and the handler makes the
// decision through VerifyClient. A certbound leaf is also a valid TLS server
// certificate (checklist 5280-EKU).
func TestVerifyClientOverTLS(t *testing.T) {
	c := catest.New(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := c.Authority.VerifyClient(r.Context(), r.TLS.PeerCertificates)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, peer.ClientID())
	}))
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
		Certificates: []tls.Certificate{c.ServerCertificate(t)},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	good, _ := c.Leaf(t, "svc-a")
	foreign, _ := catest.ForeignCA(t).Leaf(t, "svc-a")
	expired, _ := c.ExpiredLeaf(t, "svc-a")
	tests := []struct {
		name     string
		cert     *tls.Certificate
		wantCode int
		wantBody string
	}{
		{"accept/certbound-leaf", &good, http.StatusOK, "svc-a"},
		{"reject/no-certificate", nil, http.StatusUnauthorized, ""},
		{"reject/foreign-ca", &foreign, http.StatusUnauthorized, ""},
		{"reject/expired", &expired, http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: c.RootPool(), ServerName: "localhost"}
			if tt.cert != nil {
				cfg.Certificates = []tls.Certificate{*tt.cert}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode || (tt.wantBody != "" && string(body) != tt.wantBody) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
		})
	}

	// The leaf also serves TLS: a Go client that verifies against the root
	// accepts it, and a Go server that requires and verifies client
	// certificates accepts it as a client.
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	mtls.TLS = &tls.Config{
		Certificates: []tls.Certificate{must(c.Leaf(t, "svc-b", catest.DNSNames("localhost")))},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.RootPool(),
	}
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: c.RootPool(), ServerName: "localhost", Certificates: []tls.Certificate{good},
	}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(mtls.URL)
	if err != nil {
		t.Fatalf("leaf as server and client certificate: %v", err)
	}
	resp.Body.Close()
}

func must(cert tls.Certificate, _ *x509.Certificate) tls.Certificate { return cert }

// TestVerifyClientCachesOnlySuccesses: a refused certificate is refused
// every time it comes back, a verified one keeps verifying (from the
// cache), and the cache never lends one certificate's verdict to another
// with the same identity.
func TestVerifyClientCachesOnlySuccesses(t *testing.T) {
	c := catest.New(t)
	foreign := catest.ForeignCA(t)
	good := catest.PeerCertificates(t, must(c.Leaf(t, "svc-a")))
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		want  error
	}{
		{"reject/foreign-root-same-id", catest.PeerCertificates(t, must(foreign.Leaf(t, "svc-a"))), ca.ErrUntrusted},
		{"reject/wrong-trust-domain", catest.PeerCertificates(t, must(c.WrongTrustDomainLeaf(t, "svc-a"))), ca.ErrIdentity},
		{"reject/expired", catest.PeerCertificates(t, must(c.ExpiredLeaf(t, "svc-a"))), ca.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 3 {
				if _, err := c.Authority.VerifyClient(t.Context(), good); err != nil {
					t.Fatalf("good certificate, round %d: %v", i, err)
				}
				if _, err := c.Authority.VerifyClient(t.Context(), tc.chain); !errors.Is(err, tc.want) {
					t.Fatalf("round %d: %v, want %v", i, err, tc.want)
				}
			}
		})
	}
	t.Run("accept/same-bytes-new-parse", func(t *testing.T) {
		again, err := x509.ParseCertificate(good[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{again})
		if err != nil {
			t.Fatal(err)
		}
		if p.Certificate() != again || p.Thumbprint() != certs.X5tS256(again.Raw) || p.Serial() != certs.SerialString(again.SerialNumber) {
			t.Fatalf("peer = %v %q %q, want the presented certificate's", p.Certificate(), p.Thumbprint(), p.Serial())
		}
	})
}

// TestVerifyClientOnResumedSessions: with the listener's configuration
// (client certificate requested, session tickets on by default), a resumed
// TLS 1.3 connection carries the certificate of the handshake it resumes, so
// the identity is checked on it like on a full handshake, and a revocation
// made in between refuses the resumed connection.
func TestVerifyClientOnResumedSessions(t *testing.T) {
	c := catest.New(t)
	cert, leaf := c.Leaf(t, "svc-a")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
		Certificates: []tls.Certificate{c.ServerCertificate(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type verdict struct {
		resumed bool
		err     error
	}
	verdicts := make(chan verdict)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			err = tc.Handshake()
			st := tc.ConnectionState()
			if err == nil {
				_, err = c.Authority.VerifyClient(context.Background(), st.PeerCertificates)
			}
			tc.Write([]byte{1}) // lets the client read its session ticket
			tc.Close()
			verdicts <- verdict{st.DidResume, err}
		}
	}()
	cfg := &tls.Config{RootCAs: c.RootPool(), ServerName: "localhost", Certificates: []tls.Certificate{cert},
		ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	connect := func() verdict {
		t.Helper()
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(conn, make([]byte, 1))
		conn.Close()
		return <-verdicts
	}
	if v := connect(); v.resumed || v.err != nil {
		t.Fatalf("first connection: resumed %v, %v", v.resumed, v.err)
	}
	if v := connect(); !v.resumed || v.err != nil {
		t.Fatalf("second connection: resumed %v, %v; want a resumed session that verifies", v.resumed, v.err)
	}
	c.Status.Revoke(certs.SerialString(leaf.SerialNumber))
	if v := connect(); !v.resumed || !errors.Is(v.err, ca.ErrRevoked) {
		t.Fatalf("after revocation: resumed %v, %v; want ErrRevoked", v.resumed, v.err)
	}
}

// TestVerifyClientUnknownSerial: a leaf this CA signed but has no record of
// (issued around the status source, as before a power loss rolled the
// database back) is refused as revoked: the rule of ca.StatusSource, which
// catest.Status keeps like the storage does.
func TestVerifyClientUnknownSerial(t *testing.T) {
	c := catest.New(t)
	leaf, err := c.Authority.IssueLeaf(ca.LeafRequest{ClientID: "svc-a", PublicKey: newP256(t).Public(), Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{leaf}); !errors.Is(err, ca.ErrRevoked) {
		t.Fatalf("reject/unrecorded serial: %v, want ErrRevoked", err)
	}
	c.Status.Record(certs.SerialString(leaf.SerialNumber))
	if _, err := c.Authority.VerifyClient(t.Context(), []*x509.Certificate{leaf}); err != nil {
		t.Fatalf("accept/recorded serial: %v", err)
	}
}
