package certs

import "errors"

// Sentinel errors. Callers compare with errors.Is; the messages are safe to
// show to a client because they never quote the input.
var (
	// ErrNoPEM: the input holds no PEM block of the expected type.
	ErrNoPEM = errors.New("no PEM data of the expected type")
	// ErrTrailingData: something other than whitespace follows or precedes the PEM block(s).
	ErrTrailingData = errors.New("unexpected data around the PEM block")
	// ErrTooManyBlocks: more PEM blocks than the input may hold.
	ErrTooManyBlocks = errors.New("more than one PEM block")
	// ErrMalformed: the DER inside the PEM block does not parse.
	ErrMalformed = errors.New("malformed certificate or request")
	// ErrBadSignature: a CSR whose self-signature does not verify.
	ErrBadSignature = errors.New("certificate request signature is invalid")
	// ErrUnsupportedKey: a key outside the policy of CheckPublicKey.
	ErrUnsupportedKey = errors.New("unsupported public key")
	// ErrInvalidID: a malformed client id, trust domain or SPIFFE ID.
	ErrInvalidID = errors.New("invalid identity")
)

// KeyError says why a public key was refused. It wraps ErrUnsupportedKey.
type KeyError struct {
	Reason string // e.g. "RSA key of 1024 bits; 2048 to 8192 are accepted"
}

func (e *KeyError) Error() string { return "unsupported public key: " + e.Reason }

// Unwrap lets errors.Is(err, ErrUnsupportedKey) match.
func (e *KeyError) Unwrap() error { return ErrUnsupportedKey }
