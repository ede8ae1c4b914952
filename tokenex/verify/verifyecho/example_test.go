package verifyecho_test

import (
	"context"
	"crypto/tls"
	"log"
	"net/http"
	"time"

	"github.com/certbound/certbound/tokenex/verify"
	"github.com/certbound/certbound/tokenex/verify/verifyecho"
	"github.com/labstack/echo/v4"
)

// An echo resource server that requires the scope "event.create" on
// POST /events.
func Example() {
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:   "https://localhost:8443",
		Audience: "event",
		// HTTPClient: a client that trusts certbound's root; see verify's example.
	})
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.POST("/events", func(c echo.Context) error {
		claims, _ := verifyecho.Claims(c)
		return c.JSON(http.StatusCreated, map[string]string{"created_by": claims.ClientID})
	}, verifyecho.RequireScopes(v, "event.create"))

	srv := &http.Server{
		Addr:              ":9443",
		Handler:           e,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert},
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.ListenAndServeTLS("cert.pem", "key.pem"))
}
