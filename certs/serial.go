package certs

import (
	"crypto/rand"
	"math/big"
	"strings"
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
// it: lowercase hex without separators, an even number of digits, as
// `openssl x509 -serial` prints it (modulo case).
func SerialString(n *big.Int) string {
	s := n.Text(16)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// NormalizeSerial turns a serial as people paste it (upper case, with
// colons, from openssl or a browser) into SerialString's form.
func NormalizeSerial(s string) string {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}
