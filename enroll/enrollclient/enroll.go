package enrollclient

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
)

// Options configures Enroll. Server, Fingerprint, Token and Dir are required.
type Options struct {
	// Server is the certbound base URL, e.g. "https://ca.internal:8443".
	// It must be https.
	Server string
	// Fingerprint pins the root: the hex SHA-256 of its DER, as
	// `certbound serve` logs it. Case is ignored and colons are allowed.
	Fingerprint string
	// Token is the one-time enrollment token.
	Token secret.Secret
	// Dir receives key.pem, cert.pem and ca.pem. It is created with mode
	// 0700 if missing; an existing directory keeps its mode.
	Dir string
	// DNSNames are requested as DNS SANs. The server grants only names the
	// token allows (403 otherwise). Nil requests none.
	DNSNames []string
	// Overwrite allows replacing an identity already in Dir. The zero
	// value refuses with ErrExists before the token is sent, so a mistyped
	// directory cannot destroy a working identity.
	Overwrite bool
	// Timeout bounds each HTTP request. Zero means 30s.
	Timeout time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Enroll redeems a one-time token for a fresh identity and writes it to
// opts.Dir (SPEC §7). It generates an ECDSA P-256 key, which never leaves
// the process except into key.pem, fetches the server's roots without
// trusting anything, keeps the root whose fingerprint is pinned (refusing
// with ErrFingerprintMismatch, before the token is sent, if there is none),
// and only then sends the token and CSR over a connection verified against
// that root. A refusal by the server is a *ServerError; the token may then
// still be unspent (a bad CSR does not burn it).
func Enroll(ctx context.Context, opts Options) (*Identity, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	base, err := parseServerURL(opts.Server)
	if err != nil {
		return nil, err
	}
	pin, err := parseFingerprint(opts.Fingerprint)
	if err != nil {
		return nil, err
	}
	if opts.Token.IsZero() {
		return nil, errors.New("enrollclient: Options.Token is empty")
	}
	if opts.Dir == "" {
		return nil, errors.New("enrollclient: Options.Dir is empty")
	}
	if !opts.Overwrite {
		if err := checkNoIdentity(opts.Dir); err != nil {
			return nil, err
		}
	}
	root, err := fetchPinnedRoot(ctx, base, pin, opts.Timeout, opts.Now)
	if err != nil {
		return nil, err
	}
	key, csrPEM, err := newKeyAndCSR(opts.DNSNames)
	if err != nil {
		return nil, err
	}
	roots := []*x509.Certificate{root}
	client := newHTTPClient(pinnedClientConfig(root), opts.Timeout)
	defer closeClient(client)
	body, err := postCert(ctx, client, base+enrollPath, certRequest{Token: opts.Token.Reveal(), CSR: string(csrPEM)}, opts.Now())
	if err != nil {
		return nil, err
	}
	id, err := parseCertResponse(body, key, roots, opts.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("enrollclient: %w", err)
	}
	if err := write(opts.Dir, id); err != nil {
		return nil, err
	}
	id.Dir = opts.Dir
	return id, nil
}

// checkNoIdentity returns ErrExists if dir already holds a key or certificate.
func checkNoIdentity(dir string) error {
	for _, name := range []string{KeyFile, CertFile} {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err == nil {
			return fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, name))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("enrollclient: %w", err)
		}
	}
	return nil
}

// parseFingerprint turns "AB:cd:…" or "abcd…" into the 32-byte digest.
func parseFingerprint(s string) ([]byte, error) {
	clean := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, ErrInvalidFingerprint
	}
	return b, nil
}

// fetchPinnedRoot GETs the root bundle over a connection that verifies
// nothing (nothing is trusted yet, and nothing secret is sent on it) and
// returns the bundle's certificate whose SHA-256 equals pin.
func fetchPinnedRoot(ctx context.Context, base string, pin []byte, timeout time.Duration, now func() time.Time) (*x509.Certificate, error) {
	client := newHTTPClient(insecureBootstrapConfig(), timeout)
	defer closeClient(client)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+rootsPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pem-certificate-chain")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: GET %s: %w", rootsPath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, certs.MaxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("enrollclient: GET %s: %w", rootsPath, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeServerError(resp.StatusCode, resp.Header, body, now())
	}
	root, err := pinnedRoot(body, pin)
	if err != nil {
		return nil, err
	}
	if err := checkBootstrapPeer(resp.TLS, base, root, now()); err != nil {
		return nil, err
	}
	return root, nil
}

// pinnedRoot returns the CA certificate in bundle whose SHA-256 is pin. Every
// candidate is compared, in constant time, so the time taken does not depend
// on which one matched.
func pinnedRoot(bundle, pin []byte) (*x509.Certificate, error) {
	roots, err := certs.ParseCertificates(bundle)
	if err != nil {
		return nil, fmt.Errorf("%w: root bundle: %w", ErrBadResponse, err)
	}
	found := certs.FindPinned(roots, pin)
	if found == nil {
		got := make([]string, len(roots))
		for i, r := range roots {
			got[i] = certs.Fingerprint(r.Raw)
		}
		return nil, fmt.Errorf("%w: server offered %s", ErrFingerprintMismatch, strings.Join(got, ", "))
	}
	if !found.IsCA || found.CheckSignatureFrom(found) != nil {
		return nil, fmt.Errorf("%w: the pinned certificate is not a self-signed CA", ErrBadResponse)
	}
	return found, nil
}

// insecureBootstrapConfig is used for GET /v1/roots only: before the pinned
// root is known there is nothing to verify against. What arrives on this
// connection is trusted only after its fingerprint matches the pin.
func insecureBootstrapConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
}

// pinnedClientConfig trusts root and nothing else, and accepts only
// certbound's own server certificate (certs.VerifyServerConnection): a
// service's certificate from the same CA never receives the token.
func pinnedClientConfig(root *x509.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, VerifyConnection: certs.VerifyServerConnection}
}

// checkBootstrapPeer checks, once the pinned root is known, the certificate
// the server presented on the unverified bootstrap connection: it must chain
// to root for serverAuth and the host name of base, and be certbound's own
// server certificate. A service's certificate from the same CA, which could
// serve the genuine root bundle, is refused here, before the token exists on
// any connection.
func checkBootstrapPeer(cs *tls.ConnectionState, base string, root *x509.Certificate, now time.Time) error {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrUntrustedChain)
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidServerURL, base)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: u.Hostname(), Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("%w: the server's certificate: %w", ErrUntrustedChain, err)
	}
	return certs.CheckServerCertificate(leaf)
}

// newKeyAndCSR generates an ECDSA P-256 key and a CSR for it. The CSR's
// subject is empty: the server decides the identity and takes only the
// public key and the requested DNS names.
func newKeyAndCSR(dnsNames []string) (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("enrollclient: generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: dnsNames}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("enrollclient: create CSR: %w", err)
	}
	return key, certs.EncodeCSR(der), nil
}
