package certs

import (
	"crypto/rand"
	"math/big"
)

// serialBits: CA/Browser Forum Baseline Requirements §7.1 asks for at least
// 64 bits of CSPRNG output; 128 makes collisions a non-question.
const serialBits = 128

var serialLimit = new(big.Int).Lsh(big.NewInt(1), serialBits)

// RandomSerial returns a positive random serial number of up to 128 bits
// (RFC 5280 §4.1.2.2: positive, at most 20 octets).
func RandomSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// SerialString formats a serial number the way certbound stores and prints
// it: lowercase hex without separators, as `openssl x509 -serial` prints it
// (modulo case).
func SerialString(n *big.Int) string { return n.Text(16) }
