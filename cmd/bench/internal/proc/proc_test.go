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
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	c1, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	if d := c1 - c0; d < 50*time.Millisecond || d > 10*time.Second {
		t.Fatalf("100 ms of spinning took %v of CPU", d)
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
