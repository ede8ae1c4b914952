// Command taskservice is the seed guide's Task Service on certbound: it
// enrolls with a one-time token (or loads the identity it already has), keeps
// its certificate renewed, gets an access token bound to that certificate
// (scope event.create, audience event) and creates an event on the calendar
// service over mutual TLS. See README.md beside this file.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/examples/internal/identity"
	"github.com/certbound/certbound/cmd/examples/internal/tasks"
	"github.com/certbound/certbound/enroll/enrollclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("taskservice", flag.ContinueOnError)
	var (
		idf      identity.Flags
		clientID = fs.String("client-id", "taskservice", "the client id this service was registered as")
		calendar = fs.String("calendar", "https://127.0.0.1:9444", "calendar service base URL (its host name is not checked: --calendar-id is)")
		calID    = fs.String("calendar-id", "spiffe://certbound.local/calendarservice", "SPIFFE ID the calendar service's certificate must carry")
		once     = fs.Bool("once", false, "create one event, print the answer and exit: 0 if the calendar answered 201")
		interval = fs.Duration("interval", 10*time.Second, "without --once: time between two events")
		tokenOut = fs.String("token-out", "", "write the access token used to this file (0600): for the demo's attacker; never do this in production")
		ev       = tasks.SeedEvent
	)
	idf.Register(fs, "taskservice-identity")
	fs.StringVar(&ev.Title, "title", ev.Title, "event title")
	fs.StringVar(&ev.Date, "date", ev.Date, "event date")
	fs.StringVar(&ev.Location, "location", ev.Location, "event location")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("service", "taskservice")
	calendarID, err := certs.ParseID(*calID)
	if err != nil {
		log.Error("--calendar-id", "err", err)
		return 2
	}

	cfg := idf.Config()
	cfg.OnRenew = func(id *enrollclient.Identity) {
		log.Info("certificate renewed", "serial", id.Serial, "not_after", id.NotAfter)
	}
	cfg.OnError = func(err error) { log.Warn("certificate renewal failed, will retry", "err", err) }
	r, enrolled, err := identity.Open(ctx, cfg)
	if err != nil {
		log.Error("no identity", "err", err)
		return 1
	}
	id := r.Current()
	msg := "loaded the identity"
	if enrolled {
		msg = "enrolled"
	}
	log.Info(msg, "spiffe_id", id.ID.String(), "serial", id.Serial, "not_after", id.NotAfter.Format(time.RFC3339), "dir", id.Dir)
	go func() {
		if err := r.Run(ctx); err != nil {
			log.Error("renewer stopped", "err", err)
		}
	}()

	client, err := tasks.New(tasks.Config{Server: idf.Server, ClientID: *clientID, EventsURL: strings.TrimRight(*calendar, "/") + "/events",
		CalendarID: calendarID, Renewer: r})
	if err != nil {
		log.Error("configuration", "err", err)
		return 1
	}
	if *once {
		return createOnce(ctx, log, client, ev, *tokenOut)
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		createOnce(ctx, log, client, ev, *tokenOut)
		select {
		case <-ctx.Done():
			return 0
		case <-t.C:
		}
	}
}

// createOnce creates one event and prints the calendar service's answer on
// stdout; it returns the exit code --once ends with.
func createOnce(ctx context.Context, log *slog.Logger, client *tasks.Client, ev tasks.Event, tokenOut string) int {
	res, err := client.CreateEvent(ctx, ev)
	if err != nil {
		log.Error("create event", "err", err)
		return 1
	}
	if tokenOut != "" {
		if err := certs.WriteFileAtomic(tokenOut, []byte(res.Token.Reveal()+"\n"), 0o600); err != nil {
			log.Error("write --token-out", "err", err)
			return 1
		}
	}
	fmt.Printf("POST /events → %d %s\n%s\n", res.Status, http.StatusText(res.Status), bytes.TrimSpace(res.Body))
	if res.Status != http.StatusCreated {
		log.Warn("the calendar service refused the event", "status", res.Status, "www_authenticate", res.Header.Get("WWW-Authenticate"))
		return 1
	}
	log.Info("event created", "title", ev.Title)
	return 0
}
