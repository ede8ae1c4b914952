package storage

import (
	"time"
)

// SigningKey is a token-signing key.
type SigningKey struct {
	KID        string // RFC 7638 thumbprint
	Alg        string // ES256 or RS256
	PrivatePEM string // PKCS#8
	CreatedAt  time.Time
	// RetiredAt is when the key stopped signing; zero while it is current.
	RetiredAt time.Time
	// PublishUntil is when a retired key may leave the JWKS: after the last
	// token it signed has expired.
	PublishUntil time.Time
}
