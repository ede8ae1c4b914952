package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// serverGoroutines lists the goroutines whose stacks run the server's own
// background work or an HTTP server's accept loop.
func serverGoroutines(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		for _, fn := range []string{"server.(*Server).pruneLoop", "server.(*Server).keepServerCertFresh",
			"server.(*Server).serveMetrics", "net/http.(*Server).Serve", "storage.(*checkpointer)", "storage.(*batcher)"} {
			if strings.Contains(g, fn) {
				out = append(out, fn)
			}
		}
	}
	return out
}

// TestFailingServeLeavesNoGoroutine: whichever way Serve fails — its
// listener failing, the metrics listener failing to start — no goroutine it
// started outlives it, though the caller's context is still alive.
func TestFailingServeLeavesNoGoroutine(t *testing.T) {
	occupied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer occupied.Close()
	for _, tc := range []struct {
		name    string
		metrics string
		ln      func(t *testing.T) net.Listener
	}{
		{"reject/listener closed", "", closedListener},
		{"reject/listener closed with metrics", "127.0.0.1:0", closedListener},
		{"reject/metrics address taken", occupied.Addr().String(), openListener},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(serverGoroutines(t)) // other tests' leftovers, if any, are not ours
			ctx := context.Background()        // never cancelled: only Serve's failure ends them
			srv, err := server.Open(ctx, server.Config{DataDir: filepath.Join(t.TempDir(), "data"), MetricsListen: tc.metrics,
				AuditRetention: time.Hour, CertRetention: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Serve(ctx, tc.ln(t)); err == nil {
				t.Fatal("Serve succeeded")
			}
			if g := serverGoroutines(t); len(g) > before {
				t.Fatalf("goroutines left after Serve failed: %v (%d before)", g, before)
			}
		})
	}
}

func closedListener(t *testing.T) net.Listener {
	ln := openListener(t)
	ln.Close()
	return ln
}

func openListener(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestPruneExpiredEnrollmentTokens: tokens that expired longer ago than the
// audit retention are deleted by the prune loop (which runs at start); a
// token still within it stays.
func TestPruneExpiredEnrollmentTokens(t *testing.T) {
	keep := servertest.WithConfig(func(c *server.Config) { c.AuditRetention = 24 * time.Hour })
	s := servertest.Start(t, keep)
	s.CreateClient(t, "svc", "a", "aud")
	s.MintToken(t, "svc") // expires in 15 minutes
	s.Advance(48 * time.Hour)
	s.MintToken(t, "svc") // fresh
	tokens := func() int {
		t.Helper()
		return s.Snapshot(t, s.OpenDB(t)).Rows("enroll_tokens")
	}
	if n := tokens(); n != 2 {
		t.Fatalf("%d tokens before pruning, want 2", n)
	}
	s = s.Restart(t, keep)
	// The first pruning runs beside the serving, right after the start.
	for i := 0; !strings.Contains(s.Log(), "pruned expired enrollment tokens"); i++ {
		if i == 1000 {
			t.Fatalf("no pruning of enrollment tokens logged:\n%s", s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := tokens(); n != 1 {
		t.Fatalf("%d tokens after pruning, want 1 (the expired one gone)", n)
	}
}
