package server_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

func TestFirstStartCreatesPrivateDataDirAndLaterStartsReuseIt(t *testing.T) {
	s := servertest.Start(t)
	for path, want := range map[string]os.FileMode{
		s.DataDir:                                          0o700,
		filepath.Join(s.DataDir, "admin.key"):              0o600,
		filepath.Join(s.DataDir, "certbound.db"):           0o600,
		filepath.Join(s.DataDir, "ca", "root.key"):         0o600,
		filepath.Join(s.DataDir, "ca", "intermediate.key"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	if !strings.Contains(s.Log(), s.Fingerprint) {
		t.Error("the root fingerprint was not logged")
	}
	if strings.Contains(s.Log(), s.AdminKey) {
		t.Fatal("the admin key was logged")
	}
	fp, key := s.Fingerprint, s.AdminKey
	s = s.Restart(t)
	if s.Fingerprint != fp || s.AdminKey != key {
		t.Fatal("a restart made a new CA or admin key")
	}
	if r := s.Do(t, nil, "GET", "/v1/health", nil); r.Status != 200 || string(r.Body) != `{"status":"ok"}`+"\n" {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
}

func TestServerRefusesADataDirOthersCanRead(t *testing.T) {
	s := servertest.Start(t)
	s.Stop(t)
	if err := os.Chmod(s.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tb := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		s.Restart(tb)
	}()
	if !tb.failed {
		t.Fatal("the server started on a world-readable data dir")
	}
}

// fatalRecorder turns Fatal into a recorded failure and a panic the caller recovers.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Fatal(...any)          { f.failed = true; panic("fatal") }

func TestEnrollIssuesAnX509SVID(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "task-service", "event.create", "event")
	tok := s.MintToken(t, "task-service", "tasks.internal")
	cert, is := s.Enroll(t, tok, "tasks.internal")

	leaf := cert.Leaf
	if is.SPIFFEID != "spiffe://certbound.local/task-service" || len(leaf.URIs) != 1 || leaf.URIs[0].String() != is.SPIFFEID {
		t.Fatalf("identity: %s %v", is.SPIFFEID, leaf.URIs)
	}
	if leaf.IsCA || leaf.Subject.CommonName != "task-service" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "tasks.internal" {
		t.Fatalf("profile: CA=%v CN=%s DNS=%v", leaf.IsCA, leaf.Subject.CommonName, leaf.DNSNames)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 24*time.Hour+time.Minute {
		t.Fatalf("lifetime %s over 24h", life)
	}
	eku := map[x509.ExtKeyUsage]bool{}
	for _, u := range leaf.ExtKeyUsage {
		eku[u] = true
	}
	if !eku[x509.ExtKeyUsageServerAuth] || !eku[x509.ExtKeyUsageClientAuth] || len(eku) != 2 {
		t.Fatalf("EKU %v", leaf.ExtKeyUsage)
	}
	if is.Serial != certs.SerialString(leaf.SerialNumber) || !is.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("serial/not_after disagree with the certificate")
	}
	// go-spiffe accepts it as an X509-SVID of the trust domain.
	td := spiffeid.RequireTrustDomainFromString("certbound.local")
	roots, err := certs.ParseCertificates([]byte(is.CA))
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := certs.ParseCertificates([]byte(is.Chain))
	id, _, err := x509svid.Verify(chain, x509bundle.FromX509Authorities(td, roots))
	if err != nil || id.String() != is.SPIFFEID {
		t.Fatalf("go-spiffe: %v %v", id, err)
	}
	// It is recorded.
	r := s.Admin(t, "GET", "/v1/certificates?client_id=task-service&active=true", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), is.Serial) {
		t.Fatalf("certificate not listed: %s", r.Body)
	}
}

// The SPEC's walkthrough: a key and CSR made by openssl enroll, and openssl
// verifies the result against root + intermediate.
func TestEnrollWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	s := servertest.Start(t)
	s.CreateClient(t, "billing", "invoice.read", "invoices")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	key, csr := filepath.Join(dir, "key.pem"), filepath.Join(dir, "req.csr")
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	run("req", "-new", "-key", key, "-subj", "/CN=billing", "-out", csr)
	csrPEM, _ := os.ReadFile(csr)
	r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": s.MintToken(t, "billing"), "csr": string(csrPEM)})
	if r.Status != http.StatusCreated {
		t.Fatalf("enroll: %d %s", r.Status, r.Body)
	}
	var is servertest.Issued
	r.JSON(t, &is)
	chain, _ := certs.ParseCertificates([]byte(is.Chain))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := write("leaf.pem", []byte(is.Certificate))
	inter := write("intermediate.pem", certs.EncodeCertificates(chain[1]))
	root := write("root.pem", []byte(is.CA))
	run("verify", "-CAfile", root, "-untrusted", inter, "-purpose", "sslclient", leaf)
	run("verify", "-CAfile", root, "-untrusted", inter, "-purpose", "sslserver", leaf)
}

