// Command calendarservice is the seed guide's Calendar Service on certbound:
// it enrolls with a one-time token (or loads the identity it already has),
// serves HTTPS with its certbound certificate, asks every caller for a client
// certificate, and lets POST /events through only with an access token that
// grants event.create for the audience event and is bound to the caller's
// certificate. See README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/certbound/certbound/cmd/examples/internal/calendar"
	"github.com/certbound/certbound/cmd/examples/internal/identity"
	"github.com/certbound/certbound/enroll/enrollclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("calendarservice", flag.ContinueOnError)
	var (
		idf    identity.Flags
		listen = fs.String("listen", "127.0.0.1:9444", "HTTPS listen address")
		issuer = fs.String("issuer", os.Getenv("CERTBOUND_ISSUER"), "issuer of the tokens: the issuer certbound serve logs at start (env CERTBOUND_ISSUER; default: --server)")
		dns    = fs.String("dns", "", "comma-separated DNS names for this service's certificate, requested at enrollment (the enrollment token must allow them); callers that check the SPIFFE ID, as taskservice does, need none")
	)
	idf.Register(fs, "calendarservice-identity")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("service", "calendarservice")
	if *issuer == "" {
		*issuer = strings.TrimRight(idf.Server, "/")
	}

	cfg := idf.Config()
	if *dns != "" {
		cfg.DNSNames = strings.Split(*dns, ",")
	}
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
	log.Info(msg, "spiffe_id", id.ID.String(), "dns", id.Leaf().DNSNames, "serial", id.Serial,
		"not_after", id.NotAfter.Format(time.RFC3339), "dir", id.Dir)
	go func() {
		if err := r.Run(ctx); err != nil {
			log.Error("renewer stopped", "err", err)
		}
	}()

	// The verifier finds certbound's signing keys through the issuer's
	// metadata, over TLS that trusts certbound's root (from ca.pem).
	v, err := calendar.NewVerifier(ctx, *issuer, id.Roots)
	if err != nil {
		log.Error("token verifier", "err", err)
		return 1
	}

	// ServerTLSConfig serves the current certificate and asks every caller
	// for theirs (verified against certbound's root when given): the
	// verifier needs it to check the token's binding.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           calendar.New(log).Handler(v),
		TLSConfig:         r.ServerTLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("serving", "url", "https://"+ln.Addr().String(), "issuer", *issuer, "audience", calendar.Audience)
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
