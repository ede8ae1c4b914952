package pgtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/certbound/certbound/storage/postgres/pgtest"
)

// Each URL is a database of its own, empty, and gone when its test ends.
func TestURL(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Admin(t)
	var name string
	t.Run("use", func(t *testing.T) {
		url := pgtest.URL(t)
		name = url[strings.LastIndex(url, "/")+1:]
		if i := strings.IndexByte(name, '?'); i >= 0 {
			name = name[:i]
		}
		if !strings.HasPrefix(name, pgtest.DatabasePrefix) {
			t.Errorf("database %q lacks the prefix %q", name, pgtest.DatabasePrefix)
		}
		if other := pgtest.URL(t); other == url {
			t.Error("two calls gave the same database")
		}
		var tables int
		conn := connect(t, url)
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("a fresh database has %d tables", tables)
		}
		conn.Close(ctx) // dropped WITH (FORCE) anyway
	})
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// helperEnv marks the process that TestUnreachable runs.
const helperEnv = "PGTEST_UNREACHABLE_HELPER"

// TestUnreachableHelper is run by TestUnreachable in a child process, with
// the server variable pointing at a port nothing listens on.
func TestUnreachableHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestUnreachable")
	}
	pgtest.URL(t)
	t.Error("URL returned without a server")
}

// No server: the test is skipped with the loud message — and fails under
// CI=true, where a skipped PostgreSQL suite would hide a broken setup.
func TestUnreachable(t *testing.T) {
	tests := []struct {
		name     string
		ci       string
		wantFail bool
	}{
		{"accept/skipped loudly outside CI", "", false},
		{"reject/fatal under CI=true", "true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnreachableHelper$", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "CI="+tt.ci,
				pgtest.EnvURL+"=postgres://postgres@127.0.0.1:1/postgres?sslmode=disable")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("child failed = %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			if !strings.Contains(string(out), "*** PostgreSQL not reachable at postgres://postgres@127.0.0.1:1/") ||
				!strings.Contains(string(out), "SKIPPED; set "+pgtest.EnvURL+" ***") {
				t.Errorf("the loud message is missing:\n%s", out)
			}
			if want := "--- SKIP: TestUnreachableHelper"; !tt.wantFail && !strings.Contains(string(out), want) {
				t.Errorf("no %q:\n%s", want, out)
			}
		})
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
