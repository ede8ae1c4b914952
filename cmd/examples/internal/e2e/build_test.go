package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bin is the directory TestMain built the binaries into, and buildErr why
// that failed. Set once before any test runs, read only afterwards.
var (
	bin      string
	buildErr error
)

// commands are the binaries the tests run, built from this repository.
var commands = []string{"certbound", "examples/taskservice", "examples/calendarservice"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "certbound-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, buildErr = dir, build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles commands into dir. `go test` puts its own go first on
// PATH, and `make test` vets (so compiles) every package before, so this is
// mostly linking.
func build(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command on PATH: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "github.com/certbound/certbound/cmd/"+c)
	}
	if out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	return nil
}

// binaries returns the directory holding the built binaries.
func binaries(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}
