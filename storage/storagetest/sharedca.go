package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/certbound/certbound/storage"
)

// sharedCA holds a backend that keeps the CA (storage.SharedCA) to its
// promises; a backend without it skips the group.
func sharedCA(t *testing.T, open Opener) {
	s := open(t)
	ca, ok := s.(storage.SharedCA)
	if !ok {
		t.Skipf("%T keeps no CA (not a storage.SharedCA)", s)
	}
	material := func(i int) storage.CAMaterial {
		return storage.CAMaterial{
			RootCertPEM: fmt.Appendf(nil, "root cert %d", i), RootKeyPEM: fmt.Appendf(nil, "root key %d", i),
			IntermediateCertPEM: fmt.Appendf(nil, "intermediate cert %d", i), IntermediateKeyPEM: fmt.Appendf(nil, "intermediate key %d", i),
			CreatedAt: t0,
		}
	}
	same := func(a, b storage.CAMaterial) bool {
		return bytes.Equal(a.RootCertPEM, b.RootCertPEM) && bytes.Equal(a.RootKeyPEM, b.RootKeyPEM) &&
			bytes.Equal(a.IntermediateCertPEM, b.IntermediateCertPEM) && bytes.Equal(a.IntermediateKeyPEM, b.IntermediateKeyPEM) &&
			a.CreatedAt.Equal(b.CreatedAt)
	}
	t.Run("reject/no CA stored yet is ErrNotFound", func(t *testing.T) {
		if _, err := ca.LoadCA(t.Context()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LoadCA on an empty store = %v, want ErrNotFound", err)
		}
	})
	t.Run("concurrency/of many InitCA calls exactly one stores its CA and all get it", func(t *testing.T) {
		const n = 8
		got := make([]storage.CAMaterial, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var calls atomic.Int32
		race(n, func(i int) {
			got[i], created[i], errs[i] = ca.InitCA(t.Context(), func() (storage.CAMaterial, error) {
				calls.Add(1)
				return material(i), nil
			})
		})
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("InitCA %d: %v", i, errs[i])
			}
			if created[i] {
				if winner >= 0 {
					t.Fatalf("InitCA %d and %d both report that they stored the CA", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no InitCA call reports that it stored the CA")
		}
		for i := range n {
			if !same(got[i], material(winner)) {
				t.Errorf("InitCA %d returned another CA than the one stored (%d's)", i, winner)
			}
		}
		loaded, err := ca.LoadCA(t.Context())
		if err != nil || !same(loaded, material(winner)) {
			t.Fatalf("LoadCA = %v; want the stored CA", err)
		}
		t.Logf("create ran %d times for %d calls", calls.Load(), n)
	})
	t.Run("accept/InitCA after the CA is stored returns it and never creates", func(t *testing.T) {
		stored, err := ca.LoadCA(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		m, created, err := ca.InitCA(t.Context(), func() (storage.CAMaterial, error) {
			t.Error("create called though a CA is stored")
			return material(99), nil
		})
		if err != nil || created || !same(m, stored) {
			t.Fatalf("InitCA = created %v, %v; want the stored CA", created, err)
		}
	})
	t.Run("reject/a create error stores nothing", func(t *testing.T) {
		s := open(t)
		ca := s.(storage.SharedCA)
		boom := errors.New("no entropy")
		if _, _, err := ca.InitCA(t.Context(), func() (storage.CAMaterial, error) { return storage.CAMaterial{}, boom }); !errors.Is(err, boom) {
			t.Fatalf("InitCA = %v, want create's error", err)
		}
		if _, err := ca.LoadCA(t.Context()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LoadCA after a failed create = %v, want ErrNotFound", err)
		}
	})
}
