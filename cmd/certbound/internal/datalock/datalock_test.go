//go:build unix

package datalock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
)

func TestAcquire(t *testing.T) {
	dir := t.TempDir()
	l, err := datalock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, datalock.FileName))
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want this PID", data, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, datalock.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v %v, want 0600", fi.Mode(), err)
	}
	// A second holder (another open file description, as another process
	// would have) is refused, with the PID and the dir.
	_, err = datalock.Acquire(dir)
	if !errors.Is(err, datalock.ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("reject/second: %v", err)
	}
	if held, err := datalock.Held(dir); !held || !errors.Is(err, datalock.ErrLocked) {
		t.Fatalf("Held while locked = %v, %v", held, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	// Released: the file stays, unheld, and the next one takes it.
	if held, err := datalock.Held(dir); held || err != nil {
		t.Fatalf("Held after release = %v, %v", held, err)
	}
	l2, err := datalock.Acquire(dir)
	if err != nil {
		t.Fatalf("accept/after-release: %v", err)
	}
	l2.Release()
	if held, err := datalock.Held(t.TempDir()); held || err != nil {
		t.Fatalf("Held without a lock file = %v, %v", held, err)
	}
}
