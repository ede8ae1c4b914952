package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Why a clock of its own: single use and expiry are decided against "now"
// (a token unexpired at now, a certificate valid at now, a key retired at
// its CreatedAt). Replicas on different hosts whose clocks drift apart would
// decide the same question differently — one refuses a token as expired that
// another still redeems. Every replica measures the offset of its clock to
// the database server's, the one clock they all reach, and the server uses
// Now (local clock + offset) wherever it asks for the time, so that replicas
// agree to within the measurement's error (half a round trip).

// Clock re-measures the offset this often, to follow a local clock that is
// stepped or drifts.
const clockPeriod = time.Minute

// clockSamples: each measurement keeps the sample with the shortest round
// trip, whose midpoint is the tightest estimate.
const clockSamples = 5

// clock holds the measured offset to the database server's clock.
type clock struct {
	off atomic.Int64 // nanoseconds to add to the local clock
}

// Now returns the local clock corrected by the measured offset to the
// database server's clock (storage.Clock). Replicas on one database agree on
// it to within a few milliseconds on a LAN.
func (db *DB) Now() time.Time { return time.Now().Add(db.clock.offset()) }

// ClockOffset returns the offset last measured: the database server's clock
// minus the local one.
func (db *DB) ClockOffset() time.Duration { return db.clock.offset() }

func (c *clock) offset() time.Duration { return time.Duration(c.off.Load()) }

// measure samples clock_timestamp() a few times and keeps the offset of the
// sample with the shortest round trip, taking the server's reading as made
// at the round trip's midpoint.
func (c *clock) measure(ctx context.Context, pool *pgxpool.Pool) error {
	var best, bestRTT time.Duration = 0, -1
	for range clockSamples {
		var server time.Time
		start := time.Now()
		if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&server); err != nil {
			return fmt.Errorf("postgres: measure the clock offset: %w", translate(err))
		}
		end := time.Now()
		rtt := end.Sub(start)
		if bestRTT < 0 || rtt < bestRTT {
			mid := start.Add(rtt / 2)
			best, bestRTT = server.Sub(mid), rtt
		}
	}
	c.off.Store(int64(best))
	return nil
}

// run re-measures every clockPeriod until ctx ends. A failed measurement
// keeps the last offset: the local clock does not jump in a minute.
func (c *clock) run(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	t := time.NewTicker(clockPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := c.measure(mctx, pool); err != nil && ctx.Err() == nil {
			log.Warn("postgres: clock offset not measured; keeping the last", slog.Any("error", err))
		}
		cancel()
	}
}
