package replicas

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the certbound executable every test starts, built once by
// TestMain from this tree.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "certbound-replicas-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "certbound")
	// No -race: the served processes are black boxes here, and a race build
	// of three or four of them at once would starve two cores.
	build := exec.Command("go", "build", "-o", binary, "github.com/certbound/certbound/cmd/certbound")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build certbound:", err)
		return 1
	}
	return m.Run()
}