func TestEnrollmentTokenIsSingleUseUnderConcurrentRedemption(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	tok := s.MintToken(t, "svc")
	const n = 50
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := servertest.NewKey(t)
			r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": tok, "csr": servertest.CSR(t, key)})
			statuses[i], codes[i] = r.Status, r.ErrorCode()
		}()
	}
	wg.Wait()
	created := 0
	for i, st := range statuses {
		switch {
		case st == http.StatusCreated:
			created++
		case st != http.StatusUnauthorized || codes[i] != "invalid_token":
			t.Errorf("redemption %d: %d %s", i, st, codes[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d of %d concurrent redemptions got a certificate, want exactly 1", created, n)
	}
	var list struct {
		Certificates []any `json:"certificates"`
	}
	s.Admin(t, "GET", "/v1/certificates?client_id=svc", nil).JSON(t, &list)
	if len(list.Certificates) != 1 {
		t.Fatalf("%d certificates recorded, want 1", len(list.Certificates))
	}
}

func TestRefusedTokensAllLookTheSame(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	used := s.MintToken(t, "svc")
	s.Enroll(t, used)
	expired := s.MintToken(t, "svc")
	s.Advance(16 * time.Minute) // default token lifetime is 15m
	var bodies []string
	for name, tok := range map[string]string{"replayed": used, "expired": expired, "unknown": "cbe_never-minted"} {
		r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": tok, "csr": servertest.CSR(t, servertest.NewKey(t))})
		if r.Status != http.StatusUnauthorized || r.ErrorCode() != "invalid_token" || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s token: %d %s %q", name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
		}
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("refusals differ: %q", bodies)
	}
	for _, tok := range []string{used, expired} {
		if strings.Contains(s.Log(), tok) {
			t.Fatal("an enrollment token reached the log")
		}
	}
}

func TestBadCSRDoesNotBurnTheToken(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	tok := s.MintToken(t, "svc", "allowed.internal")
	good := servertest.CSR(t, servertest.NewKey(t))
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	badSig := func() string {
		csr, _ := certs.ParseCSR([]byte(good))
		der := append([]byte(nil), csr.Raw...)
		der[len(der)-4] ^= 0xff
		return string(certs.EncodeCSR(der))
	}()
	for _, tc := range []struct {
		name, csr string
		status    int
	}{
		{"reject/rsa 1024", servertest.CSR(t, rsa1024), 400},
		{"reject/bad signature", badSig, 400},
		{"reject/trailing garbage", good + "garbage", 400},
		{"reject/two PEM blocks", good + good, 400},
		{"reject/not PEM", "hello", 400},
		{"reject/dns name the token does not allow", servertest.CSR(t, servertest.NewKey(t), "other.internal"), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": tok, "csr": tc.csr})
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
		})
	}
	cert, _ := s.Enroll(t, tok, "allowed.internal")
	if cert.Leaf.DNSNames[0] != "allowed.internal" {
		t.Fatal("token unusable after refused CSRs")
	}
}

func TestRenewOverMTLS(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	cert, first := s.Enroll(t, s.MintToken(t, "svc", "svc.internal"), "svc.internal")

	renew := func(c tls.Certificate, key *ecdsa.PrivateKey) *servertest.Response {
		var certsArg []tls.Certificate
		if c.Leaf != nil {
			certsArg = append(certsArg, c)
		}
		return s.Do(t, s.HTTPClient(certsArg...), "POST", "/v1/renew", map[string]string{"csr": servertest.CSR(t, key)})
	}
	key := servertest.NewKey(t).(*ecdsa.PrivateKey)
	r := renew(cert, key)
	if r.Status != http.StatusCreated {
		t.Fatalf("renew: %d %s", r.Status, r.Body)
	}
	var second servertest.Issued
	r.JSON(t, &second)
	next := servertest.Pair(t, second.Chain, key)
	if second.Serial == first.Serial || second.SPIFFEID != first.SPIFFEID {
		t.Fatalf("renewal: serial %s→%s, id %s→%s", first.Serial, second.Serial, first.SPIFFEID, second.SPIFFEID)
	}
	if !next.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("renewal did not re-key")
	}
	if len(next.Leaf.DNSNames) != 1 || next.Leaf.DNSNames[0] != "svc.internal" {
		t.Fatalf("renewal dropped DNS names: %v", next.Leaf.DNSNames)
	}

	t.Run("reject/the superseded certificate", func(t *testing.T) {
		if r := renew(cert, servertest.NewKey(t).(*ecdsa.PrivateKey)); r.Status != http.StatusForbidden {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("reject/no client certificate", func(t *testing.T) {
		r := renew(tls.Certificate{}, key)
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("reject/revoked", func(t *testing.T) {
		other, is2 := s.Enroll(t, s.MintToken(t, "svc"))
		if r := s.Admin(t, "POST", "/v1/certificates/"+is2.Serial+"/revoke", map[string]string{"reason": "test"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := renew(other, servertest.NewKey(t).(*ecdsa.PrivateKey)); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoked certificate renewed: %d %s", r.Status, r.Body)
		}
	})
	t.Run("reject/expired", func(t *testing.T) {
		s.Advance(25 * time.Hour)
		defer s.Advance(-25 * time.Hour)
		if r := renew(next, servertest.NewKey(t).(*ecdsa.PrivateKey)); r.Status != http.StatusUnauthorized {
			t.Fatalf("expired certificate renewed: %d %s", r.Status, r.Body)
		}
	})
}

func TestAdminAPIRequiresTheKey(t *testing.T) {
	s := servertest.Start(t)
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"reject/no key", nil, 401},
		{"reject/wrong key", []string{"Authorization: Bearer cba_wrong"}, 401},
		{"reject/wrong scheme", []string{"Authorization: Basic " + s.AdminKey}, 401},
		{"reject/wrong api-key", []string{"api-key: nope"}, 401},
		{"accept/bearer", []string{"Authorization: Bearer " + s.AdminKey}, 200},
		{"accept/api-key header as in the seed", []string{"api-key: " + s.AdminKey}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, nil, "GET", "/v1/certificates", nil, tc.headers...)
			if r.Status != tc.status {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if r.Status == 401 && (r.Header.Get("WWW-Authenticate") == "" || r.ErrorCode() != "unauthorized") {
				t.Fatalf("401 without challenge or code: %v %s", r.Header, r.Body)
			}
		})
	}
	if strings.Contains(s.Log(), s.AdminKey) || strings.Contains(s.Log(), "cba_wrong") {
		t.Fatal("an admin key reached the log")
	}
}
