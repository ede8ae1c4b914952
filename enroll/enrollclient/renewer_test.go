package enrollclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// startRenewer runs a Renewer for dir until the test ends and returns it
// with a channel of the identities it reports through OnRenew, and one of
// the errors it reports through OnError.
func startRenewer(t *testing.T, cfg enrollclient.RenewerConfig) (*enrollclient.Renewer, <-chan *enrollclient.Identity, <-chan error) {
	t.Helper()
	renewed := make(chan *enrollclient.Identity, 16)
	errs := make(chan error, 16)
	cfg.OnRenew = func(id *enrollclient.Identity) { renewed <- id }
	cfg.OnError = func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	r, err := enrollclient.NewRenewer(cfg)
	if err != nil {
		t.Fatalf("NewRenewer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
	return r, renewed, errs
}

func waitRenewed(t *testing.T, ch <-chan *enrollclient.Identity, within time.Duration) *enrollclient.Identity {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(within):
		t.Fatalf("no renewal within %s", within)
		return nil
	}
}

// TestRenewerRotatesWithoutRestart: with 3-second certificates the Renewer
// renews at about 2 s, and a server and a client built once from its TLS
// configs switch to the new certificate on their next handshake.
func TestRenewerRotatesWithoutRestart(t *testing.T) {
	t.Parallel()
	const life = 3 * time.Second
	ws := newWireServer(t, newTestCA(t))
	ws.setLifetime(life, 0)
	first := enrollFixture(t, ws)
	ws.setLifetime(time.Hour, 0) // so the renewed certificate stays while the test looks at it
	r, renewed, _ := startRenewer(t, enrollclient.RenewerConfig{Dir: first.Dir, Server: ws.URL, PollInterval: time.Hour})

	// A resource server and a client of it, both using the same identity.
	rs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if len(req.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, certs.SerialString(req.TLS.PeerCertificates[0].SerialNumber))
	}))
	rs.TLS = r.ServerTLSConfig()
	rs.Config.ErrorLog = log.New(io.Discard, "", 0)
	rs.StartTLS()
	t.Cleanup(rs.Close)
	url := strings.Replace(rs.URL, "127.0.0.1", "localhost", 1) // the SVID carries DNS name localhost
	client := r.HTTPClient()

	serverSerial, clientSerial := call(t, client, url)
	if serverSerial != first.Serial || clientSerial != first.Serial {
		t.Fatalf("before renewal: server %s, client %s, want both %s", serverSerial, clientSerial, first.Serial)
	}
	if got := r.NextRenewal(); got.Before(first.NotBefore.Add(life*2/3-life/20-time.Millisecond)) || !got.Before(first.NotAfter) {
		t.Errorf("NextRenewal = %s after NotBefore, want 2/3 of %s ± 5 %%", got.Sub(first.NotBefore), life)
	}

	second := waitRenewed(t, renewed, life)
	at := ws.times("/v1/renew")[0].Sub(first.NotBefore)
	if lo, hi := life*2/3-life/20-10*time.Millisecond, life*2/3+life/20+500*time.Millisecond; at < lo || at > hi {
		t.Errorf("renewed %s after NotBefore, want within [%s, %s]", at, lo, hi)
	}
	if second.Serial == first.Serial {
		t.Fatal("renewal kept the serial")
	}
	if r.Current() != second {
		t.Error("Current does not return the renewed identity")
	}
	serverSerial, clientSerial = call(t, client, url)
	if serverSerial != second.Serial || clientSerial != second.Serial {
		t.Fatalf("after renewal: server %s, client %s, want both %s", serverSerial, clientSerial, second.Serial)
	}

	// A client config built once also presents the new certificate.
	conn, err := tls.Dial("tcp", rs.Listener.Addr().String(), withServerName(r.ClientTLSConfig(), "localhost"))
	if err != nil {
		t.Fatalf("handshake with ClientTLSConfig: %v", err)
	}
	defer conn.Close()
	if got := certs.SerialString(conn.ConnectionState().PeerCertificates[0].SerialNumber); got != second.Serial {
		t.Errorf("raw handshake: server serial %s, want %s", got, second.Serial)
	}
}

// call GETs url and returns the serial of the server's certificate and
// the serial of our client certificate as the server saw it.
func call(t *testing.T, c *http.Client, url string) (server, client string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s %s", resp.Status, body)
	}
	return certs.SerialString(resp.TLS.PeerCertificates[0].SerialNumber), string(body)
}

func withServerName(c *tls.Config, name string) *tls.Config {
	c.ServerName = name
	return c
}

