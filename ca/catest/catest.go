package catest

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
)

// TrustDomain is the trust domain of every CA this package makes.
const TrustDomain = "certbound.local"

// DefaultLifetime is the lifetime of leaves made without the Lifetime option.
const DefaultLifetime = time.Hour

// CA is a bootstrapped CA in a temporary directory.
type CA struct {
	Authority *ca.Authority // loaded with ca.New from Dir
	Dir       string        // the CA directory (root.key is still there)
	Status    *Status       // the Authority's StatusSource

	rootKey         crypto.Signer    // for RootAsLeaf
	intermediateKey crypto.Signer    // for the failure fixtures
	now             func() time.Time // the Authority's clock
}

// Option configures New and ForeignCA.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithNow gives the Authority a clock (Config.Now); the CA is bootstrapped at
// now() too. Without it both use time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New bootstraps a real CA (ca.Bootstrap) in t.TempDir() and loads it (ca.New)
// with trust domain certbound.local and a fresh Status.
func New(t testing.TB, opts ...Option) *CA {
	t.Helper()
	return newCA(t, "catest", opts)
}

// ForeignCA bootstraps an unrelated CA with the same trust domain. Its leaves
// carry the very same SPIFFE IDs and CNs as the CA under test's, but chain to
// another root: the CA under test must refuse them (RFC 8705 §7.4).
func ForeignCA(t testing.TB, opts ...Option) *CA {
	t.Helper()
	return newCA(t, "foreign", opts)
}

func newCA(t testing.TB, name string, opts []Option) *CA {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if o.now == nil {
		o.now = time.Now
	}
	if err := ca.Bootstrap(dir, ca.BootstrapOptions{Name: name, Now: o.now}); err != nil {
		t.Fatalf("catest: bootstrap: %v", err)
	}
	status := &Status{}
	a, err := ca.New(ca.Config{Dir: dir, TrustDomain: TrustDomain, Status: status, Now: o.now})
	if err != nil {
		t.Fatalf("catest: load CA: %v", err)
	}
	return &CA{
		Authority:       a,
		Dir:             dir,
		Status:          status,
		rootKey:         readKey(t, filepath.Join(dir, ca.RootKeyFile)),
		intermediateKey: readKey(t, filepath.Join(dir, ca.IntermediateKeyFile)),
		now:             o.now,
	}
}

func readKey(t testing.TB, path string) crypto.Signer {
	t.Helper()
	k, err := pemutil.Read(path)
	if err != nil {
		t.Fatalf("catest: read %s: %v", filepath.Base(path), err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		t.Fatalf("catest: %s holds %T, not a private key", filepath.Base(path), k)
	}
	return s
}

// LeafOption adjusts the request CA.Leaf makes.
type LeafOption func(*ca.LeafRequest, *crypto.Signer)

// DNSNames adds DNS SANs to the leaf.
func DNSNames(names ...string) LeafOption {
	return func(r *ca.LeafRequest, _ *crypto.Signer) { r.DNSNames = append(r.DNSNames, names...) }
}

// Lifetime sets the requested lifetime (default DefaultLifetime).
func Lifetime(d time.Duration) LeafOption {
	return func(r *ca.LeafRequest, _ *crypto.Signer) { r.Lifetime = d }
}

// Key certifies this key instead of a fresh P-256 key.
func Key(k crypto.Signer) LeafOption {
	return func(_ *ca.LeafRequest, s *crypto.Signer) { *s = k }
}

// Leaf issues a real leaf for clientID through Authority.IssueLeaf, for a
// fresh P-256 key unless Key is given. The tls.Certificate holds the leaf and
// the intermediate, its private key, and Leaf.
func (c *CA) Leaf(t testing.TB, clientID string, opts ...LeafOption) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	req := ca.LeafRequest{ClientID: clientID, Lifetime: DefaultLifetime}
	for _, opt := range opts {
		opt(&req, &key)
	}
	if key == nil {
		key = newKey(t)
	}
	req.PublicKey = key.Public()
	leaf, err := c.Authority.IssueLeaf(req)
	if err != nil {
		t.Fatalf("catest: issue leaf for %s: %v", clientID, err)
	}
	return c.pair(leaf, key), leaf
}

// pair bundles a certificate issued by the intermediate with its key, and
// records its serial in c.Status.
func (c *CA) pair(leaf *x509.Certificate, key crypto.Signer) tls.Certificate {
	c.Status.Record(certs.SerialString(leaf.SerialNumber))
	return tls.Certificate{
		Certificate: [][]byte{leaf.Raw, c.Authority.Intermediate().Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
}

// ServerCertificate issues a server certificate for names (default
// "localhost", "127.0.0.1") through Authority.IssueServer, valid for a day.
func (c *CA) ServerCertificate(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1"}
	}
	cert, err := c.Authority.IssueServer(names, 24*time.Hour)
	if err != nil {
		t.Fatalf("catest: issue server certificate: %v", err)
	}
	return cert
}

// RootPool returns a pool holding only the CA's root, for clients.
func (c *CA) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Authority.Root())
	return p
}

// PeerCertificates parses cert's chain the way a TLS server would hand it
// over in tls.ConnectionState.PeerCertificates (leaf first, unverified).
func PeerCertificates(t testing.TB, cert tls.Certificate) []*x509.Certificate {
	t.Helper()
	out := make([]*x509.Certificate, 0, len(cert.Certificate))
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("catest: parse certificate: %v", err)
		}
		out = append(out, c)
	}
	return out
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		t.Fatalf("catest: generate key: %v", err)
	}
	return k
}
