package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/backup"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
)

// TestOneServerPerDataDir: a second Open of a data dir that a server holds
// is refused, naming the holder's PID and the data dir; after Close the dir
// opens again. A backup reads it while it is held.
func TestOneServerPerDataDir(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := server.Config{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	first, err := server.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.Open(ctx, cfg)
	if !errors.Is(err, datalock.ErrLocked) {
		t.Fatalf("reject/second Open: %v, want ErrLocked", err)
	}
	for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), dataDir} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the refusal %q does not name %q", err, want)
		}
	}
	out := filepath.Join(t.TempDir(), "b.tgz")
	if _, err := backup.Create(ctx, dataDir, out, time.Now()); err != nil {
		t.Fatalf("accept/backup while the server holds the dir: %v", err)
	}
	// Restoring into the held dir is refused; into a dir that has only an
	// unheld lock file it works.
	if _, err := backup.Restore(ctx, out, dataDir); !errors.Is(err, datalock.ErrLocked) {
		t.Fatalf("reject/restore into a held dir: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := datalock.Acquire(stale)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if _, err := backup.Restore(ctx, out, stale); err != nil {
		t.Fatalf("accept/restore into a dir with only a stale lock file: %v", err)
	}
	again, err := server.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("accept/Open after Close: %v", err)
	}
	again.Close()
	restored, err := server.Open(ctx, server.Config{DataDir: stale, Logger: cfg.Logger})
	if err != nil {
		t.Fatalf("Open the restored dir: %v", err)
	}
	restored.Close()
}

// TestSecondServeProcessRefused: two real `certbound serve` processes on one
// data dir; the second exits non-zero naming the first one's PID.
func TestSecondServeProcessRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the certbound binary")
	}
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	p := newProc(t, dataDir)
	p.startAndWait(30 * time.Second)
	q := newProc(t, dataDir)
	q.start()
	select {
	case err := <-q.exited:
		q.cmd = nil
		out := q.out.String()
		if err == nil || !strings.Contains(out, "pid "+strconv.Itoa(p.cmd.Process.Pid)) || !strings.Contains(out, dataDir) {
			t.Fatalf("second serve: exit %v, output %q; want a failure naming pid %d and %s", err, out, p.cmd.Process.Pid, dataDir)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a second server started on the same data dir")
	}
	if err := p.stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.out.String())
	}
	// The first one stopped: the dir is free again.
	r := newProc(t, dataDir)
	r.startAndWait(30 * time.Second)
}
