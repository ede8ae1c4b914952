package tokenclient

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/servererror"
)

func newTestSource(t testing.TB, early time.Duration) *Source {
	t.Helper()
	s, err := New(Config{TokenURL: "https://localhost:8443/oauth2/token", ClientID: "svc-a", EarlyExpiry: early})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecodeToken(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		body      string
		early     time.Duration
		wantErr   error
		refreshAt time.Duration // after start
	}{
		{"accept/number", `{"access_token":"a","token_type":"Bearer","expires_in":3600}`, 0, nil, 3540 * time.Second},
		{"accept/lower-case-bearer", `{"access_token":"a","token_type":"bearer","expires_in":100}`, 0, nil, 90 * time.Second},
		{"accept/string-expires-in", `{"access_token":"a","token_type":"Bearer","expires_in":"100"}`, 0, nil, 90 * time.Second},
		{"accept/early-longer-than-life", `{"access_token":"a","token_type":"Bearer","expires_in":10}`, time.Hour, nil, 0},
		{"accept/negative-early-means-at-expiry", `{"access_token":"a","token_type":"Bearer","expires_in":10}`, -1, nil, 10 * time.Second},
		{"reject/no-token", `{"token_type":"Bearer","expires_in":10}`, 0, ErrBadResponse, 0},
		{"reject/mac-token", `{"access_token":"a","token_type":"mac","expires_in":10}`, 0, ErrUnsupportedTokenType, 0},
		{"reject/zero-expires-in", `{"access_token":"a","token_type":"Bearer","expires_in":0}`, 0, ErrBadResponse, 0},
		{"reject/fractional-expires-in", `{"access_token":"a","token_type":"Bearer","expires_in":1.5}`, 0, ErrBadResponse, 0},
		{"reject/array", `[]`, 0, ErrBadResponse, 0},
	}
	for _, tt := range tests {
		e, err := newTestSource(t, tt.early).decodeToken([]byte(tt.body), start)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && !e.refreshAt.Equal(start.Add(tt.refreshAt)) {
			t.Errorf("%s: refreshAt = start + %s, want + %s", tt.name, e.refreshAt.Sub(start), tt.refreshAt)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]error{
		"invalid_request":        ErrInvalidRequest,
		"invalid_client":         ErrInvalidClient,
		"invalid_grant":          ErrInvalidGrant,
		"unauthorized_client":    ErrUnauthorizedClient,
		"unsupported_grant_type": ErrUnsupportedGrantType,
		"invalid_scope":          ErrInvalidScope,
		"invalid_target":         ErrInvalidTarget,
	} {
		if err := error(&Error{Status: 400, Code: code}); !errors.Is(err, want) {
			t.Errorf("%s does not match %v", code, want)
		}
	}
	if err := error(&Error{Status: 400, Code: "something_else"}); errors.Is(err, ErrInvalidRequest) {
		t.Errorf("an unknown code matched ErrInvalidRequest")
	}
}

// FuzzDecodeToken: a 200 body either yields a Bearer token with a positive
// lifetime or an error, never a panic; and errors never quote the body.
func FuzzDecodeToken(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","token_type":"Bearer","expires_in":3600,"scope":"x"}`))
	f.Add([]byte(`{"access_token":"a","token_type":"DPoP","expires_in":"60"}`))
	f.Add([]byte(`{"access_token":"","expires_in":-1}`))
	f.Add([]byte(`null`))
	s := newTestSource(f, 0)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := s.decodeToken(body, start)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrUnsupportedTokenType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if e.token.AccessToken == "" || e.token.TokenType != "Bearer" || !e.token.Expiry.After(start) || e.refreshAt.After(e.token.Expiry) {
			t.Fatalf("accepted an unusable token: %+v", e)
		}
	})
}

// FuzzDecodeError: any error response decodes to bounded printable ASCII.
func FuzzDecodeError(f *testing.F) {
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"client authentication failed"}`), "")
	f.Add(429, []byte(`{"error":"rate_limited"}`), "5")
	f.Add(502, []byte(`<html>`), "Tue, 01 Jan 2030 00:00:30 GMT")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		e := decodeError(status, http.Header{"Retry-After": {retryAfter}}, body, time.Now())
		for _, s := range []string{e.Code, e.Description, e.URI, e.Error()} {
			for _, r := range s {
				if r < 0x20 || r > 0x7e {
					t.Fatalf("non-printable %q in %q", r, s)
				}
			}
		}
		if e.RetryAfter < 0 || e.RetryAfter > servererror.MaxRetryAfter {
			t.Fatalf("RetryAfter = %s", e.RetryAfter)
		}
	})
}
