package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
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

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
)

// adminFlags are the flags every admin command shares (SPEC §12).
type adminFlags struct {
	server      string
	dataDir     string
	keyFile     string
	rootFile    string
	fingerprint string
	json        bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "https://localhost:8443", "certbound server URL (https only)")
	fl.StringVar(&f.dataDir, "data-dir", "./certbound-data", "the server's data dir (for the default --admin-key-file and --root)")
	fl.StringVar(&f.keyFile, "admin-key-file", "", "admin key file (default <data-dir>/admin.key; or set CERTBOUND_ADMIN_KEY)")
	fl.StringVar(&f.rootFile, "root", "", "root CA certificate to trust (default: fetched from the server and checked against --fingerprint if that is set, else <data-dir>/ca/root.crt)")
	fl.StringVar(&f.fingerprint, "fingerprint", "", "SHA-256 fingerprint (hex) of the server's root: fetch the root from the server and trust it only if it matches, before the admin key is sent")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs")
}

// client builds the admin API client. The server is trusted through the
// root certificate only (--root, or the root the server presents when its
// SHA-256 is the pinned --fingerprint, or the one in the data dir);
// verification is never skipped for a request that carries the key.
func (f *adminFlags) client(ctx context.Context) (*adminClient, error) {
	base, err := serverURL(f.server)
	if err != nil {
		return nil, err
	}
	key, err := f.adminKey()
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	switch {
	case f.rootFile == "" && f.fingerprint != "":
		root, err := fetchPinnedRoot(ctx, base, f.fingerprint)
		if err != nil {
			return nil, err
		}
		hc = httpClientTrustingRoots([]*x509.Certificate{root}, nil)
	default:
		root := f.rootFile
		if root == "" {
			root = filepath.Join(f.dataDir, server.CADir, "root.crt")
			if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no root certificate to trust the server with: %s does not exist.\n"+
					"Pass --fingerprint <root SHA-256> (root_fingerprint_sha256 in the server's start log) to fetch and check it from the server, "+
					"--root <file> with the server's ca/root.crt, or --data-dir <the server's data dir>", root)
			}
		}
		hc, err = httpClientTrusting(root, nil)
		if err != nil {
			return nil, err
		}
	}
	return &adminClient{base: base, key: key, http: hc}, nil
}

func (f *adminFlags) adminKey() (secret.Secret, error) {
	if f.keyFile == "" {
		if v := os.Getenv("CERTBOUND_ADMIN_KEY"); v != "" {
			return secret.FromString(strings.TrimSpace(v)), nil
		}
		f.keyFile = filepath.Join(f.dataDir, server.AdminKeyFile)
		if _, err := os.Stat(f.keyFile); errors.Is(err, fs.ErrNotExist) {
			return secret.Secret{}, fmt.Errorf("no admin key: %s does not exist.\n"+
				"Run from the directory that holds the server's data dir, or pass --data-dir <dir>, "+
				"--admin-key-file <file>, or set CERTBOUND_ADMIN_KEY", f.keyFile)
		}
	}
	k, err := server.ReadAdminKey(f.keyFile)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("admin key: %w", err)
	}
	return k, nil
}

// serverURL checks a --server value and returns it without a trailing
// slash. certbound speaks HTTPS only: an http:// URL would reach the TLS
// listener as plain text and get a bare 400, so it is refused here, before
// anything is sent.
func serverURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err == nil && strings.EqualFold(u.Scheme, "http") {
		u.Scheme = "https"
		return "", fmt.Errorf("--server %s: certbound speaks HTTPS only; use %s", s, u.String())
	}
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--server %q: want an https URL such as https://localhost:8443", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// errFingerprintMismatch says where to find the right fingerprint, and
// deliberately not what the server presented: a user would copy it.
var errFingerprintMismatch = errors.New("the server's root does not have the pinned --fingerprint; nothing secret was sent.\n" +
	"Take the fingerprint from a source you trust: root_fingerprint_sha256 in the server's start log, " +
	"`certbound ca fingerprint --data-dir <dir>` on the server host, or there " +
	"`openssl x509 -in <data-dir>/ca/root.crt -outform DER | sha256sum`")

// parseFingerprint reads a hex SHA-256 (colons allowed).
func parseFingerprint(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, errors.New("--fingerprint must be the hex SHA-256 of the root certificate (64 hex digits)")
	}
	return b, nil
}

// fetchPinnedRoot gets the server's root bundle over a connection that
// verifies nothing (nothing secret is sent on it) and returns the bundle's
// self-signed CA certificate whose SHA-256 is the pin.
func fetchPinnedRoot(ctx context.Context, base, fingerprint string) (*x509.Certificate, error) {
	pin, err := parseFingerprint(fingerprint)
	if err != nil {
		return nil, err
	}
	// Nothing is trusted yet; what arrives is trusted only if it matches the pin.
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/roots", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the root: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch the root: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the root: GET /v1/roots answered %d", resp.StatusCode)
	}
	roots, err := certs.ParseCertificates(body)
	if err != nil {
		return nil, fmt.Errorf("fetch the root: %w", err)
	}
	found := certs.FindPinned(roots, pin)
	if found == nil {
		return nil, errFingerprintMismatch
	}
	if !found.IsCA || found.CheckSignatureFrom(found) != nil {
		return nil, errors.New("the certificate with the pinned fingerprint is not a self-signed CA")
	}
	return found, nil
}

// httpClientTrusting returns an HTTPS client that trusts only the roots in
// rootFile, accepts only certbound's own server certificate (a service's
// certificate from the same CA is refused at the handshake, before the admin
// key is sent: certs.VerifyServerConnection) and, if cert is given, presents it.
func httpClientTrusting(rootFile string, cert *tls.Certificate) (*http.Client, error) {
	pemBytes, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	roots, err := certs.ParseCertificates(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("root certificate %s: %w", rootFile, err)
	}
	return httpClientTrustingRoots(roots, cert), nil
}

// httpClientTrustingRoots returns an HTTPS client that trusts only roots
// and, if cert is given, presents it.
func httpClientTrustingRoots(roots []*x509.Certificate, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, VerifyConnection: certs.VerifyServerConnection}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

// adminClient speaks the admin API.
type adminClient struct {
	base string
	key  secret.Secret
	http *http.Client
}

// apiError is an error response from the server.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s (%d %s)", e.Description, e.Status, e.Code)
	}
	return fmt.Sprintf("server answered %d %s", e.Status, e.Code)
}

// do sends body (JSON, when not nil) and decodes a 2xx response into out.
func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key.Reveal())
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
