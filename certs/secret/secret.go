// Package secret is the one type for bearer secrets certbound mints: admin
// keys, enrollment tokens and OAuth client secrets.
//
// A Secret prints as "[redacted]" through fmt, slog and encoding/json, so it
// cannot leak into a log line or an error by accident; its value is read only
// with Reveal, at the single place it is handed to its owner. At rest only its
// SHA-256 is kept: the secrets are 256-bit random strings, so a slow password
// hash would add nothing (RFC 6749 §10.10 asks for that entropy). Comparisons
// of hashes are constant-time.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
)

// Secret is a bearer secret. The zero value is the empty secret.
type Secret struct{ value string }

// New returns a fresh secret: prefix followed by 256 random bits in base64url.
// The prefix ("cbe_" for enrollment tokens, say) lets scanners and people
// recognise a leaked secret; it adds no security.
func New(prefix string) Secret {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return Secret{value: prefix + base64.RawURLEncoding.EncodeToString(b[:])}
}

// FromString wraps a secret received from a caller.
func FromString(s string) Secret { return Secret{value: s} }

// Reveal returns the secret itself. Call it only to hand the secret to its owner.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// Hash returns the SHA-256 of the secret, the only form that is stored.
func (s Secret) Hash() []byte {
	sum := sha256.Sum256([]byte(s.value))
	return sum[:]
}

// Matches reports, in constant time, whether the secret hashes to hash.
func (s Secret) Matches(hash []byte) bool {
	return subtle.ConstantTimeCompare(s.Hash(), hash) == 1
}

const redacted = "[redacted]"

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (Secret) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
