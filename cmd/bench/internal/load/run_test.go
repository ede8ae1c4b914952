package load

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// fakeMeter counts its calls; its CPU advances 1 ms per read.
type fakeMeter struct {
	cpu                atomic.Int64
	resets, start, end int
}

func (m *fakeMeter) CPU() (time.Duration, error) {
	return time.Duration(m.cpu.Add(int64(time.Millisecond))), nil
}
func (m *fakeMeter) Memory() (proc.Memory, error) {
	return proc.Memory{RSS: 10 << 20, Peak: 12 << 20}, nil
}
func (m *fakeMeter) ResetPeak() error { m.resets++; return nil }
func (m *fakeMeter) WindowStart()     { m.start++ }
func (m *fakeMeter) WindowEnd()       { m.end++ }

func TestRunFixedOps(t *testing.T) {
	var calls atomic.Int64
	op := func() error { calls.Add(1); return nil }
	m := &fakeMeter{}
	res, err := Run(m, Plan{Ops: 100}, []Op{op, op, op})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 100 || calls.Load() != 100 || len(res.Latencies) != 100 {
		t.Fatalf("ops %d, calls %d, latencies %d; want 100", res.Ops, calls.Load(), len(res.Latencies))
	}
	if res.ServerCPU != time.Millisecond || res.CPUPerOp() != 10*time.Microsecond {
		t.Fatalf("server CPU %v (%v/op), want 1ms (10µs/op)", res.ServerCPU, res.CPUPerOp())
	}
	if m.resets != 1 || m.start != 1 || m.end != 1 || res.Peak != 12<<20 || res.RSSMax != 10<<20 {
		t.Fatalf("meter %+v, result peak %d rss %d", m, res.Peak, res.RSSMax)
	}
}

func TestRunDurationAndErrors(t *testing.T) {
	boom := errors.New("boom")
	var n atomic.Int64
	op := func() error {
		if n.Add(1)%2 == 0 {
			return boom
		}
		return nil
	}
	res, err := Run(nil, Plan{Duration: time.Second}, []Op{op})
	if err != nil {
		t.Fatal(err)
	}
	// Every other call fails: the window stops after maxErrors failures,
	// long before its second.
	if res.Errors != maxErrors || !errors.Is(res.FirstErr, boom) || res.Wall >= time.Second {
		t.Fatalf("errors %d (%v), wall %v; want %d errors and an early stop", res.Errors, res.FirstErr, res.Wall, maxErrors)
	}
	if res.Ops != maxErrors && res.Ops != maxErrors-1 {
		t.Fatalf("ops %d, want about %d", res.Ops, maxErrors)
	}
}

func TestPercentile(t *testing.T) {
	r := Result{}
	for i := 100; i >= 1; i-- {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := r.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
}
