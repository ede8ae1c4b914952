package storagetest

import (
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

func auditTrail(t *testing.T, open Opener) {
	f := newFixture(t, open)
	events := []storage.AuditEvent{
		{At: t0, Type: "client.created", ClientID: "a", AdminKey: "bootstrap"},
		{At: t0.Add(time.Minute), Type: "token.issued", ClientID: "a", RequestID: "req-1", Count: 3},
		{At: t0.Add(2*time.Minute + 250*time.Millisecond), Type: "token.refused", ClientID: "b", Reason: "bad_secret", Remote: "127.0.0.1"},
		{At: t0.Add(3 * time.Minute), Type: "admin_key.created", AdminKey: "bootstrap", TargetKey: "ci"},
		{At: t0.Add(4 * time.Minute), Type: "tokenizer.other", ClientID: "a"},
	}
	if err := f.s.AppendAuditEvents(f.ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AppendAuditEvents(f.ctx, nil); err != nil {
		t.Fatal(err)
	}
	all, err := f.s.ListAuditEvents(f.ctx, storage.AuditFilter{})
	if err != nil || len(all) != len(events) {
		t.Fatalf("ListAuditEvents = %d events, %v", len(all), err)
	}
	t.Run("accept/every field reads back, oldest first, a count of zero as 1", func(t *testing.T) {
		for i, e := range events {
			got := all[i]
			if i > 0 && got.ID <= all[i-1].ID {
				t.Errorf("ids not increasing: %d after %d", got.ID, all[i-1].ID)
			}
			want := e
			want.ID, want.Count = got.ID, max(e.Count, 1)
			if !got.At.Equal(e.At) {
				t.Errorf("event %d at %v, want %v (milliseconds kept)", i, got.At, e.At)
			}
			got.At, want.At = time.Time{}, time.Time{}
			if got != want {
				t.Errorf("event %d = %+v, want %+v", i, got, want)
			}
		}
	})
	t.Run("accept/the filters select by client, type, type prefix, time and id", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter storage.AuditFilter
			want   int
		}{
			{"client", storage.AuditFilter{ClientID: "a"}, 3},
			{"type prefix", storage.AuditFilter{Type: "token."}, 2},
			{"exact type", storage.AuditFilter{Type: "token.issued"}, 1},
			{"exact type, no prefix match", storage.AuditFilter{Type: "token"}, 0},
			{"since", storage.AuditFilter{Since: t0.Add(2*time.Minute + 250*time.Millisecond)}, 3},
			{"after id, limited", storage.AuditFilter{AfterID: all[0].ID, Limit: 2}, 2},
			{"after the last id", storage.AuditFilter{AfterID: all[len(all)-1].ID}, 0},
			{"client and type", storage.AuditFilter{ClientID: "b", Type: "token."}, 1},
		} {
			got, err := f.s.ListAuditEvents(f.ctx, tc.filter)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d events, %v; want %d", tc.name, len(got), err, tc.want)
			}
		}
	})
	t.Run("accept/PruneAuditEvents deletes the events before the cutoff", func(t *testing.T) {
		n, err := f.s.PruneAuditEvents(f.ctx, t0.Add(90*time.Second))
		if err != nil || n != 2 {
			t.Fatalf("PruneAuditEvents = %d, %v; want 2", n, err)
		}
		if left, _ := f.s.ListAuditEvents(f.ctx, storage.AuditFilter{}); len(left) != 3 || left[0].Type != "token.refused" {
			t.Fatalf("left %+v", left)
		}
	})
}
