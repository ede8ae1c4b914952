package httpapi

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Rate limits (SPEC §4; RFC 6749 §2.3.1 "MUST protect any endpoint utilizing
// it against brute force attacks"). Three token-bucket limiters, each with
// one bucket per key:
//
//   - enrollment and renewal: requests per second per source address;
//   - token requests: per AUTHENTICATED client, applied by tokenex after
//     client authentication (ClientLimiter), so that nobody can drain a
//     victim's bucket by sending its client_id;
//   - failed authentications: per source address, on every route that takes
//     credentials; a source whose bucket is empty is refused before its
//     credentials are checked, so a correct guess cannot show through.
//
// Over a limit: 429 with Retry-After. Sources are TCP peers (forwarding
// headers are client input), IPv6 addresses by their /64. Each limiter's
// table is bounded in memory whatever the number of sources: idle buckets
// are dropped and at most maxBuckets are kept (least recently seen out).

// maxBuckets caps each limiter's table, whatever the number of source
// addresses: about 250 bytes a bucket, so some 16 MiB per limiter at most.
// When a new key finds the table full, the least recently seen key is
// evicted and starts again with a full bucket. So a flood of more than
// maxBuckets distinct sources inside the idle window (an IPv6 /48 holds
// 65,536 /64s) can reset the limits of sources seen less recently than all
// of them; a busy source, seen again before that many others, keeps its
// state. A flood from that many addresses gets that many buckets' worth of
// requests in any case.
const maxBuckets = 1 << 16

// table maps keys to per-key state, most recently seen first, with at most
// maxBuckets entries. Not safe for concurrent use: its owner's mutex guards it.
type table[V any] struct {
	items map[string]*list.Element // values are *entry[V]
	order list.List                // front: most recently seen
}

type entry[V any] struct {
	key  string
	seen time.Time
	v    V
}

// get returns key's entry marked as seen now, creating it with fresh() and
// evicting the least recently seen entry when the table is full. It first
// drops the entries idle for longer than keep: the oldest first, stopping
// at the first that is not, so it costs O(1) per entry ever created.
func (t *table[V]) get(key string, now time.Time, keep time.Duration, fresh func() V) *entry[V] {
	if t.items == nil {
		t.items = map[string]*list.Element{}
	}
	for b := t.order.Back(); b != nil && now.Sub(b.Value.(*entry[V]).seen) > keep; b = t.order.Back() {
		t.remove(b)
	}
	if el, ok := t.items[key]; ok {
		e := el.Value.(*entry[V])
		e.seen = now
		t.order.MoveToFront(el)
		return e
	}
	if len(t.items) >= maxBuckets {
		t.remove(t.order.Back())
	}
	e := &entry[V]{key: key, seen: now, v: fresh()}
	t.items[key] = t.order.PushFront(e)
	return e
}

func (t *table[V]) remove(el *list.Element) {
	delete(t.items, el.Value.(*entry[V]).key)
	t.order.Remove(el)
}

// limiter is a set of token buckets, one per key. Buckets idle for a while
// are dropped and the table is capped (maxBuckets), so that a flood of new
// keys cannot grow it without bound.
type limiter struct {
	rate  rate.Limit
	burst int
	keep  time.Duration // idle time after which a bucket is full again and dropped
	now   func() time.Time

	mu      sync.Mutex
	buckets table[*rate.Limiter] // guarded by mu
}

// idleAfter is how long an untouched bucket is kept at least. Buckets
// refill within burst/rate seconds; keep them at least that long so that
// dropping one never hands out a fresh burst early.
const idleAfter = time.Minute

// newLimiter returns nil (no limit) for perSecond <= 0. burst <= 0 means a
// second's worth of requests.
func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	keep := max(idleAfter, time.Duration(float64(burst)/perSecond*float64(time.Second)))
	return &limiter{rate: rate.Limit(perSecond), burst: burst, keep: keep, now: now}
}

// allow takes a token from key's bucket. When there is none it returns how
// long until there will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets.get(key, now, l.keep, func() *rate.Limiter { return rate.NewLimiter(l.rate, l.burst) }).v
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// size is the number of buckets held.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets.items)
}

// failureLimiter is a token bucket per source for failed authentications.
// A source may present credentials while its bucket holds a token; each 401
// it gets costs one. Requests are not held while they run: a fleet behind
// one NAT address may have any number of requests in flight. Parallel
// failures are all charged — the bucket may go below zero, down to -burst —
// so a burst of parallel guesses buys no more than it would one by one, it
// only arrives before the refusal does. The table is capped like limiter's.
type failureLimiter struct {
	rate  float64       // tokens per second, > 0
	burst float64       // >= 1
	keep  time.Duration // idle time after which any bucket is full again
	now   func() time.Time

	mu      sync.Mutex
	buckets table[*failBucket] // guarded by mu; a missing bucket is full
}

