package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/backup"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

type certRow struct {
	Serial    string     `json:"serial"`
	ClientID  string     `json:"client_id"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func inventory(t *testing.T, s *servertest.Server) (clients []string, rows []certRow) {
	t.Helper()
	var cl struct {
		Clients []struct {
			ClientID string `json:"client_id"`
		} `json:"clients"`
	}
	s.Admin(t, "GET", "/v1/clients?limit=1000", nil).JSON(t, &cl)
	for _, c := range cl.Clients {
		clients = append(clients, c.ClientID)
	}
	var cr struct {
		Certificates []certRow `json:"certificates"`
	}
	s.Admin(t, "GET", "/v1/certificates?limit=1000", nil).JSON(t, &cr)
	sort.Slice(cr.Certificates, func(i, j int) bool { return cr.Certificates[i].Serial < cr.Certificates[j].Serial })
	return clients, cr.Certificates
}

func TestBackupUnderLoadAndRestore(t *testing.T) {
	ctx := context.Background()
	s := servertest.Start(t)
	for i := range 3 {
		s.CreateClient(t, fmt.Sprintf("svc-%d", i), "a", "aud")
	}
	_, first := s.Enroll(t, s.MintToken(t, "svc-0"))
	if r := s.Admin(t, "POST", "/v1/certificates/"+first.Serial+"/revoke", map[string]string{"reason": "test"}); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}

	// Enrollments keep landing while the backup is taken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var enrolled atomic.Int32
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.Enroll(t, s.MintToken(t, fmt.Sprintf("svc-%d", w+1)))
				enrolled.Add(1)
			}
		}()
	}
	for enrolled.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	archive := filepath.Join(t.TempDir(), "certbound.backup")
	m, err := backup.Create(ctx, s.DataDir, archive, time.Now())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(archive); fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %o", fi.Mode().Perm())
	}
	if m.RootFingerprint != s.Fingerprint {
		t.Fatal("manifest names another root")
	}

	// Everything in the backup matches what the server held at one instant:
	// restore it and compare with the rows that existed before the snapshot.
	clientsNow, rowsNow := inventory(t, s)
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, archive, dir); err != nil {
		t.Fatal(err)
	}
	r := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.DataDir = dir }))
	if r.Fingerprint != s.Fingerprint {
		t.Fatal("restored server has another CA")
	}
	clients, rows := inventory(t, r)
	if fmt.Sprint(clients) != fmt.Sprint(clientsNow) {
		t.Fatalf("clients %v, want %v", clients, clientsNow)
	}
	if len(rows) < 6 || len(rows) > len(rowsNow) {
		t.Fatalf("restored %d certificates; the live server has %d", len(rows), len(rowsNow))
	}
	live := map[string]certRow{}
	for _, c := range rowsNow {
		live[c.Serial] = c
	}
	revoked := 0
	for _, c := range rows {
		l, ok := live[c.Serial]
		if !ok || l.ClientID != c.ClientID || (l.RevokedAt == nil) != (c.RevokedAt == nil) {
			t.Fatalf("restored row %+v differs from live %+v", c, l)
		}
		if c.RevokedAt != nil {
			revoked++
		}
	}
	if revoked != 1 {
		t.Fatalf("%d revoked rows restored, want 1", revoked)
	}
	// The restored server works: the admin key from the backup, a new enrollment.
	if r.AdminKey != s.AdminKey {
		t.Fatal("admin key not restored")
	}
	r.Enroll(t, r.MintToken(t, "svc-0"))
}

func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	s := servertest.Start(t)
	archive := filepath.Join(t.TempDir(), "b.tgz")
	if _, err := backup.Create(ctx, s.DataDir, archive, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Run("reject/over an existing data dir", func(t *testing.T) {
		if _, err := backup.Restore(ctx, archive, s.DataDir); err == nil {
			t.Fatal("restored over a live data dir")
		}
	})
	t.Run("reject/tampered member", func(t *testing.T) {
		tampered := filepath.Join(t.TempDir(), "t.tgz")
		rewrite(t, archive, tampered, func(name string, data []byte) []byte {
			if name == "ca/root.crt" {
				return append(data, '\n')
			}
			return data
		})
		dir := filepath.Join(t.TempDir(), "x")
		if _, err := backup.Restore(ctx, tampered, dir); err == nil {
			t.Fatal("a tampered backup was restored")
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatal("a refused restore left a data dir behind")
		}
	})
	t.Run("reject/not a backup", func(t *testing.T) {
		junk := filepath.Join(t.TempDir(), "junk")
		os.WriteFile(junk, []byte("hello"), 0o600)
		if _, err := backup.Restore(ctx, junk, filepath.Join(t.TempDir(), "y")); err == nil {
			t.Fatal("junk restored")
		}
	})
	t.Run("reject/existing output file", func(t *testing.T) {
		if _, err := backup.Create(ctx, s.DataDir, archive, time.Now()); err == nil {
			t.Fatal("backup overwrote a file")
		}
	})
}

// rewrite copies a tar.gz, passing each member through f.
func rewrite(t *testing.T, in, out string, f func(string, []byte) []byte) {
	t.Helper()
	src, _ := os.ReadFile(in)
	gz, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		data = f(h.Name, data)
		h.Size = int64(len(data))
		tw.WriteHeader(h)
		tw.Write(data)
	}
	tw.Close()
	gw.Close()
	os.WriteFile(out, buf.Bytes(), 0o600)
}
