package sqlite

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
)

// TestMigrationGivesEveryClientAGeneration builds a database at schema
// version 5 (clients without a generation), opens it with this binary, and
// finds every client with its own random 128-bit generation, which a change
// of the record (ModifyClient) keeps and a record created again under the
// same id does not share.
func TestMigrationGivesEveryClientAGeneration(t *testing.T) {
	ctx := context.Background()
	raw, path := databaseAtVersion(t, 5)
	for _, id := range []string{"a", "b"} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO clients (id, auth_method, created_at, updated_at) VALUES (?, 'tls_client_auth', 1, 1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open the version 5 database: %v", err)
	}
	defer db.Close()
	a, errA := db.GetClient(ctx, "a")
	b, errB := db.GetClient(ctx, "b")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(a.Generation) != 16 || len(b.Generation) != 16 || bytes.Equal(a.Generation, b.Generation) {
		t.Fatalf("generations %x and %x, want two different 128-bit values", a.Generation, b.Generation)
	}
	m, err := db.ModifyClient(ctx, "a", func(c *storage.Client) error { c.Name = "renamed"; c.Generation = []byte("ignored"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := db.GetClient(ctx, "a"); !bytes.Equal(again.Generation, a.Generation) || m.Name != "renamed" {
		t.Fatalf("ModifyClient changed the generation: %x, was %x", again.Generation, a.Generation)
	}
	if err := db.DeleteClient(ctx, "a", time.Unix(2, 0)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateClient(ctx, storage.Client{ID: "a", AuthMethod: "tls_client_auth", Generation: []byte("0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.GetClient(ctx, "a"); !bytes.Equal(again.Generation, []byte("0123456789abcdef")) {
		t.Fatalf("the generation given to CreateClient was not stored: %x", again.Generation)
	}
	if err := db.CreateClient(ctx, storage.Client{ID: "c", AuthMethod: "tls_client_auth"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.GetClient(ctx, "c"); c.Generation != nil {
		t.Fatalf("a record created without a generation reads back %x, want none", c.Generation)
	}
}
