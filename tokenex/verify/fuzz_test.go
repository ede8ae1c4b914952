package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/certbound/certbound/tokenex/verify"
	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify: no input makes Verify panic, every refusal is an *Error, and
// anything accepted carries the claims the authorization server signed.
func FuzzVerify(f *testing.F) {
	as := newAuthServer(f, newECKey(f))
	clk := newClock()
	cert := newClientCert(f, "svc-a")
	v := newVerifier(f, as, clk, func(c *verify.Config) {
		c.AllowUnbound = true
		c.MinRefreshInterval = 1 << 62 // no refetches: keep the fuzzer off the network
	})
	good := as.mint(f, clk.Now(), cert.leaf)
	f.Add(good)
	f.Add(as.mint(f, clk.Now(), nil))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(good[:strings.LastIndexByte(good, '.')+1])
	none := as.newToken(clk.Now(), nil)
	none.header["alg"] = "none"
	f.Add(signWith(f, none, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType))
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	f.Add("e30.e30.e30")
	f.Add("...")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw, cert.leaf)
		if err != nil {
			var ve *verify.Error
			if !errors.As(err, &ve) || c != nil {
				t.Fatalf("Verify() = %v, %v: want nil claims and an *Error", c, err)
			}
			return
		}
		if c.Subject != "svc-a" || c.Issuer != as.URL() {
			t.Fatalf("accepted claims that were not signed: %+v", c)
		}
	})
}
