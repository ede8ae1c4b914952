package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no row matches (or, for single-use records, none is usable).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a row with that key already exists, or a single-use
	// transition already happened.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable: the database cannot be reached or refused service for
	// now (connection lost, shutting down, failover); retrying later may
	// succeed. The HTTP edge answers 503, never 500.
	ErrUnavailable = errors.New("storage: database unavailable")
)

// ErrSuspectLineage: RenewCertificate refused to renew a certificate whose
// lineage is marked suspect (MarkLineageSuspect). Nothing was written.
var ErrSuspectLineage = errors.New("storage: the certificate's lineage is suspect")

// Admin key errors. Each wraps ErrNotFound or ErrConflict, so callers that
// only know those still branch right.
var (
	// ErrAdminKeyNotFound: no admin key has this name.
	ErrAdminKeyNotFound = fmt.Errorf("%w: no admin key with this name", ErrNotFound)
	// ErrAdminKeyExists: the name is taken, by a valid, expired or revoked key.
	ErrAdminKeyExists = fmt.Errorf("%w: an admin key with this name exists", ErrConflict)
	// ErrAdminKeyRevoked: the key was revoked before.
	ErrAdminKeyRevoked = fmt.Errorf("%w: admin key already revoked", ErrConflict)
	// ErrLastAdminKey: revoking this key would leave no valid admin key.
	ErrLastAdminKey = fmt.Errorf("%w: the last valid admin key", ErrConflict)
)
