package tokenex_test

import (
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/tokenex"
)

// TestRotationWithActivationDelay: with a delay, the new key is published at
// once by the rotating service and by another one (a second replica) after
// its Reload, while both go on signing with the old key; from the
// activation time on both sign with the new key — without a Reload, a
// request or a timer, since the key set is re-evaluated against the clock.
func TestRotationWithActivationDelay(t *testing.T) {
	const delay = 90 * time.Second
	f := newFixture(t, func(c *tokenex.Config) { c.ActivationDelay = delay })
	ctx := t.Context()
	replica, err := tokenex.New(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, sec := f.register(t, tokenex.ClientSpec{ClientID: "svc-d", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	sign := func(svc *tokenex.Service) string {
		t.Helper()
		tok, err := svc.IssueToken(ctx, cc(basic("svc-d", sec)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyJWT(t, svc.JWKS(), tok.AccessToken.Reveal(), "event", f.clock.Now()); err != nil {
			t.Fatalf("a token does not verify with its own issuer's JWKS: %v", err)
		}
		return tok.KeyID
	}

	oldKID := f.svc.CurrentKeyID()
	rotatedAt := f.clock.Now()
	rot, err := f.svc.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rot.ActiveAt.Equal(rotatedAt.Add(delay)) {
		t.Fatalf("ActiveAt = %v, want rotation time + %v", rot.ActiveAt, delay)
	}
	if err := replica.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, delay / 2, delay - time.Second} {
		f.clock.Set(rotatedAt.Add(at))
		for name, svc := range map[string]*tokenex.Service{"rotating": f.svc, "replica": replica} {
			if got := kids(t, svc.JWKS()); !slices.Equal(got, []string{oldKID, rot.KID}) {
				t.Errorf("%s at +%v: JWKS %v, want the signing key then the pending one [%s %s]", name, at, got, oldKID, rot.KID)
			}
			if kid := sign(svc); kid != oldKID {
				t.Errorf("%s at +%v signed with %s before the activation; want the old key %s", name, at, kid, oldKID)
			}
		}
	}
	f.clock.Set(rot.ActiveAt)
	for name, svc := range map[string]*tokenex.Service{"rotating": f.svc, "replica": replica} {
		if kid := sign(svc); kid != rot.KID {
			t.Errorf("%s at the activation signed with %s, want the new key %s", name, kid, rot.KID)
		}
		if svc.CurrentKeyID() != rot.KID {
			t.Errorf("%s: CurrentKeyID = %s", name, svc.CurrentKeyID())
		}
		if got := kids(t, svc.JWKS()); !slices.Equal(got, []string{rot.KID, oldKID}) {
			t.Errorf("%s after the activation: JWKS %v, want [new old]", name, got)
		}
	}
	// The old key stays published for MaxTokenTTL + ClockSkew after its
	// retirement, counted from the activation, not from the rotation.
	f.clock.Set(rot.ActiveAt.Add(tokenex.MaxTokenTTL + tokenex.ClockSkew - time.Second))
	if got := kids(t, f.svc.JWKS()); !slices.Contains(got, oldKID) {
		t.Errorf("the old key left the JWKS before its last token could expire: %v", got)
	}
	f.clock.Set(rot.ActiveAt.Add(tokenex.MaxTokenTTL + tokenex.ClockSkew))
	if got := kids(t, f.svc.JWKS()); !slices.Equal(got, []string{rot.KID}) {
		t.Errorf("JWKS after the old key's publication ended: %v", got)
	}
}

// TestRotationsWithinTheDelay: a second rotation before the first key
// activated shortens the first one's turn to its own delay; no key signs
// before its activation and one always signs.
func TestRotationsWithinTheDelay(t *testing.T) {
	const delay = 90 * time.Second
	f := newFixture(t, func(c *tokenex.Config) { c.ActivationDelay = delay })
	ctx := t.Context()
	k0 := f.svc.CurrentKeyID()
	start := f.clock.Now()
	r1, err := f.svc.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	r2, err := f.svc.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Duration
		want string
	}{
		{10 * time.Second, k0}, {delay - time.Second, k0}, {delay, r1.KID}, {delay + 9*time.Second, r1.KID}, {delay + 10*time.Second, r2.KID},
	} {
		f.clock.Set(start.Add(tt.at))
		if got := f.svc.CurrentKeyID(); got != tt.want {
			t.Errorf("at +%v the signing key is %s, want %s", tt.at, got, tt.want)
		}
		if got := kids(t, f.svc.JWKS()); len(got) != 3 || got[0] != tt.want {
			t.Errorf("at +%v JWKS %v: want all three keys, the signing one first", tt.at, got)
		}
	}
}

func TestActivationDelayZeroRotatesAtOnce(t *testing.T) {
	f := newFixture(t)
	rot, err := f.svc.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f.svc.CurrentKeyID() != rot.KID {
		t.Fatal("without a delay the new key must sign at once")
	}
}
