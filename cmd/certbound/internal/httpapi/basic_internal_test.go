package httpapi

import (
	"encoding/base64"
	"errors"
	"net/url"
	"testing"

	"github.com/certbound/certbound/tokenex"
)

func basicHeader(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// TestParseBasic: RFC 7617 framing, then RFC 6749 §2.3.1 form-url-decoding
// of both halves.
func TestParseBasic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		values   []string
		id, sec  string
		wantCode string // "" for accept
	}{
		{name: "accept/plain", values: []string{basicHeader("svc:cbs_abc")}, id: "svc", sec: "cbs_abc"},
		{name: "accept/scheme in any case", values: []string{"bAsIc " + base64.StdEncoding.EncodeToString([]byte("svc:s"))}, id: "svc", sec: "s"},
		{name: "accept/encoded colon in the id", values: []string{basicHeader("a%3Ab:s")}, id: "a:b", sec: "s"},
		{name: "accept/raw colon in the secret (split at the first)", values: []string{basicHeader("svc:a:b")}, id: "svc", sec: "a:b"},
		{name: "accept/plus is a space", values: []string{basicHeader("svc:a+b")}, id: "svc", sec: "a b"},
		{name: "accept/percent-encoded secret", values: []string{basicHeader("svc%2Bp:a%3Ab%2Bc%25")}, id: "svc+p", sec: "a:b+c%"},
		{name: "accept/empty secret", values: []string{basicHeader("svc:")}, id: "svc", sec: ""},
		{name: "reject/no colon", values: []string{basicHeader("svc")}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/not base64", values: []string{"Basic !!!"}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/base64url instead of base64", values: []string{"Basic " + base64.URLEncoding.EncodeToString([]byte("svc:a?>b"))}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/no payload", values: []string{"Basic"}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/two spaces", values: []string{"Basic  " + base64.StdEncoding.EncodeToString([]byte("svc:s"))}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/two Authorization headers", values: []string{basicHeader("svc:s"), basicHeader("svc:s")}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/another scheme", values: []string{"Bearer abc"}, wantCode: tokenex.CodeInvalidClient},
		{name: "reject/bad percent-encoding in the id", values: []string{basicHeader("svc%zz:s")}, wantCode: tokenex.CodeInvalidRequest},
		{name: "reject/bad percent-encoding in the secret", values: []string{basicHeader("svc:%")}, wantCode: tokenex.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBasic(tc.values)
			if tc.wantCode != "" {
				if code := classify(err).Code; err == nil || code != tc.wantCode {
					t.Fatalf("got %+v, %v (code %q), want %s", got, err, code, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ClientID != tc.id || got.Secret.Reveal() != tc.sec {
				t.Fatalf("got %q / %q, want %q / %q", got.ClientID, got.Secret.Reveal(), tc.id, tc.sec)
			}
		})
	}
}

// FuzzParseBasic: any header value is parsed without panicking, refusals
// are invalid_client or invalid_request, and whatever a client encodes the
// RFC 6749 way (golang.org/x/oauth2, tokenclient) comes back unchanged.
func FuzzParseBasic(f *testing.F) {
	f.Add("svc", "cbs_abc", basicHeader("svc:cbs_abc"))
	f.Add("a:b", "c d+e%", "Basic")
	f.Add("", "", "Basic Og==")
	f.Add("é", "\x00", "basic "+base64.StdEncoding.EncodeToString([]byte("%zz:%")))
	f.Fuzz(func(t *testing.T, id, sec, header string) {
		if _, err := parseBasic([]string{header}); err != nil {
			if code := classify(err).Code; code != tokenex.CodeInvalidClient && code != tokenex.CodeInvalidRequest {
				t.Fatalf("%q: code %q (%v)", header, code, err)
			}
			var ae *apiError
			var te *tokenex.Error
			if !errors.As(err, &ae) && !errors.As(err, &te) {
				t.Fatalf("%q: untyped error %v", header, err)
			}
		}
		got, err := parseBasic([]string{basicHeader(url.QueryEscape(id) + ":" + url.QueryEscape(sec))})
		if err != nil {
			t.Fatalf("%q / %q: %v", id, sec, err)
		}
		if got.ClientID != id || got.Secret.Reveal() != sec {
			t.Fatalf("round trip: %q / %q, want %q / %q", got.ClientID, got.Secret.Reveal(), id, sec)
		}
	})
}
