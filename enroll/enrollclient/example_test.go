package enrollclient_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// A service enrolls once, with the token an operator minted for it
// (`certbound enroll-token create --client taskservice --dns taskservice.internal`)
// and the root fingerprint `certbound serve` logged.
func ExampleEnroll() {
	id, err := enrollclient.Enroll(context.Background(), enrollclient.Options{
		Server:      "https://certbound.internal:8443",
		Fingerprint: "a4e0ed2f626650c840b2f263e6d2b29fae12ab39ae5db32b25ad27efad72e6fd",
		Token:       secret.FromString(os.Getenv("CERTBOUND_TOKEN")),
		Dir:         "/var/lib/taskservice/identity",
		DNSNames:    []string{"taskservice.internal"},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, enrollclient.ErrFingerprintMismatch): wrong server, token not sent
	}
	fmt.Println(id.ID, id.Serial, id.NotAfter)
}

// `certbound renew` without --watch: renew once, now.
func ExampleRenew() {
	id, err := enrollclient.Renew(context.Background(), "/var/lib/taskservice/identity", "https://certbound.internal:8443")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("renewed:", id.Serial, "valid until", id.NotAfter)
}

// A long-running service keeps its identity renewed and serves and calls
// over mutual TLS with configs that follow every renewal.
func ExampleRenewer() {
	r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{
		Dir:     "/var/lib/taskservice/identity",
		Server:  "https://certbound.internal:8443",
		OnRenew: func(id *enrollclient.Identity) { log.Printf("renewed: serial %s until %s", id.Serial, id.NotAfter) },
		OnError: func(err error) { log.Printf("renewal: %v", err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go r.Run(ctx)

	// Calls to other services present the current certificate.
	client := r.HTTPClient()
	_ = client

	// This service's own HTTPS listener serves the current certificate and
	// asks callers for theirs.
	srv := &http.Server{Addr: ":9443", TLSConfig: r.ServerTLSConfig()}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServeTLS("", ""); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// A resource server that must refuse callers without a client certificate
// tightens the default.
func ExampleRenewer_ServerTLSConfig() {
	r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{
		Dir:    "/var/lib/eventservice/identity",
		Server: "https://certbound.internal:8443",
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg := r.ServerTLSConfig()
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	ln, err := tls.Listen("tcp", ":9444", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
}

// A one-shot tool loads the identity and calls another service with it.
func ExampleLoad() {
	id, err := enrollclient.Load("/var/lib/taskservice/identity")
	if err != nil {
		log.Fatal(err) // errors.Is(err, enrollclient.ErrInsecureKeyFile): chmod 600 key.pem
	}
	resp, err := id.HTTPClient().Get("https://eventservice.internal:9444/health")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(id.ID, resp.Status)
}

// A service calls another by its SPIFFE ID: the callee's certificate needs no
// DNS name, and no other service of the same CA can answer in its place.
func ExampleRenewer_HTTPClientFor() {
	r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{
		Dir:    "/var/lib/taskservice/identity",
		Server: "https://certbound.internal:8443",
	})
	if err != nil {
		log.Fatal(err)
	}
	calendar, err := certs.ParseID("spiffe://certbound.local/calendarservice")
	if err != nil {
		log.Fatal(err)
	}
	resp, err := r.HTTPClientFor(calendar).Get("https://10.0.3.7:9444/health")
	if err != nil {
		log.Fatal(err) // errors.Is(err, enrollclient.ErrServerIDMismatch): another service answered; nothing was sent
	}
	resp.Body.Close()
}
