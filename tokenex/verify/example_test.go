package verify_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/certbound/certbound/tokenex/verify"
)

// A resource server that accepts certbound tokens for the audience "event"
// and requires the scope "event.create" on POST /events.
func Example() {
	ctx := context.Background()

	// Trust certbound's root (the ca.pem that `certbound enroll` writes) to
	// fetch the metadata and the JWKS.
	rootPEM, err := os.ReadFile("/etc/events/ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)

	// With Roots (and no HTTPClient) verify builds the client itself, and it
	// accepts only certbound's own server certificate, never a service's.
	v, err := verify.New(ctx, verify.Config{
		Issuer:   "https://localhost:8443",
		Audience: "event",
		Roots:    roots,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /events", verify.RequireScopes(v, "event.create")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			c, _ := verify.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "event created by %s\n", c.ClientID)
		})))

	srv := &http.Server{
		Addr:    ":9443",
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Ask for the client certificate the tokens are bound to. Its
			// chain need not be verified here (RFC 8705 §6.2).
			ClientAuth: tls.RequestClientCert,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.ListenAndServeTLS("/etc/events/cert.pem", "/etc/events/key.pem"))
}

// Verify without the middleware, e.g. in a gRPC interceptor: pass the token
// and the client certificate of the connection.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{Issuer: "https://localhost:8443", Audience: "event"})
	if err != nil {
		log.Fatal(err)
	}
	var (
		token string              // from the request's credentials
		state tls.ConnectionState // of the request's connection
	)
	var peer *x509.Certificate
	if len(state.PeerCertificates) > 0 {
		peer = state.PeerCertificates[0]
	}
	claims, err := v.Verify(ctx, token, peer)
	switch {
	case errors.Is(err, verify.ErrExpired):
		log.Print("expired token; the client should fetch a new one")
	case err != nil:
		log.Printf("refused: %v", err) // send err.(*verify.Error).Description, not err
	case !claims.HasScope("event.read"):
		log.Print("insufficient scope")
	default:
		log.Printf("request from %s", claims.ClientID)
	}
}
