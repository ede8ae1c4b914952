package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// limiter is a set of token buckets, one per key (a source address or a
// client id). Buckets idle for a while are dropped so that a flood of new
// keys cannot grow it without bound.
type limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket // guarded by mu
	lastSweep time.Time          // guarded by mu
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleAfter is how long an untouched bucket is kept. A bucket refills
// completely within burst/rate seconds, so dropping it later loses nothing.
const idleAfter = time.Minute

// newLimiter returns nil (no limit) for perSecond <= 0. The burst allows a
// second's worth of requests at once.
func newLimiter(perSecond float64, now func() time.Time) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{rate: rate.Limit(perSecond), burst: max(1, int(math.Ceil(perSecond))), now: now,
		buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket. When there is none it returns how
// long until there will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tooManyRequests is the 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3).
func tooManyRequests(c echo.Context, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	c.Set(ctxReason, "rate_limited")
	return &apiError{Status: 429, Code: codeTooManyRequests, Description: "too many requests; retry later"}
}

// limitEnroll applies the per-source-address limit to enrollment and renewal.
func (a *API) limitEnroll(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a.enrollLimit != nil {
			if ok, wait := a.enrollLimit.allow(c.RealIP()); !ok {
				return tooManyRequests(c, wait)
			}
		}
		return next(c)
	}
}
