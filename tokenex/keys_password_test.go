package tokenex_test

import (
	"context"
	"strings"
	"testing"

	"github.com/certbound/certbound/tokenex"
)

func TestSigningKeysEncryptedAtRestWithThePassphrase(t *testing.T) {
	ctx := context.Background()
	pw := []byte("correct horse battery staple")
	f := newFixture(t, func(c *tokenex.Config) { c.KeyPassword = pw })
	keys, err := f.db.SigningKeys(ctx, f.clock.Now())
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if !strings.Contains(keys[0].PrivatePEM, "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("signing key stored in clear:\n%s", keys[0].PrivatePEM[:40])
	}

	// Another process with the passphrase loads it and signs with the same kid.
	again, err := tokenex.New(ctx, tokenex.Config{Issuer: issuer, Store: f.db, Peers: f.ca.Authority, Now: f.clock.Now, KeyPassword: pw})
	if err != nil {
		t.Fatal(err)
	}
	if again.CurrentKeyID() != f.svc.CurrentKeyID() {
		t.Fatal("a restart with the passphrase made a new key")
	}
	// Without it, or with a wrong one, the server refuses to start.
	for name, bad := range map[string][]byte{"no passphrase": nil, "wrong passphrase": []byte("wrong")} {
		if _, err := tokenex.New(ctx, tokenex.Config{Issuer: issuer, Store: f.db, Peers: f.ca.Authority, Now: f.clock.Now, KeyPassword: bad}); err == nil {
			t.Fatalf("%s: the encrypted key loaded", name)
		} else if strings.Contains(err.Error(), string(pw)) {
			t.Fatal("the passphrase reached an error message")
		}
	}

	// A key stored in clear before a passphrase was set still loads; rotation
	// then stores the new key encrypted.
	plain := newFixture(t)
	withPw, err := tokenex.New(ctx, tokenex.Config{Issuer: issuer, Store: plain.db, Peers: plain.ca.Authority, Now: plain.clock.Now, KeyPassword: pw})
	if err != nil {
		t.Fatalf("plain key with a passphrase configured: %v", err)
	}
	if _, err := withPw.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ = plain.db.SigningKeys(ctx, plain.clock.Now())
	if !strings.Contains(keys[0].PrivatePEM, "ENCRYPTED PRIVATE KEY") || strings.Contains(keys[1].PrivatePEM, "ENCRYPTED") {
		t.Fatal("rotation did not encrypt the new key, or touched the old one")
	}
}
