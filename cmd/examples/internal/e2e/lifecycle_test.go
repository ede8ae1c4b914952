package e2e

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/examples/internal/demo"
	"github.com/certbound/certbound/cmd/examples/internal/identity"
	"github.com/certbound/certbound/cmd/examples/internal/tasks"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// shortLife is the certificate lifetime of these tests: renewal falls due at
// two thirds of it (±5 %), expiry a third later. Long enough that a loaded
// machine still sets up a test before the first renewal.
const shortLife = 5 * time.Second

// TestIdentityOpen covers the start-up path both services share: enroll into
// an empty directory, load what is there on the next start, refuse to start
// without a token, and enroll again over an expired certificate.
func TestIdentityOpen(t *testing.T) {
	srv := startServer(t, binaries(t), "--cert-lifetime", shortLife.String())
	ctx := context.Background()
	cli(t, srv, "client", "create", "taskservice", "--scope", "event.create", "--audience", "event")
	dir := filepath.Join(t.TempDir(), "taskservice")
	open := func(token string) (*enrollclient.Renewer, bool, error) {
		cfg := identity.Config{Server: srv.URL, Fingerprint: srv.Fingerprint, Dir: dir}
		if token != "" {
			cfg.Token = secret.FromString(token)
		}
		return identity.Open(ctx, cfg)
	}

	if _, _, err := open(""); !errors.Is(err, identity.ErrNoToken) {
		t.Fatalf("reject/empty-dir-no-token: got %v, want ErrNoToken", err)
	}
	r, enrolled, err := open(cli(t, srv, "enroll-token", "create", "--client", "taskservice"))
	if err != nil || !enrolled {
		t.Fatalf("accept/enroll: enrolled=%t err=%v", enrolled, err)
	}
	first := r.Current()
	if first.ID.String() != "spiffe://certbound.local/taskservice" {
		t.Fatalf("accept/enroll: identity %s", first.ID)
	}
	r, enrolled, err = open("")
	if err != nil || enrolled || r.Current().Serial != first.Serial {
		t.Fatalf("accept/load: enrolled=%t err=%v, want the same certificate loaded", enrolled, err)
	}

	time.Sleep(time.Until(first.NotAfter) + 100*time.Millisecond)
	if _, _, err := open(""); !errors.Is(err, identity.ErrNoToken) {
		t.Fatalf("reject/expired-no-token: got %v, want ErrNoToken", err)
	}
	r, enrolled, err = open(cli(t, srv, "enroll-token", "create", "--client", "taskservice"))
	if err != nil || !enrolled || r.Current().Serial == first.Serial {
		t.Fatalf("accept/re-enroll-after-expiry: enrolled=%t err=%v", enrolled, err)
	}
}

// TestRenewal runs both services with 5-second certificates and their
// Renewers running: after the task service's certificate is renewed, its next
// event gets a new token bound to the new certificate (RFC 8705 §6.3) and is
// accepted, while the token bound to the old certificate is refused.
func TestRenewal(t *testing.T) {
	srv := startServer(t, binaries(t), "--cert-lifetime", shortLife.String())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	calID := enrollService(t, srv, "calendarservice", nil)
	taskID := enrollService(t, srv, "taskservice", []string{"--scope", "event.create", "--audience", "event"})
	renewed := make(chan *enrollclient.Identity, 4)
	taskID = reopen(t, srv, taskID, func(id *enrollclient.Identity) {
		select {
		case renewed <- id:
		default: // never block the Renewer
		}
	})
	_, calURL := startCalendar(t, srv, calID)
	for _, r := range []*enrollclient.Renewer{calID, taskID} {
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	client, err := tasks.New(tasks.Config{Server: srv.URL, ClientID: "taskservice", EventsURL: calURL + "/events", CalendarID: calendarID, Renewer: taskID})
	if err != nil {
		t.Fatal(err)
	}
	oldX5t := certs.X5tS256(taskID.Leaf().Raw)
	before, err := client.CreateEvent(ctx, tasks.SeedEvent)
	if err != nil || before.Status != http.StatusCreated {
		t.Fatalf("before renewal: %v %+v", err, before)
	}
	if len(renewed) > 0 {
		t.Fatalf("the certificate was renewed before the first event (setup took more than %s)", shortLife*2/3)
	}

	select {
	case <-renewed:
	case <-time.After(3 * shortLife):
		t.Fatal("the task service's certificate was not renewed")
	}
	if certs.X5tS256(taskID.Leaf().Raw) == oldX5t {
		t.Fatal("renewed, but the Renewer still serves the old certificate")
	}
	after, err := client.CreateEvent(ctx, tasks.SeedEvent)
	if err != nil || after.Status != http.StatusCreated {
		t.Fatalf("after renewal: %v %+v", err, after)
	}
	if after.Token.Reveal() == before.Token.Reveal() {
		t.Fatal("after renewal the task service sent the token bound to its old certificate")
	}
	stale, err := tasks.PostEvent(ctx, taskID.HTTPClientFor(calendarID), calURL+"/events", before.Token, tasks.SeedEvent)
	if err != nil {
		t.Fatal(err)
	}
	if stale.Status != http.StatusUnauthorized {
		t.Fatalf("the token of the old certificate with the new one: got %d, want 401", stale.Status)
	}
}

// reopen returns a new Renewer for r's directory that reports renewals to
// onRenew and retries quickly.
func reopen(t *testing.T, srv *demo.Server, r *enrollclient.Renewer, onRenew func(*enrollclient.Identity)) *enrollclient.Renewer {
	t.Helper()
	n, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{Dir: r.Current().Dir, Server: srv.URL, OnRenew: onRenew, RetryMin: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
