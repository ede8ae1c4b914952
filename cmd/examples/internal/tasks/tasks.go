package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
)

// What the task service asks for: the seed guide's scope and audience.
const (
	Scope    = "event.create"
	Audience = "event"
)

// Event is what the task service sends, as in the seed guide's Step 7.
type Event struct {
	Title    string `json:"title"`
	Date     string `json:"date"`
	Location string `json:"location,omitempty"`
}

// SeedEvent is the event of the seed guide's Step 7.
var SeedEvent = Event{Title: "Team Meeting", Date: "2025-03-25", Location: "Conference Room A"}

// Config configures a Client. Every field is required.
type Config struct {
	// Server is the certbound base URL; tokens come from <Server>/oauth2/token.
	Server string
	// ClientID is the client this service was registered as.
	ClientID string
	// EventsURL is the calendar service's POST /events URL, e.g.
	// "https://127.0.0.1:9444/events". Its host name is not checked.
	EventsURL string
	// CalendarID is the SPIFFE ID the calendar service's certificate must
	// carry, e.g. spiffe://certbound.local/calendarservice: the calendar is
	// authorized by its identity, not by a DNS name.
	CalendarID certs.ID
	// Renewer provides the current certificate, both for the token request
	// and for the call to the calendar service.
	Renewer *enrollclient.Renewer
}

// Client creates events on the calendar service.
type Client struct {
	eventsURL string
	http      *http.Client
	tokens    *tokenclient.Source
}

// New returns a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Renewer == nil || cfg.EventsURL == "" || cfg.ClientID == "" || cfg.CalendarID == (certs.ID{}) {
		return nil, errors.New("tasks: Config needs Renewer, EventsURL, CalendarID and ClientID")
	}
	// Both clients present the current certificate and trust only
	// certbound's root, which signed the calendar service's certificate too.
	// The token requests go to certbound, and tokenclient makes sure the
	// server holds certbound's own server certificate; the events go to the
	// one service whose SPIFFE ID is CalendarID.
	src, err := tokenclient.New(tokenclient.Config{
		TokenURL:    strings.TrimRight(cfg.Server, "/") + "/oauth2/token",
		ClientID:    cfg.ClientID,
		Scopes:      []string{Scope},
		Audience:    Audience,
		HTTPClient:  cfg.Renewer.HTTPClient(),
		Certificate: cfg.Renewer.Leaf, // a renewed certificate means a new token (RFC 8705 §6.3)
	})
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	return &Client{eventsURL: cfg.EventsURL, http: cfg.Renewer.HTTPClientFor(cfg.CalendarID), tokens: src}, nil
}

// Result is the calendar service's answer to one POST /events.
type Result struct {
	Status int
	Header http.Header
	Body   []byte
	// Token is the access token the request carried.
	Token secret.Secret
}

// CreateEvent gets a token (cached between calls) and posts ev. If the
// calendar service answers 401 invalid_token, the token is dropped and the
// call made once more with a fresh one (it may have been revoked, or the
// signing key rotated); any other answer is returned as it is. An error
// means no answer at all.
func (c *Client) CreateEvent(ctx context.Context, ev Event) (*Result, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.TokenContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("tasks: get a token: %w", err)
		}
		token := secret.FromString(tok.AccessToken)
		res, err := PostEvent(ctx, c.http, c.eventsURL, token, ev)
		if err != nil {
			return nil, err
		}
		if res.Status == http.StatusUnauthorized && attempt == 0 && strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			c.tokens.Invalidate()
			continue
		}
		return res, nil
	}
}

// maxBody bounds what is read of an answer.
const maxBody = 64 << 10

// PostEvent sends POST url with ev as JSON and token as a Bearer token
// (RFC 6750 §2.1) over hc, and returns the answer whatever its status. The
// attacker in the demo uses it too, with a copied token and another client.
func PostEvent(ctx context.Context, hc *http.Client, url string, token secret.Secret, ev Event) (*Result, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if !token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tasks: POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("tasks: POST %s: %w", url, err)
	}
	return &Result{Status: resp.StatusCode, Header: resp.Header, Body: data, Token: token}, nil
}
