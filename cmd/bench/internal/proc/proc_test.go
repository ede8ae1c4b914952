package proc

import (
	"testing"
	"time"
)

// TestSelf reads this process's own /proc entries: CPU time grows with work
// and the memory figures are plausible.
func TestSelf(t *testing.T) {
	p := Self()
	c0, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process has used 30 ms more CPU; on a busy machine that
	// takes longer than 30 ms, but not ten seconds.
	var c1 time.Duration
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		if c1, err = p.CPU(); err != nil {
			t.Fatal(err)
		}
		if c1-c0 >= 30*time.Millisecond {
			break
		}
	}
	if d := c1 - c0; d < 30*time.Millisecond {
		t.Fatalf("CPU time grew by %v in ten seconds of spinning", d)
	}
	if err := p.ResetPeak(); err != nil {
		t.Fatal(err)
	}
	m, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS < 1<<20 || m.Peak < m.RSS/2 {
		t.Fatalf("memory %+v", m)
	}
}
