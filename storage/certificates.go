package storage

import (
	"time"
)

// Certificate is the record of one issued leaf certificate.
type Certificate struct {
	Serial           string // lowercase hex
	ClientID         string
	Fingerprint      string // hex SHA-256 of the DER
	NotBefore        time.Time
	NotAfter         time.Time
	RenewedFrom      string // serial this certificate replaced; "" for an enrollment
	SupersededBy     string // serial of the certificate that replaced this one
	RevokedAt        time.Time
	RevocationReason string
	CreatedAt        time.Time
}

// Revoked reports whether the certificate has been revoked.
func (c Certificate) Revoked() bool { return !c.RevokedAt.IsZero() }

// CertificateState is where a certificate stands at an instant: the one
// vocabulary of the inventory, the admin API, the CLI and the metrics.
type CertificateState string

// A certificate is in exactly one state. When several apply the first of
// this list wins: revoked, then expired, then superseded, then active.
const (
	StateRevoked    CertificateState = "revoked"    // revoked (whatever its dates)
	StateExpired    CertificateState = "expired"    // not revoked, NotAfter passed
	StateSuperseded CertificateState = "superseded" // not revoked, unexpired, renewed into a newer one
	StateActive     CertificateState = "active"     // not revoked, unexpired, not renewed: the client's current one
)

// ParseCertificateState reads a state name; ok is false for anything else.
func ParseCertificateState(s string) (CertificateState, bool) {
	switch st := CertificateState(s); st {
	case StateRevoked, StateExpired, StateSuperseded, StateActive:
		return st, true
	}
	return "", false
}

// State returns the certificate's state at now (precedence: see StateRevoked).
// It agrees with the SQL of CertificateFilter.State.
func (c Certificate) State(now time.Time) CertificateState {
	switch {
	case c.Revoked():
		return StateRevoked
	case !now.Before(c.NotAfter):
		return StateExpired
	case c.SupersededBy != "":
		return StateSuperseded
	}
	return StateActive
}

// RenewFunc signs the replacement for old, whose client is client, and
// returns the record to store. Like IssueFunc it runs inside the write
// transaction and must not touch the database; an error rolls back.
type RenewFunc func(old Certificate, client Client) (Certificate, error)

// CertificateFilter selects certificates. Zero fields select everything.
type CertificateFilter struct {
	ClientID string
	// State, when set, keeps the certificates in that state at At (see
	// Certificate.State).
	State CertificateState
	At    time.Time
	// NotAfterBefore, when set, keeps certificates expiring before it.
	NotAfterBefore time.Time
	After          string // keyset pagination: serials greater than this
	Limit          int    // <= 0 means 1000
}

// CertificateCounts is the inventory at one instant, for the metrics.
type CertificateCounts struct {
	Active       int // in StateActive: not revoked, unexpired, not superseded
	ExpiringSoon int // active and expiring within the window
}