// TestRenewerHonoursRetryAfter: a 429 with Retry-After: 1 delays the next
// attempt by at least a second although RetryMin is far shorter.
func TestRenewerHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	ws := newWireServer(t, newTestCA(t))
	ws.setLifetime(10*time.Second, 7*time.Second) // 2/3 of the life has passed: renew at once
	id := enrollFixture(t, ws)
	ws.setLifetime(time.Hour, 0) // the renewed certificate is not due at once again
	ws.failNext("/v1/renew", wireFailure{status: http.StatusTooManyRequests, code: "rate_limited", desc: "slow down", retryAfter: "1"})

	_, renewed, errs := startRenewer(t, enrollclient.RenewerConfig{
		Dir: id.Dir, Server: ws.URL, RetryMin: 20 * time.Millisecond, PollInterval: time.Hour,
	})
	waitRenewed(t, renewed, 15*time.Second) // an upper bound: a loaded CI machine is slow

	var se *enrollclient.ServerError
	select {
	case err := <-errs:
		if !errors.As(err, &se) || se.Status != http.StatusTooManyRequests || se.RetryAfter != time.Second {
			t.Fatalf("OnError got %v, want a 429 *ServerError with RetryAfter 1s", err)
		}
	default:
		t.Fatal("OnError was not called for the 429")
	}
	hits := ws.times("/v1/renew")
	if len(hits) != 2 {
		t.Fatalf("server saw %d renewal attempts, want 2", len(hits))
	}
	if gap := hits[1].Sub(hits[0]); gap < time.Second-10*time.Millisecond {
		t.Errorf("second attempt %s after the 429, want ≥ 1s (Retry-After)", gap)
	}
}

// TestRenewerBacksOff: failures without Retry-After are retried with
// growing delays starting at RetryMin.
func TestRenewerBacksOff(t *testing.T) {
	t.Parallel()
	ws := newWireServer(t, newTestCA(t))
	ws.setLifetime(time.Minute, 45*time.Second)
	id := enrollFixture(t, ws)
	ws.setLifetime(time.Hour, 0)
	for range 3 {
		ws.failNext("/v1/renew", wireFailure{status: http.StatusServiceUnavailable, code: "server_error"})
	}
	const retryMin = 100 * time.Millisecond
	_, renewed, _ := startRenewer(t, enrollclient.RenewerConfig{Dir: id.Dir, Server: ws.URL, RetryMin: retryMin, PollInterval: time.Hour})
	waitRenewed(t, renewed, 15*time.Second)

	hits := ws.times("/v1/renew")
	if len(hits) != 4 {
		t.Fatalf("server saw %d attempts, want 4", len(hits))
	}
	for i, want := range []time.Duration{retryMin, 2 * retryMin, 4 * retryMin} {
		if gap := hits[i+1].Sub(hits[i]); gap < want-10*time.Millisecond {
			t.Errorf("gap before attempt %d = %s, want ≥ %s", i+2, gap, want)
		}
	}
}

// TestRenewerAdoptsRenewalByAnotherProcess: when `certbound renew` (or any
// other process) renews the directory, a running Renewer serves the new
// identity after its next poll, without renewing itself.
func TestRenewerAdoptsRenewalByAnotherProcess(t *testing.T) {
	t.Parallel()
	ws := newWireServer(t, newTestCA(t))
	id := enrollFixture(t, ws) // 1h certificate: the Renewer itself would wait 40 min
	r, renewed, _ := startRenewer(t, enrollclient.RenewerConfig{Dir: id.Dir, Server: ws.URL, PollInterval: 20 * time.Millisecond})

	other, err := enrollclient.Renew(t.Context(), id.Dir, ws.URL)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	got := waitRenewed(t, renewed, 15*time.Second)
	if got.Serial != other.Serial || r.Current().Serial != other.Serial {
		t.Fatalf("Renewer serves %s, want %s", r.Current().Serial, other.Serial)
	}
	if n := len(ws.times("/v1/renew")); n != 1 {
		t.Errorf("server saw %d renewals, want 1 (the other process's)", n)
	}
}

func TestNewRenewerRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     enrollclient.RenewerConfig
		wantErr error
	}{
		{"reject/http-server", enrollclient.RenewerConfig{Dir: t.TempDir(), Server: "http://localhost:8443"}, enrollclient.ErrInvalidServerURL},
		{"reject/empty-dir", enrollclient.RenewerConfig{Dir: t.TempDir(), Server: "https://localhost:8443"}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := enrollclient.NewRenewer(tt.cfg); !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewRenewer error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestNextRenewalBeforeRun: `certbound renew --watch` prints the plan
// before Run starts, so it must exist from NewRenewer on and stay put.
func TestNextRenewalBeforeRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nb := time.Now().Add(-time.Minute)
	newTestCA(t).writeIdentity(t, dir, nb, nb.Add(3*time.Hour))
	r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{Dir: dir, Server: "https://localhost:8443"})
	if err != nil {
		t.Fatal(err)
	}
	at := r.NextRenewal().Sub(nb)
	if lo, hi := 2*time.Hour-9*time.Minute, 2*time.Hour+9*time.Minute; at < lo || at > hi {
		t.Fatalf("NextRenewal = NotBefore + %s, want 2h ± 9m", at)
	}
	if again := r.NextRenewal().Sub(nb); again != at {
		t.Fatalf("NextRenewal moved from %s to %s without a renewal", at, again)
	}
}
