package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// sameClient compares two records: times by instant, an empty list or
// hash like a missing one (a backend may return either).
func sameClient(a, b storage.Client) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	norm := func(c storage.Client) storage.Client {
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		for _, l := range []*[]string{&c.Scopes, &c.Audiences, &c.GrantTypes, &c.Thumbprints} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		for _, b := range []*[]byte{&c.SecretHash, &c.Generation} {
			if len(*b) == 0 {
				*b = nil
			}
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func clients(t *testing.T, open Opener) {
	f := newFixture(t, open)
	full := storage.Client{ID: "full", Name: "Full Service", Scopes: []string{"a.read", "a.write"}, Audiences: []string{"aud1", "aud2"},
		GrantTypes: []string{"client_credentials"}, AuthMethod: "self_signed_tls_client_auth", SANURI: "spiffe://certbound.test/full",
		Thumbprints: []string{"tp1", "tp2"}, SelfSignedPEM: "-----BEGIN CERTIFICATE-----\n…", SecretHash: hash("secret"),
		AccessTokenTTL: 90 * time.Second, CreatedAt: t0, UpdatedAt: t0.Add(time.Second), Generation: hash("gen")[:16]}

	t.Run("accept/a created client reads back with every field", func(t *testing.T) {
		if err := f.s.CreateClient(f.ctx, full); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.GetClient(f.ctx, "full")
		if err != nil || !sameClient(got, full) {
			t.Fatalf("GetClient = %+v, %v\nwant %+v", got, err, full)
		}
	})
	t.Run("reject/a second client with the same id is ErrConflict and changes nothing", func(t *testing.T) {
		f := f.on(t)
		orig := f.client("dup")
		again := orig
		again.Name, again.Scopes = "impostor", []string{"admin"}
		if err := f.s.CreateClient(f.ctx, again); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("CreateClient(existing id) = %v, want ErrConflict", err)
		}
		if got, err := f.s.GetClient(f.ctx, "dup"); err != nil || !sameClient(got, orig) {
			t.Fatalf("after the refused create: %+v, %v", got, err)
		}
	})
	t.Run("reject/an unknown id is ErrNotFound", func(t *testing.T) {
		ctx := f.ctx
		for name, err := range map[string]error{
			"GetClient": func() error { _, err := f.s.GetClient(ctx, "nobody"); return err }(),
			"ModifyClient": func() error {
				_, err := f.s.ModifyClient(ctx, "nobody", func(*storage.Client) error { return nil })
				return err
			}(),
			"DisableClient":        f.s.DisableClient(ctx, "nobody", t0),
			"DisableClientAudited": f.s.DisableClientAudited(ctx, "nobody", "01", "clone", t0),
			"DeleteClient":         f.s.DeleteClient(ctx, "nobody", t0),
		} {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
			}
		}
		if off, err := f.s.ClientDisabled(ctx, "nobody"); err != nil || !off {
			t.Errorf("ClientDisabled(unknown) = %v, %v; want true (an unknown client never authenticates)", off, err)
		}
	})
	t.Run("accept/ModifyClient writes the mutable fields and keeps id, creation and generation", func(t *testing.T) {
		f := f.on(t)
		orig := f.client("mod")
		got, err := f.s.ModifyClient(f.ctx, "mod", func(c *storage.Client) error {
			if !sameClient(*c, orig) {
				t.Errorf("change sees %+v, want the stored record %+v", *c, orig)
			}
			c.Name, c.Scopes, c.Audiences, c.GrantTypes = "renamed", []string{"x.read"}, []string{"x"}, []string{"client_credentials", "urn:x"}
			c.AuthMethod, c.SANURI, c.Thumbprints, c.SelfSignedPEM = "client_secret_basic", "", []string{"tp"}, "pem"
			c.SecretHash, c.AccessTokenTTL, c.Disabled, c.UpdatedAt = hash("new secret"), time.Minute, true, t0.Add(time.Hour)
			c.ID, c.CreatedAt, c.Generation = "other-id", t0.Add(time.Hour), []byte("forged") // not the change's to make
			return nil
		})
		if err != nil || got.ID != "mod" {
			t.Fatalf("ModifyClient = %+v, %v", got, err)
		}
		stored, err := f.s.GetClient(f.ctx, "mod")
		if err != nil {
			t.Fatal(err)
		}
		want := storage.Client{ID: "mod", Name: "renamed", Scopes: []string{"x.read"}, Audiences: []string{"x"},
			GrantTypes: []string{"client_credentials", "urn:x"}, AuthMethod: "client_secret_basic", Thumbprints: []string{"tp"},
			SelfSignedPEM: "pem", SecretHash: hash("new secret"), AccessTokenTTL: time.Minute, Disabled: true,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), Generation: orig.Generation}
		if !sameClient(stored, want) {
			t.Fatalf("stored %+v\nwant   %+v", stored, want)
		}
		if _, err := f.s.GetClient(f.ctx, "other-id"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the change renamed the record: %v", err)
		}
	})
	t.Run("reject/a change that fails writes nothing and its error comes back", func(t *testing.T) {
		f := f.on(t)
		orig := f.client("refused-change")
		refuse := errors.New("refused")
		_, err := f.s.ModifyClient(f.ctx, "refused-change", func(c *storage.Client) error {
			c.Disabled, c.Name = true, "changed"
			return refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatalf("ModifyClient = %v, want the change's error", err)
		}
		if got, _ := f.s.GetClient(f.ctx, "refused-change"); !sameClient(got, orig) {
			t.Fatalf("a failed change was written: %+v", got)
		}
	})
	t.Run("accept/DisableClient sets only the flag and may repeat", func(t *testing.T) {
		f := f.on(t)
		orig := f.client("off")
		for range 2 {
			if err := f.s.DisableClient(f.ctx, "off", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.s.GetClient(f.ctx, "off")
		if err != nil || !got.Disabled || !slices.Equal(got.Scopes, orig.Scopes) || got.SANURI != orig.SANURI {
			t.Fatalf("after DisableClient: %+v, %v", got, err)
		}
		if !f.disabled("off") {
			t.Fatal("ClientDisabled = false after DisableClient")
		}
	})
	t.Run("accept/DeleteClient removes the client and its unused tokens and revokes its certificates", func(t *testing.T) {
		f := f.on(t)
		f.client("gone")
		f.client("stays")
		f.enroll("gone", "de01", t0.Add(time.Hour))
		f.enroll("gone", "de02", t0.Add(time.Hour))
		if _, err := f.s.RevokeCertificate(f.ctx, "de02", "key compromise", t0); err != nil {
			t.Fatal(err)
		}
		f.enroll("stays", "de03", t0.Add(time.Hour))
		unused := f.token("unused token of gone", "gone", t0.Add(time.Hour))
		if err := f.s.DeleteClient(f.ctx, "gone", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.GetClient(f.ctx, "gone"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetClient(deleted) = %v", err)
		}
		if c := f.cert("de01"); !c.Revoked() || c.RevocationReason != "client deleted" || !c.RevokedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("certificate of the deleted client: %+v", c)
		}
		if c := f.cert("de02"); c.RevocationReason != "key compromise" || !c.RevokedAt.Equal(t0) {
			t.Fatalf("an earlier revocation was overwritten: %+v", c)
		}
		if f.revoked("de03") {
			t.Fatal("deleting one client revoked another's certificate")
		}
		if st := f.tokenState(unused, t0); st != storage.TokenUnknown {
			t.Fatalf("the deleted client's unused token is %q, want %q", st, storage.TokenUnknown)
		}
		if _, err := f.s.RedeemEnrollToken(f.ctx, unused, t0, issueAs("de04", t0.Add(time.Hour))); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("redeeming the deleted client's token: %v, want ErrNotFound", err)
		}
	})
	t.Run("accept/ListClients pages by id and CountClients counts", func(t *testing.T) {
		f := newFixture(t, open)
		for _, id := range []string{"c", "a", "e", "b", "d"} {
			f.client(id)
		}
		var got []string
		for after := ""; ; {
			page, err := f.s.ListClients(f.ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("a page of %d, limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
			t.Fatalf("paged ids %v", got)
		}
		if all, err := f.s.ListClients(f.ctx, "", 0); err != nil || len(all) != 5 {
			t.Fatalf("ListClients(limit 0) = %d clients, %v; want all 5", len(all), err)
		}
		if n, err := f.s.CountClients(f.ctx); err != nil || n != 5 {
			t.Fatalf("CountClients = %d, %v", n, err)
		}
	})
	t.Run("accept/a record handed out is the caller's own", func(t *testing.T) {
		f := f.on(t)
		f.client("copies")
		for range 3 {
			c, err := f.s.GetClient(f.ctx, "copies")
			if err != nil {
				t.Fatal(err)
			}
			if c.Scopes[0] != "event.create" || c.Audiences[0] != "event" || c.Generation[0] != hash("generation of copies")[0] {
				t.Fatalf("record changed by an earlier caller: %+v", c)
			}
			c.Scopes[0], c.Audiences[0], c.Generation[0] = "tampered", "tampered", c.Generation[0]+1
		}
	})
	t.Run("concurrency/no concurrent ModifyClient is lost", func(t *testing.T) {
		f := f.on(t)
		f.client("busy")
		const n = 16
		errs := make([]error, n)
		race(n, func(i int) {
			_, errs[i] = f.s.ModifyClient(f.ctx, "busy", func(c *storage.Client) error {
				c.Scopes = append(c.Scopes, fmt.Sprintf("s%02d", i))
				runtime.Gosched() // let the others read meanwhile, if the store lets them
				return nil
			})
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.GetClient(f.ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if !slices.Contains(got.Scopes, fmt.Sprintf("s%02d", i)) {
				t.Errorf("the change adding s%02d was lost: %v", i, got.Scopes)
			}
		}
		if len(got.Scopes) != 2+n {
			t.Fatalf("scopes %v: want the 2 first and %d added", got.Scopes, n)
		}
	})
}
