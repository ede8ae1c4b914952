package main

import (
	"errors"
	"time"

	"github.com/certbound/certbound/cmd/bench/internal/load"
	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// replicasMeter meters several replicas as one service: CPU is the sum of
// their CPU times (the cost of an operation is what the service spent on
// it, wherever the load balancer sent it); memory is the largest replica's,
// since each replica is sized on its own. PostgreSQL's own processes are not
// in it.
type replicasMeter []*proc.Server

func (m replicasMeter) CPU() (time.Duration, error) {
	var sum time.Duration
	for _, s := range m {
		c, err := s.CPU()
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}

func (m replicasMeter) Memory() (proc.Memory, error) {
	var out proc.Memory
	for _, s := range m {
		x, err := s.Memory()
		if err != nil {
			return proc.Memory{}, err
		}
		out.RSS, out.Peak = max(out.RSS, x.RSS), max(out.Peak, x.Peak)
	}
	return out, nil
}

func (m replicasMeter) ResetPeak() error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.ResetPeak())
	}
	return errors.Join(errs...)
}

var _ load.Meter = replicasMeter(nil)

// resetMeter meters the env's servers again after a profiled step.
func (e *env) resetMeter() {
	if len(e.srvs) == 1 {
		e.meter = e.srv
		return
	}
	e.meter = replicasMeter(e.srvs)
}
