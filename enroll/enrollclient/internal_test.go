package enrollclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/servererror"
)

func TestRenewalTime(t *testing.T) {
	t.Parallel()
	nb := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	id := &Identity{NotBefore: nb, NotAfter: nb.Add(24 * time.Hour)}
	life := 24 * time.Hour
	tests := []struct {
		name   string
		jitter float64 // RenewerConfig.Jitter as given
		lo, hi time.Duration
	}{
		{"accept/default-5-percent", 0, life*2/3 - life/20, life*2/3 + life/20},
		{"accept/jitter-off", -1, life * 2 / 3, life * 2 / 3},
		{"accept/huge-jitter-capped-before-expiry", 5, life*2/3 - life*3/10, life*2/3 + life*3/10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newTestRenewer(RenewerConfig{Jitter: tt.jitter})
			if err != nil {
				t.Fatal(err)
			}
			spread := map[time.Time]bool{}
			for range 500 {
				at := r.renewalTime(id)
				if d := at.Sub(nb); d < tt.lo || d > tt.hi {
					t.Fatalf("renewalTime = NotBefore + %s, want within [%s, %s]", d, tt.lo, tt.hi)
				}
				if !at.Before(id.NotAfter) {
					t.Fatalf("renewalTime %s is not before NotAfter", at)
				}
				spread[at] = true
			}
			if tt.lo != tt.hi && len(spread) < 400 {
				t.Errorf("only %d distinct renewal times in 500 draws; jitter is not random", len(spread))
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	long := &Identity{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	soon := &Identity{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * time.Second)}
	expired := &Identity{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(-time.Second)}
	plain := errors.New("connection refused")
	limited := &ServerError{Status: http.StatusTooManyRequests, RetryAfter: 90 * time.Second}
	tests := []struct {
		name     string
		id       *Identity
		failures int
		err      error
		want     time.Duration
	}{
		{"accept/first-failure-waits-retry-min", long, 1, plain, time.Second},
		{"accept/doubles", long, 4, plain, 8 * time.Second},
		{"accept/capped-at-retry-max", long, 20, plain, 5 * time.Minute},
		{"accept/no-overflow", long, 1000, plain, 5 * time.Minute},
		{"accept/faster-near-expiry", soon, 10, plain, 5 * time.Second},
		{"accept/retry-min-is-a-floor", soon, 1, plain, time.Second},
		{"accept/retry-after-wins", long, 1, limited, 90 * time.Second},
		{"accept/retry-after-wins-near-expiry", soon, 1, limited, 90 * time.Second},
		{"accept/expired-backs-off-to-max", expired, 20, plain, 5 * time.Minute},
	}
	r, err := newTestRenewer(RenewerConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := r.retryDelay(tt.id, tt.failures, tt.err); got != tt.want {
			t.Errorf("%s: retryDelay(%d) = %s, want %s", tt.name, tt.failures, got, tt.want)
		}
	}
}

// newTestRenewer builds a Renewer without a directory, for the schedule math.
func newTestRenewer(cfg RenewerConfig) (*Renewer, error) {
	cfg.Dir, cfg.Server = "unused", "https://localhost:8443"
	return newRenewer(cfg)
}

func TestParseFingerprint(t *testing.T) {
	t.Parallel()
	const hex = "a4e0ed2f626650c840b2f263e6d2b29fae12ab39ae5db32b25ad27efad72e6fd"
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"accept/lower", hex, nil},
		{"accept/upper", strings.ToUpper(hex), nil},
		{"accept/colons", colons(hex), nil},
		{"accept/surrounding-space", " " + hex + "\n", nil},
		{"reject/short", hex[:62], ErrInvalidFingerprint},
		{"reject/long", hex + "00", ErrInvalidFingerprint},
		{"reject/not-hex", "z" + hex[1:], ErrInvalidFingerprint},
		{"reject/sha1-length", hex[:40], ErrInvalidFingerprint},
		{"reject/empty", "", ErrInvalidFingerprint},
	}
	for _, tt := range tests {
		if _, err := parseFingerprint(tt.in); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: parseFingerprint error = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}

func colons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String()
}

func TestDecodeServerError(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"3"}}
	e := decodeServerError(429, h, []byte(`{"error":"rate_limited","error_description":"slow\u001b[31m down"}`), time.Now())
	if e.Status != 429 || e.Code != "rate_limited" || e.Description != "slow[31m down" || e.RetryAfter != 3*time.Second {
		t.Fatalf("decodeServerError = %+v", e)
	}
	e = decodeServerError(502, http.Header{}, []byte("<html>bad gateway</html>"), time.Now())
	if e.Status != 502 || e.Code != "" || e.Description != "" {
		t.Fatalf("decodeServerError(non-JSON) = %+v", e)
	}
}

// FuzzDecodeServerError: any error body decodes without panicking into
// printable ASCII of bounded length.
func FuzzDecodeServerError(f *testing.F) {
	f.Add(400, []byte(`{"error":"invalid_request","error_description":"body must be JSON"}`), "")
	f.Add(429, []byte(`{"error":"rate_limited"}`), "120")
	f.Add(503, []byte(`not json`), "Tue, 01 Jan 2030 00:00:30 GMT")
	f.Add(401, []byte(`{"error":7}`), "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		e := decodeServerError(status, http.Header{"Retry-After": {retryAfter}}, body, time.Now())
		for _, s := range []string{e.Code, e.Description, e.Error()} {
			for _, r := range s {
				if r < 0x20 || r > 0x7e {
					t.Fatalf("non-printable %q in %q", r, s)
				}
			}
		}
		if len(e.Code) > 64 || len(e.Description) > 256 {
			t.Fatalf("unbounded fields: %d, %d", len(e.Code), len(e.Description))
		}
		if e.RetryAfter < 0 || e.RetryAfter > servererror.MaxRetryAfter {
			t.Fatalf("RetryAfter = %s", e.RetryAfter)
		}
	})
}

// FuzzParseCertResponse: no response body is accepted unless it certifies
// the key the client generated.
func FuzzParseCertResponse(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"certificate":"","chain":"","ca":"","serial":"01","spiffe_id":"spiffe://certbound.local/a","not_after":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"certificate":"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := parseCertResponse(body, key, nil, time.Now())
		if err == nil {
			t.Fatalf("accepted a response for a key nobody certified: %+v", id)
		}
	})
}

// FuzzPinnedRoot: a bundle is accepted only if it holds the pinned root.
func FuzzPinnedRoot(f *testing.F) {
	pin := make([]byte, 32)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, bundle []byte) {
		if c, err := pinnedRoot(bundle, pin); err == nil {
			t.Fatalf("accepted %v for an all-zero pin", c.Subject)
		}
	})
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	r, err := newTestRenewer(RenewerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r.running.Store(true) // as if another Run were active
	if err := r.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Fatalf("Run = %v, want ErrRunning", err)
	}
}
