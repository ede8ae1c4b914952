package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// maxDocumentBytes bounds the metadata and JWKS documents read from the
// network. certbound's JWKS is a few hundred bytes per key.
const maxDocumentBytes = 1 << 20

// fetchTimeout bounds every metadata and JWKS request, whatever the HTTP
// client and the caller's context allow, so that a stalled authorization
// server cannot hold the fetch lock (and every unknown-kid lookup) for long.
const fetchTimeout = 10 * time.Second

// keySet is the issuer's JWKS, cached. Lookups are lock-free; fetches are
// serialised by sem and rate limited by minRefresh.
type keySet struct {
	url          string
	client       *http.Client
	now          func() time.Time
	refreshEvery time.Duration
	minRefresh   time.Duration

	current atomic.Pointer[keySnapshot] // never nil after newKeySet

	// sem has capacity one; whoever holds it may fetch and may read or write
	// lastAttempt.
	sem         chan struct{}
	lastAttempt time.Time // guarded by sem
}

// keySnapshot is one fetched JWKS; it is never modified once stored.
type keySnapshot struct {
	keys      map[string]publicKey
	fetchedAt time.Time
}

// newKeySet fetches the JWKS at jwksURL, or fails.
func newKeySet(ctx context.Context, jwksURL string, cfg Config) (*keySet, error) {
	ks := &keySet{
		url:          jwksURL,
		client:       cfg.HTTPClient,
		now:          cfg.Now,
		refreshEvery: cfg.RefreshInterval,
		minRefresh:   cfg.MinRefreshInterval,
		sem:          make(chan struct{}, 1),
	}
	ks.sem <- struct{}{}
	defer func() { <-ks.sem }()
	if err := ks.fetchLocked(ctx); err != nil {
		return nil, err
	}
	return ks, nil
}

// lookup returns the key named kid. An unknown kid triggers one fetch, unless
// the last one was less than minRefresh ago; a known key whose snapshot is
// older than refreshEvery triggers a refresh in the background.
func (ks *keySet) lookup(ctx context.Context, kid string) (publicKey, *Error) {
	snap := ks.current.Load()
	if k, ok := snap.keys[kid]; ok {
		if ks.now().Sub(snap.fetchedAt) >= ks.refreshEvery {
			ks.refreshInBackground(ctx)
		}
		return k, nil
	}
	select {
	case ks.sem <- struct{}{}:
	case <-ctx.Done():
		return publicKey{}, invalidToken(ErrUnknownKey, ctx.Err())
	}
	defer func() { <-ks.sem }()
	// Another caller may have fetched while this one waited.
	if k, ok := ks.current.Load().keys[kid]; ok {
		return k, nil
	}
	if ks.now().Sub(ks.lastAttempt) < ks.minRefresh {
		return publicKey{}, invalidToken(ErrUnknownKey, errRateLimited)
	}
	if err := ks.fetchLocked(ctx); err != nil {
		return publicKey{}, invalidToken(ErrUnknownKey, err)
	}
	if k, ok := ks.current.Load().keys[kid]; ok {
		return k, nil
	}
	return publicKey{}, invalidToken(ErrUnknownKey, nil)
}

// refreshInBackground starts a fetch unless one is running or the last
// attempt was less than minRefresh ago. The fetch runs in its own goroutine,
// which ends within fetchTimeout, so the request that noticed the stale keys
// does not wait for it. It keeps ctx's values but not its cancellation.
func (ks *keySet) refreshInBackground(ctx context.Context) {
	select {
	case ks.sem <- struct{}{}:
	default:
		return // a fetch is already running
	}
	now := ks.now()
	if now.Sub(ks.lastAttempt) < ks.minRefresh || now.Sub(ks.current.Load().fetchedAt) < ks.refreshEvery {
		<-ks.sem
		return
	}
	go func() {
		defer func() { <-ks.sem }()
		// A failure keeps the current keys; the next stale lookup after
		// minRefresh tries again.
		_ = ks.fetchLocked(context.WithoutCancel(ctx))
	}()
}

// fetchLocked fetches and parses the JWKS and, if it holds a usable key,
// replaces the current snapshot. The caller holds sem.
func (ks *keySet) fetchLocked(ctx context.Context) error {
	now := ks.now()
	ks.lastAttempt = now
	body, err := fetch(ctx, ks.client, ks.url)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJWKS, ks.url, err)
	}
	ks.current.Store(&keySnapshot{keys: keys, fetchedAt: now})
	return nil
}

// metadata is the part of the RFC 8414 authorization server metadata the
// verifier uses.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discoverJWKS fetches the issuer's RFC 8414 metadata and returns its
// jwks_uri, after checking that its "issuer" is byte-identical to issuer
// (RFC 8414 §3.3), which stops a metadata document of one server from
// vouching for another.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	var body []byte
	var err error
	for _, u := range metadataURLs(issuer) {
		if body, err = fetch(ctx, client, u); !errors.Is(err, errNotFound) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	var md metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return "", fmt.Errorf("%w: not a JSON object", ErrMetadata)
	}
	if md.Issuer != issuer {
		return "", fmt.Errorf("%w: issuer is %q, want %q", ErrMetadata, md.Issuer, issuer)
	}
	if err := checkHTTPS(md.JWKSURI, true); err != nil {
		return "", fmt.Errorf("%w: jwks_uri %w", ErrMetadata, err)
	}
	return md.JWKSURI, nil
}

// metadataURLs returns where the metadata of issuer may live. RFC 8414 §3.1
// inserts the well-known path between host and path; for an issuer with a
// path, the form that appends it (as OpenID Connect Discovery does) is tried
// second. For an issuer without a path both are the same URL.
func metadataURLs(issuer string) []string {
	const wellKnown = "/.well-known/oauth-authorization-server"
	u, err := url.Parse(issuer)
	if err != nil {
		return nil // New has checked the issuer already
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		u.Path, u.RawPath = wellKnown, ""
		return []string{u.String()}
	}
	rfc := *u
	rfc.Path, rfc.RawPath = "", ""
	return []string{
		rfc.String() + wellKnown + path,
		strings.TrimSuffix(issuer, "/") + wellKnown,
	}
}

var (
	errNotFound    = errors.New("404 Not Found")
	errRateLimited = errors.New("JWKS refetch skipped: the last fetch was less than MinRefreshInterval ago")
)

// fetch GETs a JSON document of at most maxDocumentBytes with status 200,
// within fetchTimeout.
func fetch(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w", u, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocumentBytes)
	}
	return body, nil
}
