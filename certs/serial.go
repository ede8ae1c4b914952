package certs

import (
	"crypto/rand"
	"math/big"
	"strings"
	"time"
)

// Serial numbers are 128 bits: the first 48 the issue time in Unix
// milliseconds, the other 80 from the CSPRNG.
//
// The random part is what RFC 5280 §4.1.2.2 and the CA/Browser Forum
// Baseline Requirements §7.1 ask for (unique; non-sequential, with at least
// 64 bits of CSPRNG output): serials cannot be predicted, and two never
// collide. The time prefix (also on the certificate as NotBefore) makes a
// later certificate's serial sort later, so its record is appended at the
// end of the database's serial index instead of landing on a random page of
// it: with a million certificate rows an enrollment's write costs about a
// fifth less (storage's BenchmarkRedeemEnrollTokenAtScale).
const serialRandomBytes = 10

// NewSerial returns a new serial number for a certificate issued at now:
// positive and at most 16 octets (RFC 5280 §4.1.2.2 allows 20).
func NewSerial(now time.Time) *big.Int {
	var b [16]byte
	ms := uint64(now.UnixMilli()) & (1<<47 - 1) // the top bit stays 0: positive
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	for {
		_, _ = rand.Read(b[16-serialRandomBytes:]) // never fails (crypto/rand, Go 1.24+)
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n
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
