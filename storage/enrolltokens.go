package storage

import (
	"time"
)

// EnrollToken is a one-time enrollment token, known only by its hash.
type EnrollToken struct {
	Hash      []byte // SHA-256 of the token
	ClientID  string
	DNSNames  []string // DNS SANs the redeeming CSR may ask for
	CreatedAt time.Time
	ExpiresAt time.Time
}

// IssueFunc signs a certificate for the redeemed token (or the renewed
// certificate) and returns the record to store. It runs inside the write
// transaction, so it must not touch the database; an error rolls everything
// back, and the token stays unused.
type IssueFunc func(EnrollToken, Client) (Certificate, error)

// Enrollment token states, as EnrollTokenState reports them.
const (
	TokenUnknown = "unknown"
	TokenUsed    = "used"
	TokenExpired = "expired"
	TokenValid   = "valid"
)
