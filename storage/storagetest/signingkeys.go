package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func kids(keys []storage.SigningKey) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, k.KID)
	}
	return out
}

func signingKeys(t *testing.T, open Opener) {
	t.Run("accept/a rotation retires the current key and publishes it until its last token expires", func(t *testing.T) {
		f := newFixture(t, open)
		k1 := storage.SigningKey{KID: "k1", Alg: "ES256", PrivatePEM: "pem1", CreatedAt: t0}
		if err := f.s.RotateSigningKey(f.ctx, k1, t0); err != nil {
			t.Fatal(err)
		}
		keys, err := f.s.SigningKeys(f.ctx, t0)
		if err != nil || len(keys) != 1 || keys[0].KID != "k1" || keys[0].Alg != "ES256" || keys[0].PrivatePEM != "pem1" ||
			!keys[0].CreatedAt.Equal(t0) || !keys[0].RetiredAt.IsZero() || !keys[0].PublishUntil.IsZero() {
			t.Fatalf("the first key: %+v, %v", keys, err)
		}
		// The next key is created an hour ahead (a delayed activation): the old
		// one signs until then and stays published until two hours later.
		k2 := storage.SigningKey{KID: "k2", Alg: "RS256", PrivatePEM: "pem2", CreatedAt: t0.Add(time.Hour)}
		if err := f.s.RotateSigningKey(f.ctx, k2, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys, err = f.s.SigningKeys(f.ctx, t0.Add(90*time.Minute))
		if err != nil || len(keys) != 2 || keys[0].KID != "k2" || !keys[0].RetiredAt.IsZero() ||
			!keys[1].RetiredAt.Equal(t0.Add(time.Hour)) || !keys[1].PublishUntil.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("after the rotation: %+v, %v", keys, err)
		}
		if keys, _ := f.s.SigningKeys(f.ctx, t0.Add(3*time.Hour)); len(keys) != 1 || keys[0].KID != "k2" {
			t.Fatalf("the retired key is still published after its last token: %v", kids(keys))
		}
	})
	t.Run("accept/keys rotated within one second come newest first", func(t *testing.T) {
		f := newFixture(t, open)
		for _, kid := range []string{"b", "a", "c"} {
			if err := f.s.RotateSigningKey(f.ctx, storage.SigningKey{KID: kid, Alg: "ES256", PrivatePEM: "pem-" + kid, CreatedAt: t0}, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := f.s.SigningKeys(f.ctx, t0)
		if err != nil || len(keys) != 3 || keys[0].KID != "c" || keys[1].KID != "a" || keys[2].KID != "b" || !keys[0].RetiredAt.IsZero() {
			t.Fatalf("keys %v, %v; want c (current), a, b", kids(keys), err)
		}
	})
	t.Run("reject/a kid used before is ErrConflict and the current key stays", func(t *testing.T) {
		f := newFixture(t, open)
		for _, kid := range []string{"x", "y"} {
			if err := f.s.RotateSigningKey(f.ctx, storage.SigningKey{KID: kid, Alg: "ES256", PrivatePEM: "pem", CreatedAt: t0}, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		err := f.s.RotateSigningKey(f.ctx, storage.SigningKey{KID: "x", Alg: "ES256", PrivatePEM: "pem", CreatedAt: t0.Add(time.Minute)}, t0.Add(time.Hour))
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("RotateSigningKey(existing kid) = %v, want ErrConflict", err)
		}
		if keys, _ := f.s.SigningKeys(f.ctx, t0); len(keys) != 2 || keys[0].KID != "y" || !keys[0].RetiredAt.IsZero() {
			t.Fatalf("a refused rotation retired the current key: %+v", keys)
		}
	})
}
