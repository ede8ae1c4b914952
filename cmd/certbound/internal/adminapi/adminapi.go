// Package adminapi holds the JSON shapes of certbound's admin API (SPEC §6):
// the server's handlers render them and the CLI decodes them, so the two
// cannot drift apart. Field names are snake_case, RFC 7591's where one
// exists. Nothing here carries behaviour.
package adminapi

import "time"

// Client is a registered client. ClientSecret appears once, in the response
// that created the client (secret methods only), and with it
// ClientSecretExpiresAt, which RFC 7591 §3.2.1 requires whenever a secret is
// issued: 0, as certbound's client secrets do not expire.
type Client struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64    `json:"client_secret_expires_at,omitempty"`
	ClientName              string    `json:"client_name,omitempty"`
	Scope                   string    `json:"scope"`
	Audience                []string  `json:"audience"`
	GrantTypes              []string  `json:"grant_types"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	TLSClientAuthSANURI     string    `json:"tls_client_auth_san_uri,omitempty"`
	SelfSignedCertificates  []string  `json:"self_signed_certificates,omitempty"`
	Thumbprints             []string  `json:"x5t#S256,omitempty"`
	AccessTokenTTL          int64     `json:"access_token_ttl,omitempty"` // seconds
	Disabled                bool      `json:"disabled"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// Clients is a page of GET /v1/clients.
type Clients struct {
	Clients []Client `json:"clients"`
}

// EnrollmentToken is the answer of POST /v1/clients/{id}/enrollment-tokens.
type EnrollmentToken struct {
	Token     string    `json:"token"`
	ClientID  string    `json:"client_id"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Certificate is the record of an issued certificate.
type Certificate struct {
	Serial           string     `json:"serial"`
	ClientID         string     `json:"client_id"`
	Fingerprint      string     `json:"fingerprint_sha256"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	RenewedFrom      string     `json:"renewed_from,omitempty"`
	SupersededBy     string     `json:"superseded_by,omitempty"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	Status           string     `json:"status"` // active, superseded, expired or revoked; when several apply: revoked, then expired, then superseded
	// AlreadyRevoked is set in the answer to a revocation of a certificate
	// that was revoked before: nothing changed, RevokedAt is the first one.
	AlreadyRevoked bool `json:"already_revoked,omitempty"`
}

// Certificates is a page of GET /v1/certificates.
type Certificates struct {
	Certificates []Certificate `json:"certificates"`
}

// AuditEvent is one row of the audit trail.
type AuditEvent struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	ClientID  string    `json:"client_id,omitempty"`
	Serial    string    `json:"serial,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Count     int       `json:"count"` // like events this row stands for
	// AdminKey names the admin key the request was authenticated with.
	AdminKey string `json:"admin_key,omitempty"`
	// TargetKey names the admin key an admin_key.* event is about.
	TargetKey string `json:"target_key,omitempty"`
}

// AuditEvents is a page of GET /v1/audit.
type AuditEvents struct {
	Events []AuditEvent `json:"events"`
}

// NewAdminKey is the answer of POST /v1/admin-keys: the only response that
// ever carries an admin key, once.
type NewAdminKey struct {
	Name      string     `json:"name"`
	Key       string     `json:"key"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"` // null: never
}

// AdminKey describes an admin key. It has no field for the key or its hash,
// so no listing can carry either.
type AdminKey struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`   // null: never
	LastUsedAt *time.Time `json:"last_used_at"` // null: never used; may trail by a minute
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	State      string     `json:"state"` // active, expired, revoked
}

// AdminKeys is the answer of GET /v1/admin-keys.
type AdminKeys struct {
	AdminKeys []AdminKey `json:"admin_keys"`
}
