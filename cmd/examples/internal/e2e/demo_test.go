package e2e

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/examples/internal/demo"
)

// TestDemo runs what `make demo` runs, against freshly built binaries: three
// processes, the CLI, a 201 and refused replays. It fails if the demo does,
// and checks that the demo cleaned up after itself.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := demo.Run(ctx, demo.Config{Bin: binaries(t), Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"POST /events → 201 Created",
		"ok: the calendar service answered 201 Created",
		"ok: the token is bound to the task service's certificate",
		"All 6 checks passed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "ok: refused with 401"); n != 3 {
		t.Errorf("demo showed %d refused replays, want 3:\n%s", n, text)
	}
	// No secret in full: enrollment tokens (cbe_ + 43 base64url characters)
	// and access tokens appear only shortened.
	if m := regexp.MustCompile(`cbe_[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{20,}\.`).FindString(text); m != "" {
		t.Errorf("demo printed a secret in full: %s", m)
	}
	dir := regexp.MustCompile(`Removed (\S+)\.`).FindStringSubmatch(text)
	if dir == nil {
		t.Fatalf("demo did not say it removed its directory:\n%s", text)
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("demo left %s behind (stat: %v)", dir[1], err)
	}
}
