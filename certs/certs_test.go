package certs_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"math/bits"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8705 Appendix A gives the thumbprint of its example certificate.
func TestX5tS256KnownAnswer(t *testing.T) {
	c, err := certs.ParseCertificate(read(t, "rfc8705-appendix-a.pem"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0"
	if got := certs.X5tS256(c.Raw); got != want {
		t.Fatalf("X5tS256 = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(certs.Fingerprint(c.Raw)) {
		t.Fatalf("Fingerprint is not 64 lowercase hex digits: %s", certs.Fingerprint(c.Raw))
	}
	// Both encode the same digest.
	raw, _ := base64.RawURLEncoding.DecodeString(want)
	if got := certs.Fingerprint(c.Raw); got != strings.ToLower(strings.TrimSpace(hexOf(raw))) {
		t.Fatalf("Fingerprint %s and X5tS256 disagree", got)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestParseCSR(t *testing.T) {
	good := read(t, "good_p256.csr")
	// Flip a byte inside the signature (the last bytes of the DER).
	badSig := func() []byte {
		csr, err := certs.ParseCSR(good)
		if err != nil {
			t.Fatal(err)
		}
		der := bytes.Clone(csr.Raw)
		der[len(der)-3] ^= 0x01
		return certs.EncodeCSR(der)
	}()
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"accept/p256", good, nil},
		{"accept/ed25519", read(t, "good_ed25519.csr"), nil},
		{"accept/surrounding whitespace", append(append([]byte("\n\n  "), good...), "\n\t\n"...), nil},
		{"reject/rsa 1024", read(t, "bad_rsa1024.csr"), certs.ErrUnsupportedKey},
		{"reject/secp256k1", read(t, "bad_secp256k1.csr"), certs.ErrUnsupportedKey},
		{"reject/bad signature", badSig, certs.ErrBadSignature},
		{"reject/trailing garbage", append(bytes.Clone(good), "garbage"...), certs.ErrTrailingData},
		{"reject/leading garbage", append([]byte("garbage\n"), good...), certs.ErrNoPEM},
		{"reject/two blocks", append(bytes.Clone(good), good...), certs.ErrTooManyBlocks},
		{"reject/empty", nil, certs.ErrNoPEM},
		{"reject/certificate instead", read(t, "rfc8705-appendix-a.pem"), certs.ErrNoPEM},
		{"reject/truncated", good[:len(good)/2], certs.ErrMalformed},
		{"reject/pem headers", []byte(strings.Replace(string(good), "REQUEST-----\n", "REQUEST-----\nProc-Type: 4,ENCRYPTED\n\n", 1)), certs.ErrMalformed},
		{"reject/not DER inside", []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), certs.ErrMalformed},
		{"reject/oversized", append(bytes.Repeat([]byte(" "), certs.MaxPEMBytes), good...), certs.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := certs.ParseCSR(tc.in)
			if tc.want == nil {
				if err != nil || csr == nil {
					t.Fatalf("ParseCSR: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseCSR error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeyErrorNamesTheProblem(t *testing.T) {
	_, err := certs.ParseCSR(read(t, "bad_rsa1024.csr"))
	var ke *certs.KeyError
	if !errors.As(err, &ke) || !strings.Contains(ke.Reason, "1024") {
		t.Fatalf("want a *KeyError naming 1024 bits, got %v", err)
	}
}

func TestParseCertificates(t *testing.T) {
	one := read(t, "rfc8705-appendix-a.pem")
	chain, err := certs.ParseCertificates(append(bytes.Clone(one), one...))
	if err != nil || len(chain) != 2 {
		t.Fatalf("two blocks: %d, %v", len(chain), err)
	}
	if !bytes.Equal(certs.EncodeCertificates(chain[0]), bytes.TrimLeft(one, "\n")) {
		t.Fatal("EncodeCertificates does not round-trip")
	}
	if _, err := certs.ParseCertificate(append(bytes.Clone(one), one...)); !errors.Is(err, certs.ErrTooManyBlocks) {
		t.Fatalf("ParseCertificate of two blocks: %v", err)
	}
	if _, err := certs.ParseCertificates(append(bytes.Clone(one), "junk"...)); !errors.Is(err, certs.ErrTrailingData) {
		t.Fatalf("trailing junk: %v", err)
	}
}

func TestIDs(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"spiffe://certbound.local/task-service", true},
		{"spiffe://example.org/a.b_c-1", true},
		{"spiffe://certbound.local/Task", false},                       // upper case
		{"spiffe://certbound.local/a/b", false},                        // two segments
		{"spiffe://certbound.local/", false},                           // no client id
		{"spiffe://certbound.local/a?x=1", false},                      // query
		{"spiffe://certbound.local/a#f", false},                        // fragment
		{"spiffe://user@certbound.local/a", false},                     // user info
		{"spiffe://certbound.local:8443/a", false},                     // port
		{"https://certbound.local/a", false},                           // scheme
		{"spiffe://certbound.local/%2e%2e", false},                     // escaped path
		{"spiffe://certbound.local/" + strings.Repeat("a", 64), false}, // too long
	} {
		id, err := certs.ParseID(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseID(%q) = %v, %v", tc.in, id, err)
			continue
		}
		if err != nil && !errors.Is(err, certs.ErrInvalidID) {
			t.Errorf("ParseID(%q) error %v does not wrap ErrInvalidID", tc.in, err)
		}
		if tc.ok && id.String() != tc.in {
			t.Errorf("round trip %q → %q", tc.in, id.String())
		}
	}
	id, _ := certs.NewID("certbound.local", "svc")
	if id.URL().String() != "spiffe://certbound.local/svc" {
		t.Fatalf("URL() = %s", id.URL())
	}
	if _, err := certs.IDFromCertificate(&x509.Certificate{URIs: []*url.URL{id.URL(), id.URL()}}); !errors.Is(err, certs.ErrInvalidID) {
		t.Fatalf("two URI SANs: %v", err)
	}
	if _, err := certs.IDFromCertificate(&x509.Certificate{}); !errors.Is(err, certs.ErrInvalidID) {
		t.Fatalf("no URI SAN: %v", err)
	}
}

func TestNewSerial(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	randomMask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 80), big.NewInt(1))
	ones := 0
	const n = 1000
	for range n {
		sn := certs.NewSerial(now)
		if sn.Sign() <= 0 || len(sn.Bytes()) > 16 {
			t.Fatalf("serial %x: not positive or longer than 16 octets", sn)
		}
		if got := new(big.Int).Rsh(sn, 80).Int64(); got != now.UnixMilli() {
			t.Fatalf("serial %x: time prefix %d, want %d", sn, got, now.UnixMilli())
		}
		s := certs.SerialString(sn)
		if len(s) != 32 || certs.NormalizeSerial(strings.ToUpper(s)) != s {
			t.Fatalf("serial %s: want 32 normalised hex digits", s)
		}
		if seen[s] {
			t.Fatalf("duplicate serial %s", s)
		}
		seen[s] = true
		for _, w := range new(big.Int).And(sn, randomMask).Bits() {
			ones += bits.OnesCount(uint(w))
		}
	}
	// 80 CSPRNG bits each: about half of them set (the mean over 1,000
	// serials is 40 ± 0.14; a constant or a counter is far off).
	if mean := float64(ones) / n; mean < 38 || mean > 42 {
		t.Fatalf("random part: %.2f bits set on average, want about 40", mean)
	}
	// Later serials sort later, as numbers and as stored strings.
	a, b := certs.NewSerial(now), certs.NewSerial(now.Add(time.Millisecond))
	if a.Cmp(b) >= 0 || certs.SerialString(a) >= certs.SerialString(b) {
		t.Fatalf("%x issued before %x sorts after it", a, b)
	}
	if s := certs.SerialString(certs.NewSerial(time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC))); len(s) != 32 {
		t.Fatalf("serial in 2400: %s, want 32 hex digits", s)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.pem")
	if err := certs.WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "two" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %o", b, fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := certs.CheckPrivate(p); err != nil {
		t.Fatalf("CheckPrivate(0600): %v", err)
	}
	os.Chmod(p, 0o644)
	if err := certs.CheckPrivate(p); err == nil {
		t.Fatal("CheckPrivate accepted a world-readable key")
	}
}

func FuzzParseCSR(f *testing.F) {
	for _, name := range []string{"good_p256.csr", "good_ed25519.csr", "bad_rsa1024.csr", "bad_secp256k1.csr"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := certs.ParseCSR(data)
		if err == nil && certs.CheckPublicKey(csr.PublicKey) != nil {
			t.Fatal("ParseCSR accepted a key the policy refuses")
		}
	})
}

func FuzzParseCertificates(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "rfc8705-appendix-a.pem"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(append(bytes.Clone(b), b...))
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, err := certs.ParseCertificates(data)
		if err == nil && len(chain) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

func TestFindPinned(t *testing.T) {
	a := &x509.Certificate{Raw: []byte("certificate a")}
	b := &x509.Certificate{Raw: []byte("certificate b")}
	pinB := sha256.Sum256(b.Raw)
	if got := certs.FindPinned([]*x509.Certificate{a, b}, pinB[:]); got != b {
		t.Fatalf("accept/second of two: got %v, want b", got)
	}
	if got := certs.FindPinned([]*x509.Certificate{a}, pinB[:]); got != nil {
		t.Fatalf("reject/not among them: got %v", got)
	}
	if got := certs.FindPinned([]*x509.Certificate{a, b}, pinB[:16]); got != nil {
		t.Fatalf("reject/truncated pin: got %v", got)
	}
}
