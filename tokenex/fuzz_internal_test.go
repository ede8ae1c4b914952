package tokenex

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", " ", "a", "event.read event.create", "  a  b a ", `a"b`, `a\b`, "a\tb", "é", "\x00", strings.Repeat("a ", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, ok := parseScope(s)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, tok := range tokens {
			if !validScopeToken(tok) || seen[tok] || !strings.Contains(" "+s+" ", " "+tok+" ") {
				t.Fatalf("parseScope(%q) = %q: bad token %q", s, tokens, tok)
			}
			seen[tok] = true
		}
		again, ok := parseScope(strings.Join(tokens, " "))
		if !ok || strings.Join(again, " ") != strings.Join(tokens, " ") {
			t.Fatalf("parseScope is not idempotent on %q", s)
		}
		// What registration accepts, the token endpoint accepts back.
		if len(tokens) > 0 {
			if got, err := grantScopes(tokens, s); err != nil || strings.Join(got, " ") != strings.Join(tokens, " ") {
				t.Fatalf("grantScopes(%q) = %q, %v", s, got, err)
			}
		}
	})
}

func fuzzCert(f *testing.F) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		f.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// FuzzParseSelfSigned feeds self_signed_certificates PEM and "jwks"
// documents from the network: never a panic, and on success every
// certificate is returned once, with its key accepted and unexpired.
func FuzzParseSelfSigned(f *testing.F) {
	c := fuzzCert(f)
	pemText := string(certs.EncodeCertificates(c))
	x5c := base64.StdEncoding.EncodeToString(c.Raw)
	pt, _ := c.PublicKey.(*ecdsa.PublicKey).Bytes()
	x, y := base64.RawURLEncoding.EncodeToString(pt[1:33]), base64.RawURLEncoding.EncodeToString(pt[33:])
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `","x5c":["` + x5c + `"]}]}`
	f.Add(pemText, jwks)
	f.Add(pemText+pemText, "")
	f.Add("", `{"keys":[]}`)
	f.Add("", `{"keys":[{"kty":"EC","x5c":["`+x5c+`"]}]}`)
	f.Add("", `{"keys":[{"kty":"oct","k":"AAAA","x5c":["`+x5c+`"]}]}`)
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `null`)
	now := time.Now()
	f.Fuzz(func(t *testing.T, pemText, jwks string) {
		var pems []string
		if pemText != "" {
			pems = []string{pemText}
		}
		list, err := parseSelfSigned(pems, []byte(jwks), now)
		if err != nil {
			if !errors.Is(err, ErrInvalidClientMetadata) {
				t.Fatalf("error %v is not invalid_client_metadata", err)
			}
			return
		}
		if len(list) > maxSelfSigned {
			t.Fatalf("%d certificates", len(list))
		}
		thumbs, stored := encodeSelfSigned(list)
		seen := map[string]bool{}
		for i, c := range list {
			if seen[thumbs[i]] || certs.CheckPublicKey(c.PublicKey) != nil || !now.Before(c.NotAfter) {
				t.Fatalf("certificate %d accepted against the rules", i)
			}
			seen[thumbs[i]] = true
		}
		if got := decodeSelfSigned(stored); len(got) != len(list) {
			t.Fatalf("stored PEM gives %d certificates back, want %d", len(got), len(list))
		}
	})
}
