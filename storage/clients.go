package storage

import (
	"slices"
	"time"
)

// Client is one registered service.
type Client struct {
	ID         string
	Name       string
	Scopes     []string // allowed scope tokens
	Audiences  []string // allowed audiences; Audiences[0] is the default
	GrantTypes []string
	// AuthMethod is the RFC 7591 token_endpoint_auth_method.
	AuthMethod string
	// SANURI is tls_client_auth_san_uri (tls_client_auth only).
	SANURI string
	// Thumbprints are the x5t#S256 values of the registered self-signed
	// certificates (self_signed_tls_client_auth only); SelfSignedPEM holds
	// those certificates so that the client can be shown back.
	Thumbprints   []string
	SelfSignedPEM string
	// SecretHash is the SHA-256 of the client secret (secret methods only).
	SecretHash []byte
	// AccessTokenTTL is this client's token lifetime; zero means the server default.
	AccessTokenTTL time.Duration
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Generation tells this record from an earlier one of the same ID: set
	// once, when the record is created (random), never changed. Empty only
	// for records imported without one.
	Generation []byte
}

// Clone returns a copy of c that shares no slice with it, so a cache can
// hand out records its callers may modify.
func (c Client) Clone() Client {
	c.Scopes = slices.Clone(c.Scopes)
	c.Audiences = slices.Clone(c.Audiences)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Thumbprints = slices.Clone(c.Thumbprints)
	c.SecretHash = slices.Clone(c.SecretHash)
	c.Generation = slices.Clone(c.Generation)
	return c
}
