package enrollclient

import (
	"context"
	"fmt"
	"time"
)

// Renew renews the identity in dir once, now, whatever its age (SPEC §7,
// `certbound renew`): it loads dir, generates a new key, sends a CSR for it to
// POST /v1/renew over mutual TLS with the current certificate, checks the
// answer against ca.pem and writes the new key and certificate in the
// crash-safe order of the package doc. The SPIFFE ID must stay the same, and
// the DNS names of the current certificate are requested again. An expired
// certificate cannot authenticate: Renew then returns ErrExpired without
// contacting the server.
func Renew(ctx context.Context, dir, server string) (*Identity, error) {
	base, err := parseServerURL(server)
	if err != nil {
		return nil, err
	}
	cur, err := Load(dir)
	if err != nil {
		return nil, err
	}
	return renew(ctx, cur, base, defaultTimeout, time.Now)
}

// renew is Renew for an already loaded identity; base is a checked server URL.
func renew(ctx context.Context, cur *Identity, base string, timeout time.Duration, now func() time.Time) (*Identity, error) {
	if !now().Before(cur.NotAfter) {
		return nil, fmt.Errorf("%w: at %s; enroll again", ErrExpired, cur.NotAfter.UTC().Format(time.RFC3339))
	}
	key, csrPEM, err := newKeyAndCSR(cur.Leaf().DNSNames)
	if err != nil {
		return nil, err
	}
	// Presents the current certificate and accepts only certbound's own
	// server certificate: a service's certificate never receives the CSR.
	client := newHTTPClient(certboundTLSConfig(func() *Identity { return cur }), timeout)
	defer closeClient(client)
	body, err := postCert(ctx, client, base+renewPath, certRequest{CSR: string(csrPEM)}, now())
	if err != nil {
		return nil, err
	}
	next, err := parseCertResponse(body, key, cur.RootCertificates, now())
	if err != nil {
		return nil, err
	}
	if next.ID != cur.ID {
		return nil, fmt.Errorf("%w: renewed certificate is for %s, not %s", ErrBadResponse, next.ID, cur.ID)
	}
	if err := write(cur.Dir, next); err != nil {
		return nil, err
	}
	next.Dir = cur.Dir
	return next, nil
}
