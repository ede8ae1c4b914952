package load

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// Meter reads the server's resource use.
type Meter interface {
	CPU() (time.Duration, error)
	Memory() (proc.Memory, error)
	ResetPeak() error
}

// Windowed is a Meter that wants to hear when each timed window starts and
// ends, to profile the windows only.
type Windowed interface {
	WindowStart()
	WindowEnd()
}

// Plan is one timed window.
type Plan struct {
	Concurrency int
	// Ops, when positive, is the number of operations; otherwise the window
	// lasts Duration.
	Ops      int
	Duration time.Duration
}

// Op performs one operation. Each worker goroutine has its own Op and calls
// it sequentially.
type Op func() error

// maxErrors stops a window early: a load that fails this often measures
// nothing useful.
const maxErrors = 100

// Result is what one or more timed windows measured.
type Result struct {
	Ops       int
	Errors    int
	FirstErr  error
	Wall      time.Duration // sum of the windows
	ServerCPU time.Duration // server utime+stime during the windows
	Latencies []time.Duration
	RSSMax    uint64 // largest VmRSS sampled (every 50 ms) during the windows
	Peak      uint64 // largest VmHWM at the end of a window (peak reset at its start)
}

// Add merges another window into r.
func (r *Result) Add(o Result) {
	r.Ops += o.Ops
	r.Errors += o.Errors
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
	r.Wall += o.Wall
	r.ServerCPU += o.ServerCPU
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.RSSMax = max(r.RSSMax, o.RSSMax)
	r.Peak = max(r.Peak, o.Peak)
}

// Throughput is successful operations per second of window.
func (r Result) Throughput() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Wall.Seconds()
}

// CPUPerOp is server CPU time per successful operation.
func (r Result) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Ops)
}

// Percentile returns the p-th percentile (0 < p <= 100) latency.
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	if !slices.IsSorted(r.Latencies) {
		slices.Sort(r.Latencies)
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// Run runs one timed window: len(ops) workers (ops[i] is worker i's), each
// calling its Op in a loop until the plan's operations are used up or its
// time is over. The server's CPU time is read just before the workers start
// and just after the last one finished; its RSS is sampled meanwhile. m may
// be nil (an in-process load).
func Run(m Meter, p Plan, ops []Op) (Result, error) {
	if len(ops) == 0 {
		return Result{}, errors.New("load: no workers")
	}
	var (
		next     atomic.Int64
		failures atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      Result
	)
	lat := make([][]time.Duration, len(ops))
	ok := make([]int, len(ops))
	sampleDone := make(chan struct{})
	sampled := make(chan uint64, 1)
	if m != nil {
		if err := m.ResetPeak(); err != nil {
			return Result{}, err
		}
		go func() {
			var hi uint64
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if mem, err := m.Memory(); err == nil {
					hi = max(hi, mem.RSS)
				}
				select {
				case <-sampleDone:
					sampled <- hi
					return
				case <-t.C:
				}
			}
		}()
	}
	if w, ok := m.(Windowed); ok {
		w.WindowStart()
	}
	var cpu0 time.Duration
	if m != nil {
		var err error
		if cpu0, err = m.CPU(); err != nil {
			return Result{}, err
		}
	}
	start := time.Now()
	deadline := start.Add(p.Duration)
	for w, op := range ops {
		wg.Add(1)
		if p.Ops > 0 {
			lat[w] = make([]time.Duration, 0, p.Ops/len(ops)+1)
		}
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if p.Ops > 0 {
					if next.Add(1) > int64(p.Ops) {
						return
					}
				} else if !time.Now().Before(deadline) {
					return
				}
				t0 := time.Now()
				err := op()
				d := time.Since(t0)
				if err != nil {
					mu.Lock()
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
					mu.Unlock()
					if failures.Add(1) >= maxErrors {
						stop.Store(true)
					}
					continue
				}
				lat[w] = append(lat[w], d)
				ok[w]++
			}
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	if m != nil {
		cpu1, err := m.CPU()
		if err != nil {
			return Result{}, err
		}
		res.ServerCPU = cpu1 - cpu0
		if w, ok := m.(Windowed); ok {
			w.WindowEnd()
		}
		close(sampleDone)
		res.RSSMax = <-sampled
		mem, err := m.Memory()
		if err != nil {
			return Result{}, err
		}
		res.Peak = mem.Peak
	}
	for w := range ops {
		res.Ops += ok[w]
		res.Latencies = append(res.Latencies, lat[w]...)
	}
	return res, nil
}
