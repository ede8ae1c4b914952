package enrollclient

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
)

// Routes of the certbound server (SPEC §7).
const (
	rootsPath  = "/v1/roots"
	enrollPath = "/v1/enroll"
	renewPath  = "/v1/renew"
)

// defaultTimeout bounds one request when the caller's context has no deadline.
const defaultTimeout = 30 * time.Second

// maxResponseBody bounds a certificate response: three PEM fields of a few
// certificates each, far below this.
const maxResponseBody = 256 << 10

// parseServerURL checks that server is an absolute https URL and returns it
// without a trailing slash, ready for a route to be appended.
func parseServerURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %q", ErrInvalidServerURL, server)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// newHTTPClient returns a client whose connections use tc. Redirects are not
// followed: a request carrying a token or a CSR goes where it was sent or
// nowhere. Each call builds its own transport, so connections never leak
// between a differently configured client and this one.
func newHTTPClient(tc *tls.Config, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tc,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// closeClient releases the idle connections of a client built by newHTTPClient.
func closeClient(c *http.Client) { c.CloseIdleConnections() }

// certRequest is the body of POST /v1/enroll and POST /v1/renew. The token
// is revealed only into this struct, which is marshalled and sent at once.
type certRequest struct {
	Token string `json:"token,omitempty"`
	CSR   string `json:"csr"`
}

// certResponse is the 201 body of POST /v1/enroll and /v1/renew.
type certResponse struct {
	Certificate string `json:"certificate"`
	Chain       string `json:"chain"`
	CA          string `json:"ca"`
	Serial      string `json:"serial"`
	SPIFFEID    string `json:"spiffe_id"`
	NotAfter    string `json:"not_after"`
}

// postCert POSTs body as JSON and returns the raw 201 body, or a
// *ServerError for any other status.
func postCert(ctx context.Context, c *http.Client, endpoint string, body certRequest, now time.Time) ([]byte, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enrollclient: POST %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, decodeServerError(resp.StatusCode, resp.Header, errBody, now)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("enrollclient: POST %s: %w", req.URL.Path, err)
	}
	if len(data) > maxResponseBody {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrBadResponse, maxResponseBody)
	}
	return data, nil
}

// parseCertResponse decodes a certificate response and checks it against
// what the client knows: the leaf must certify key, chain to roots for
// client authentication, be valid now (client clock skew up to the leaf's
// back-dating is tolerated) and carry the SPIFFE ID the server names. The
// serial and not_after fields are informational; the certificate is the
// source of truth. The returned Identity has no Dir yet.
func parseCertResponse(data []byte, key crypto.Signer, roots []*x509.Certificate, now time.Time) (*Identity, error) {
	var r certResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	chain, err := certs.ParseCertificates([]byte(r.Chain))
	if err != nil {
		return nil, fmt.Errorf("%w: chain: %w", ErrBadResponse, err)
	}
	leaf, err := certs.ParseCertificate([]byte(r.Certificate))
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrBadResponse, err)
	}
	if !leaf.Equal(chain[0]) {
		return nil, fmt.Errorf("%w: chain does not start with the certificate", ErrBadResponse)
	}
	if !publicKeysEqual(key.Public(), leaf.PublicKey) {
		return nil, fmt.Errorf("%w: certificate is not for the key in the request", ErrBadResponse)
	}
	if !now.Before(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: certificate expired at %s", ErrBadResponse, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	id, err := newIdentity(key, chain, roots)
	if err != nil {
		return nil, err
	}
	if r.SPIFFEID != id.ID.String() {
		return nil, fmt.Errorf("%w: spiffe_id %q differs from the certificate's %s", ErrBadResponse, sanitize(r.SPIFFEID, 300), id.ID)
	}
	return id, nil
}
