package storage

import (
	"time"
)

// AdminKey is the record of one admin API key. The key itself is never
// stored, only its SHA-256.
type AdminKey struct {
	Name      string // unique; stays taken after revocation
	Hash      []byte // SHA-256 of the key
	CreatedAt time.Time
	// ExpiresAt is when the key stops working. Zero: never.
	ExpiresAt time.Time
	// LastUsedAt is the last accepted use the server has written back: it
	// trails the truth by up to a minute (the server writes uses in batches).
	// Zero: never used.
	LastUsedAt time.Time
	// RevokedAt is when the key was revoked. Zero: not revoked.
	RevokedAt time.Time
}

// Valid reports whether the key is usable at now: not revoked, not expired.
func (k AdminKey) Valid(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}
