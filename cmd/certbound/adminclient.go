package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	server   string
	dataDir  string
	keyFile  string
	rootFile string
	json     bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "https://localhost:8443", "certbound server URL")
	fl.StringVar(&f.dataDir, "data-dir", "./certbound-data", "the server's data dir (for the default --admin-key-file and --root)")
	fl.StringVar(&f.keyFile, "admin-key-file", "", "admin key file (default <data-dir>/admin.key; or set CERTBOUND_ADMIN_KEY)")
	fl.StringVar(&f.rootFile, "root", "", "root CA certificate to trust (default <data-dir>/ca/root.crt)")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs")
}

// client builds the admin API client. The server is trusted through the
// root certificate only; verification is never skipped.
func (f *adminFlags) client() (*adminClient, error) {
	key, err := f.adminKey()
	if err != nil {
		return nil, err
	}
	root := f.rootFile
	if root == "" {
		root = filepath.Join(f.dataDir, server.CADir, "root.crt")
	}
	hc, err := httpClientTrusting(root, nil)
	if err != nil {
		return nil, err
	}
	return &adminClient{base: strings.TrimRight(f.server, "/"), key: key, http: hc}, nil
}

func (f *adminFlags) adminKey() (secret.Secret, error) {
	if f.keyFile == "" {
		if v := os.Getenv("CERTBOUND_ADMIN_KEY"); v != "" {
			return secret.FromString(strings.TrimSpace(v)), nil
		}
		f.keyFile = filepath.Join(f.dataDir, server.AdminKeyFile)
	}
	k, err := server.ReadAdminKey(f.keyFile)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("admin key: %w", err)
	}
	return k, nil
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
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, VerifyConnection: certs.VerifyServerConnection}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}, nil
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
