package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/examples/internal/calendar"
	"github.com/certbound/certbound/cmd/examples/internal/demo"
	"github.com/certbound/certbound/cmd/examples/internal/identity"
	"github.com/certbound/certbound/cmd/examples/internal/tasks"
	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
)

// startServer starts `certbound serve` from bin on a fresh data dir and stops
// it when the test ends.
func startServer(t *testing.T, bin string, flags ...string) *demo.Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := demo.StartServer(context.Background(), filepath.Join(bin, "certbound"), filepath.Join(dir, "data"), filepath.Join(dir, "certbound.log"), flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("certbound log:\n%s", srv.Tail(40))
		}
	})
	return srv
}

// cli runs a certbound admin command and returns its stdout, trimmed.
func cli(t *testing.T, srv *demo.Server, args ...string) string {
	t.Helper()
	out, err := srv.CLI(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// enrollService registers a client through the CLI, mints its enrollment
// token through the CLI and opens its identity as the example services do.
func enrollService(t *testing.T, srv *demo.Server, client string, register []string, dns ...string) *enrollclient.Renewer {
	t.Helper()
	cli(t, srv, append([]string{"client", "create", client}, register...)...)
	mint := []string{"enroll-token", "create", "--client", client}
	for _, d := range dns {
		mint = append(mint, "--dns", d)
	}
	token := cli(t, srv, mint...)
	r, enrolled, err := identity.Open(context.Background(), identity.Config{
		Server: srv.URL, Fingerprint: srv.Fingerprint, Token: secret.FromString(token),
		Dir: filepath.Join(t.TempDir(), client), DNSNames: dns,
	})
	if err != nil {
		t.Fatalf("%s: %v", client, err)
	}
	if !enrolled {
		t.Fatalf("%s: identity.Open loaded an identity from an empty directory", client)
	}
	return r
}

// calendarID is the calendar service's identity: callers authorize it by
// this SPIFFE ID; its certificate carries no DNS name.
var calendarID = certs.ID{TrustDomain: certs.DefaultTrustDomain, ClientID: "calendarservice"}

// startCalendar serves the calendar service with its identity on
// https://127.0.0.1:<port> until the test ends.
func startCalendar(t *testing.T, srv *demo.Server, r *enrollclient.Renewer) (*calendar.Service, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := calendar.NewVerifier(ctx, srv.URL, r.Current().Roots)
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.New(slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: cal.Handler(v), TLSConfig: r.ServerTLSConfig(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("calendar: %v", err)
		}
	})
	return cal, fmt.Sprintf("https://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
}

// TestScenario is `make demo` in one test: a real certbound process, the
// calendar and task services' code in this process. The task service's call
// is accepted (201); its token, copied, is refused without a certificate, with
// another service's certificate and with the calendar service's own (401),
// and still accepted with the task service's certificate.
func TestScenario(t *testing.T) {
	bin := binaries(t)
	srv := startServer(t, bin)
	ctx := context.Background()

	calID := enrollService(t, srv, "calendarservice", nil)
	taskID := enrollService(t, srv, "taskservice", []string{"--scope", "event.create", "--audience", "event"})
	otherID := enrollService(t, srv, "reportservice", []string{"--scope", "report.read", "--audience", "report"})
	cal, calURL := startCalendar(t, srv, calID)

	client, err := tasks.New(tasks.Config{Server: srv.URL, ClientID: "taskservice", EventsURL: calURL + "/events", CalendarID: calendarID, Renewer: taskID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.CreateEvent(ctx, tasks.SeedEvent)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusCreated || !strings.Contains(string(res.Body), `"message":"Event created successfully!"`) {
		t.Fatalf("task service: got %d %s, want 201 and the seed's message", res.Status, res.Body)
	}
	if got := cal.Events(); len(got) != 1 || got[0].CreatedBy != "taskservice" || got[0].Event.Title != tasks.SeedEvent.Title {
		t.Fatalf("calendar holds %+v, want the seed's event created by taskservice", got)
	}
	copied := res.Token

	// No certificate, and no interest in who the server is: an attacker's client.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   int
	}{
		{"reject/no-certificate", plain, http.StatusUnauthorized},
		{"reject/another-service-certificate", otherID.HTTPClientFor(calendarID), http.StatusUnauthorized},
		{"reject/calendar-own-certificate", calID.HTTPClientFor(calendarID), http.StatusUnauthorized},
		{"accept/task-service-certificate", taskID.HTTPClientFor(calendarID), http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tasks.PostEvent(ctx, tc.client, calURL+"/events", copied, tasks.Event{Title: "replayed", Date: "2025-03-26"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("got %d %s, want %d", res.Status, res.Body, tc.want)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("challenge %q, want error=\"invalid_token\"", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := len(cal.Events()); n != 2 {
		t.Fatalf("calendar holds %d events, want 2: the task service's and its own replay", n)
	}

	// The token really is bound to the task service's certificate, and the
	// certificates of the refused replays really are different ones.
	if a, b := certs.X5tS256(taskID.Leaf().Raw), certs.X5tS256(otherID.Leaf().Raw); a == b {
		t.Fatal("task and report services share a certificate")
	}
}

// TestScenarioRefusals covers the other doors of the calendar service: no
// token, a token for another audience, a token for the right audience without
// the scope, and a good token with a body the calendar cannot use.
func TestScenarioRefusals(t *testing.T) {
	srv := startServer(t, binaries(t))
	ctx := context.Background()

	calID := enrollService(t, srv, "calendarservice", nil)
	writer := enrollService(t, srv, "eventwriter", []string{"--scope", "event.create", "--audience", "event"})
	reader := enrollService(t, srv, "eventreader", []string{"--scope", "event.read", "--audience", "event"})
	other := enrollService(t, srv, "reportservice", []string{"--scope", "report.read event.create", "--audience", "report"})
	_, calURL := startCalendar(t, srv, calID)

	tokenFor := func(t *testing.T, r *enrollclient.Renewer, scope, aud string) secret.Secret {
		t.Helper()
		src, err := tokenclient.New(tokenclient.Config{TokenURL: srv.URL + "/oauth2/token", ClientID: r.Current().ID.ClientID,
			Scopes: []string{scope}, Audience: aud, HTTPClient: r.HTTPClient(), Certificate: r.Leaf})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := src.TokenContext(ctx)
		if err != nil {
			t.Fatalf("token for %s: %v", r.Current().ID, err)
		}
		return secret.FromString(tok.AccessToken)
	}

	for _, tc := range []struct {
		name      string
		client    *http.Client
		token     secret.Secret
		event     tasks.Event
		want      int
		challenge string
	}{
		{"reject/no-token", reader.HTTPClientFor(calendarID), secret.Secret{}, tasks.SeedEvent, http.StatusUnauthorized, `Bearer realm="calendar"`},
		{"reject/other-audience", other.HTTPClientFor(calendarID), tokenFor(t, other, "event.create", "report"), tasks.SeedEvent, http.StatusUnauthorized, `error="invalid_token"`},
		{"reject/missing-scope", reader.HTTPClientFor(calendarID), tokenFor(t, reader, "event.read", "event"), tasks.SeedEvent, http.StatusForbidden, `error="insufficient_scope"`},
		{"reject/no-title", writer.HTTPClientFor(calendarID), tokenFor(t, writer, "event.create", "event"), tasks.Event{Date: "2025-03-25"}, http.StatusBadRequest, ""},
		{"accept/writer", writer.HTTPClientFor(calendarID), tokenFor(t, writer, "event.create", "event"), tasks.SeedEvent, http.StatusCreated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tasks.PostEvent(ctx, tc.client, calURL+"/events", tc.token, tc.event)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("got %d %s, want %d", res.Status, res.Body, tc.want)
			}
			got := res.Header.Get("WWW-Authenticate")
			if tc.token.IsZero() && got != tc.challenge { // RFC 6750 §3.1: no error code without a token
				t.Fatalf("challenge %q, want exactly %q", got, tc.challenge)
			}
			if !strings.Contains(got, tc.challenge) {
				t.Fatalf("challenge %q, want it to contain %q", got, tc.challenge)
			}
		})
	}
}
