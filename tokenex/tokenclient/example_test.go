package tokenclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
)

// A service that enrolled with enrollclient calls another service with
// tokens bound to its certificate. The Renewer supplies both the mTLS client
// and the current certificate, so a renewal also renews the token.
func ExampleNew() {
	r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{
		Dir:    "/var/lib/taskservice/identity",
		Server: "https://certbound.internal:8443",
	})
	if err != nil {
		log.Fatal(err)
	}
	go r.Run(context.Background())

	tokens, err := tokenclient.New(tokenclient.Config{
		TokenURL:    "https://certbound.internal:8443/oauth2/token",
		ClientID:    "taskservice",
		Scopes:      []string{"event.create"},
		Audience:    "event",
		HTTPClient:  r.HTTPClient(),
		Certificate: r.Leaf,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Every request carries a fresh token and the certificate it is bound to.
	events := tokens.Client(nil)
	resp, err := events.Post("https://eventservice.internal:9444/events", "application/json", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		tokens.Invalidate() // the resource server refused the token; fetch a new one next time
	}
}

// `certbound token` prints one token for the identity in a directory.
func ExampleSource_TokenContext() {
	id, err := enrollclient.Load("/var/lib/taskservice/identity")
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := tokenclient.New(tokenclient.Config{
		TokenURL:    "https://certbound.internal:8443/oauth2/token",
		ClientID:    id.ID.ClientID,
		Audience:    "event",
		HTTPClient:  id.HTTPClient(),
		Certificate: id.Leaf,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokens.TokenContext(context.Background())
	if errors.Is(err, tokenclient.ErrInvalidClient) {
		log.Fatal("the server does not accept this certificate for this client id")
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)
}

// A client registered with client_secret_basic needs no certificate; its
// tokens are unbound.
func ExampleNew_clientSecret() {
	tokens, err := tokenclient.New(tokenclient.Config{
		TokenURL:     "https://certbound.internal:8443/oauth2/token",
		ClientID:     "reporting",
		ClientSecret: secret.FromString(os.Getenv("REPORTING_CLIENT_SECRET")),
		Scopes:       []string{"event.read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := tokens.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Expiry)
}
