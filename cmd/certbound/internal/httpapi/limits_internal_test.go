package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLimiterBurstRefillAndKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := newLimiter(10, 0, clk.Now) // burst 10
	for i := range 10 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("11th request: ok=%v wait=%v, want refused with wait <= 100ms", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	clk.Advance(100 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("no refill after 1/rate")
	}
	if newLimiter(0, 0, clk.Now) != nil || newLimiter(-1, 0, clk.Now) != nil {
		t.Fatal("a zero or negative rate must mean no limiter")
	}
}

func TestLimiterForgetsIdleBuckets(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := newLimiter(1, 0, clk.Now)
	for i := range 1000 {
		l.allow(strings.Repeat("k", i%50) + string(rune('a'+i%26)))
	}
	clk.Advance(2 * idleAfter)
	l.allow("fresh")
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets kept after they idled, want 1", n)
	}
}

func TestFailureLimiterChargesFailuresNotRequests(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	f := newFailureLimiter(10, clk.Now) // burst 20
	// Requests that do not fail cost nothing, however many there are: a
	// fleet behind one NAT address is not limited by this.
	for i := range 1000 {
		if ok, _ := f.allow("src"); !ok {
			t.Fatalf("request %d refused without any failure", i)
		}
	}
	// 20 failures empty the bucket; the next attempt waits.
	for range 20 {
		f.fail("src")
	}
	if ok, wait := f.allow("src"); ok || wait <= 0 {
		t.Fatalf("after 20 failures: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := f.allow("other"); !ok {
		t.Fatal("another source is limited too")
	}
	clk.Advance(time.Second) // 10 tokens back
	if ok, _ := f.allow("src"); !ok {
		t.Fatal("not refilled after a second")
	}
	// Parallel failures all count: 30 more in flight at once push the bucket
	// below zero, so the source waits for them too (but never more than
	// 2 × burst / rate).
	for range 30 {
		f.fail("src")
	}
	clk.Advance(2 * time.Second) // 20 back: still below one
	if ok, _ := f.allow("src"); ok {
		t.Fatal("parallel failures were not all charged")
	}
	clk.Advance(2 * time.Second)
	if ok, _ := f.allow("src"); !ok {
		t.Fatal("the debt is capped at one burst")
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":     "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":         "::ffff:192.0.2.1",
		"not an address":           "not an address",
		"2001:db8:1:3:0:0:0:1":     "2001:db8:1:3::/64",
		"fe80::1":                  "fe80::/64",
		"2001:0db8:0001:0002::abc": "2001:db8:1:2::/64",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientLimiter(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	off := NewClientLimiter(0, clk.Now)
	for range 1000 {
		if err := off.Admit("a"); err != nil {
			t.Fatal("rate 0 must turn the limit off")
		}
	}
	cl := NewClientLimiter(5, clk.Now)
	admit := cl.Admit
	for i := range 5 {
		if err := admit("a"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := admit("a")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("6th request: %v, want a RateLimitError with a wait", err)
	}
	if err := admit("b"); err != nil {
		t.Fatalf("another client: %v", err)
	}
	if ae := classify(err); ae.Status != 429 || ae.RetryAfter != rl.RetryAfter {
		t.Fatalf("classified as %+v", ae)
	}
	// A new rate applies at once (SIGHUP), with full buckets.
	cl.SetRate(50)
	for i := range 50 {
		if err := admit("a"); err != nil {
			t.Fatalf("after SetRate(50), request %d: %v", i, err)
		}
	}
	if admit("a") == nil {
		t.Fatal("the new rate is not enforced")
	}
	cl.SetRate(0)
	if admit("a") != nil {
		t.Fatal("SetRate(0) must turn the limit off")
	}
}

func TestNoDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"a":1,"b":2}`, true},
		{`{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, true},
		{`[{"a":1},{"a":1}]`, true},
		{`{"a":"b","b":"a"}`, true},
		{`{"a":1,"a":2}`, false},
		{`{"token":"x","TOKEN":"y"}`, false}, // encoding/json would let the last one win
		{`{"Csr":"x","csr":"y"}`, false},
		{`{"a":{"x":1,"x":2}}`, false},
		{`{"a":[{"x":1,"y":{"z":1,"z":1}}]}`, false},
		{`{"a":{},"a":[]}`, false},
		{`{"a":[1,2],"b":{"c":[3]},"a":0}`, false},
		{`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false},
		{`{"a":`, true}, // syntax errors are the decoder's to report
	} {
		err := noDuplicateKeys([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.body, err)
		}
	}
}

func TestRecoverPanicAnswersJSON500(t *testing.T) {
	var logBuf strings.Builder
	a := &API{log: slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf}, nil)), now: time.Now}
	e := echo.New()
	e.HTTPErrorHandler = a.handleError
	e.Use(a.requestLog, a.recoverPanic)
	e.GET("/boom", func(echo.Context) error { panic("secret-looking value cbs_xyz") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"server_error"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logBuf.String(), "handler panicked") || strings.Contains(logBuf.String(), "cbs_xyz") {
		t.Fatalf("log: %s", logBuf.String())
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// floodKey is the source key of the i-th address of a flood: IPv4 for even
// i, IPv6 in its own /64 for odd i (as an attacker with a /32 can send).
func floodKey(i int) string {
	if i%2 == 0 {
		return sourceKey(fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff))
	}
	return sourceKey(fmt.Sprintf("2001:db8:%x:%x:1:2:3:4", i>>16, i&0xffff))
}

// TestLimiterTablesStayBounded: a million distinct source addresses within
// the idle window leave each table at most maxBuckets entries, and a busy
// source that keeps coming back keeps its state: it stays limited throughout.
// (Under the race detector, 200,000 addresses: still three times the cap.)
func TestLimiterTablesStayBounded(t *testing.T) {
	const busy = "198.51.100.7"
	flood := 1_000_000
	if raceBuild {
		flood = 200_000
	}
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}

	l := newLimiter(100, 0, clk.Now) // burst 100
	for range 100 {
		l.allow(busy)
	}
	f := newFailureLimiter(10, clk.Now) // burst 20
	for range 20 {
		f.fail(busy)
	}
	for i := range flood {
		k := floodKey(i)
		l.allow(k)
		f.fail(k)
		if i%1000 == 0 {
			if ok, _ := l.allow(busy); ok {
				t.Fatalf("after %d flood addresses the busy source got a fresh burst (enrollment limit)", i)
			}
			if ok, _ := f.allow(busy); ok {
				t.Fatalf("after %d flood addresses the busy source's failures were forgotten", i)
			}
		}
		if i%100_000 == 0 {
			clk.Advance(time.Microsecond) // time passes, well inside the idle window and the refill
		}
	}
	if n := l.size(); n > maxBuckets {
		t.Fatalf("enrollment limiter holds %d buckets, cap %d", n, maxBuckets)
	}
	if n := f.size(); n > maxBuckets {
		t.Fatalf("failure limiter holds %d buckets, cap %d", n, maxBuckets)
	}
	// A source the flood evicted starts again with a full bucket: that is
	// the price of the cap, and the reason it is large.
	if ok, _ := l.allow(floodKey(0)); !ok {
		t.Fatal("an evicted source is refused")
	}
}
