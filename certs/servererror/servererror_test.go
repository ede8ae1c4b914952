package servererror_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/servererror"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"1e9", 0},
		{"999999999", time.Hour},
		{"Tue, 01 Jan 2030 00:00:30 GMT", 30 * time.Second},
		{"Tue, 01 Jan 2030 05:00:00 GMT", time.Hour},
		{"Mon, 31 Dec 2029 23:00:00 GMT", 0},
		{"soon", 0},
	} {
		if got := servererror.ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	h := http.Header{"Retry-After": {"3"}}
	r := servererror.Decode(429, h, []byte(`{"error":"rate_limited","error_description":"slow\u001b[31m down","error_uri":"https://x/\n"}`), time.Now())
	if r.Status != 429 || r.Code != "rate_limited" || r.Description != "slow[31m down" || r.URI != "https://x/" || r.RetryAfter != 3*time.Second {
		t.Fatalf("Decode = %+v", r)
	}
	r = servererror.Decode(502, http.Header{}, []byte("<html>bad gateway</html>"), time.Now())
	if r.Status != 502 || r.Code != "" || r.Description != "" || r.URI != "" {
		t.Fatalf("Decode(non-JSON) = %+v", r)
	}
	r = servererror.Decode(400, http.Header{}, []byte(`{"error_description":"`+strings.Repeat("é", 400)+strings.Repeat("a", 400)+`"}`), time.Now())
	if len(r.Description) != 256 {
		t.Fatalf("description of %d bytes, want the 256-byte cap", len(r.Description))
	}
}

// FuzzDecode: any error response decodes to bounded printable ASCII and a
// bounded wait.
func FuzzDecode(f *testing.F) {
	f.Add(400, []byte(`{"error":"invalid_request","error_description":"body must be JSON"}`), "")
	f.Add(429, []byte(`{"error":"rate_limited"}`), "120")
	f.Add(503, []byte(`not json`), "Tue, 01 Jan 2030 00:00:30 GMT")
	f.Add(401, []byte(`{"error":7}`), "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		r := servererror.Decode(status, http.Header{"Retry-After": {retryAfter}}, body, time.Now())
		for _, s := range []string{r.Code, r.Description, r.URI} {
			for _, c := range s {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("non-printable %q in %q", c, s)
				}
			}
		}
		if len(r.Code) > 64 || len(r.Description) > 256 || len(r.URI) > 256 {
			t.Fatalf("unbounded fields: %d, %d, %d", len(r.Code), len(r.Description), len(r.URI))
		}
		if r.RetryAfter < 0 || r.RetryAfter > servererror.MaxRetryAfter {
			t.Fatalf("RetryAfter = %s", r.RetryAfter)
		}
	})
}