type failBucket struct {
	tokens float64
	last   time.Time
}

// newFailureLimiter returns nil (no limit) for perSecond <= 0. The burst is
// two seconds' worth (at least 1).
func newFailureLimiter(perSecond float64, now func() time.Time) *failureLimiter {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, math.Ceil(2*perSecond))
	// From the lowest level, -burst, a bucket is full after 2*burst/rate.
	keep := max(idleAfter, time.Duration(2*burst/perSecond*float64(time.Second)))
	return &failureLimiter{rate: perSecond, burst: burst, keep: keep, now: now}
}

// bucketLocked returns key's bucket refilled to now. Caller holds f.mu.
func (f *failureLimiter) bucketLocked(key string, now time.Time) *failBucket {
	b := f.buckets.get(key, now, f.keep, func() *failBucket { return &failBucket{tokens: f.burst, last: now} }).v
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(f.burst, b.tokens+el*f.rate)
	}
	b.last = now
	return b
}

// allow reports whether key may try to authenticate; when it may not, it
// returns how long until it may.
func (f *failureLimiter) allow(key string) (bool, time.Duration) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucketLocked(key, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / f.rate * float64(time.Second))
	}
	return true, 0
}

// fail charges one failed authentication to key.
func (f *failureLimiter) fail(key string) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucketLocked(key, now)
	b.tokens = max(-f.burst, b.tokens-1)
}

// size is the number of buckets held.
func (f *failureLimiter) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.buckets.items)
}

// RateLimitError is a request refused by a rate limit. The edge answers 429
// with Retry-After.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return "rate limited; retry after " + e.RetryAfter.String()
}

// ClientLimiter is the admission check for token requests: at most a rate
// per authenticated client, with a burst of one second's worth. tokenex
// calls Admit after authenticating the client and before signing; its
// *RateLimitError becomes a 429. SetRate changes the rate (SIGHUP).
type ClientLimiter struct {
	now func() time.Time
	l   atomic.Pointer[limiter] // nil: no limit
}

// NewClientLimiter returns a limiter of perSecond per client (0: no limit).
func NewClientLimiter(perSecond float64, now func() time.Time) *ClientLimiter {
	if now == nil {
		now = time.Now
	}
	c := &ClientLimiter{now: now}
	c.SetRate(perSecond)
	return c
}

// SetRate replaces the rate; every client starts again with a full bucket.
func (c *ClientLimiter) SetRate(perSecond float64) { c.l.Store(newLimiter(perSecond, 0, c.now)) }

// Admit implements tokenex.Config.Admit.
func (c *ClientLimiter) Admit(clientID string) error {
	if l := c.l.Load(); l != nil {
		if ok, wait := l.allow(clientID); !ok {
			return &RateLimitError{RetryAfter: wait}
		}
	}
	return nil
}

// sourceKey is the rate-limit key of a source address: the IP, or for IPv6
// its /64, which one host or site usually owns whole.
func sourceKey(ip string) string {
	addr := net.ParseIP(ip)
	if addr == nil || addr.To4() != nil {
		return ip
	}
	return addr.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// tooManyRequests is the 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3).
func tooManyRequests(wait time.Duration) *apiError {
	return &apiError{Status: 429, Code: codeTooManyRequests, Description: "too many requests; retry later",
		RetryAfter: wait, Reason: "rate_limited"}
}

func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// limitEnroll applies the per-source-address limit to enrollment and renewal.
func (a *API) limitEnroll(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if l := a.enrollLimit.Load(); l != nil {
			if ok, wait := l.allow(sourceKey(c.RealIP())); !ok {
				return tooManyRequests(wait)
			}
		}
		return next(c)
	}
}

// limitAuthFailures limits the failed authentications (401s) of each
// source: a source whose bucket is empty gets 429 before its credentials are
// looked at, and each 401 empties it by one.
func (a *API) limitAuthFailures(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := a.failureLimit.Load()
		if limit == nil {
			return next(c)
		}
		src := sourceKey(c.RealIP())
		if ok, wait := limit.allow(src); !ok {
			e := tooManyRequests(wait)
			e.Reason = "auth_failures_rate_limited"
			return e
		}
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = classify(err).Status
		}
		if status == http.StatusUnauthorized {
			limit.fail(src)
		}
		return err
	}
}
