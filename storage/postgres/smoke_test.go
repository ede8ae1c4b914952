package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/storagetest"
)

func TestStatusSource(t *testing.T) {
	db := openFresh(t)
	storagetest.StatusSource(t, db)
}

func TestSmoke(t *testing.T) {
	db := openFresh(t)
	ctx := context.Background()
	now := db.Now().Truncate(time.Second)
	if err := db.CreateClient(ctx, storage.Client{ID: "a", AuthMethod: "tls_client_auth", Scopes: []string{"x", "y"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	c, err := db.GetClient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", c)
}
