package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemCSR         = "CERTIFICATE REQUEST"
	pemCSRLegacy   = "NEW CERTIFICATE REQUEST" // still written by some tools
)

// MaxPEMBytes bounds what the parsers read. A P-256 CSR is under 600 bytes and
// an RSA-8192 one under 2.5 KiB; a chain of a few certificates fits easily.
const MaxPEMBytes = 64 << 10

// ParseCSR parses exactly one PEM "CERTIFICATE REQUEST" block with nothing but
// whitespace around it, checks its self-signature and applies the key policy
// of CheckPublicKey. Only the public key of the result should ever reach a
// certificate: certbound's profile decides every other field.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	blocks, err := decodeStrict(data, 1, pemCSR, pemCSRLegacy)
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(blocks[0].Bytes)
	if err != nil {
		// crypto/x509 refuses keys it cannot use (secp256k1, DSA, ...) with a
		// parse error; say that it is the key, which is what the user can fix.
		if kerr := unsupportedKeyIn(blocks[0].Bytes); kerr != nil {
			return nil, kerr
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, ErrBadSignature
	}
	if err := CheckPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// ParseCertificates parses one or more PEM "CERTIFICATE" blocks, in order,
// with nothing but whitespace around them.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := decodeStrict(data, 0, pemCertificate)
	if err != nil {
		return nil, err
	}
	out := make([]*x509.Certificate, 0, len(blocks))
	for _, b := range blocks {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseCertificate parses exactly one PEM "CERTIFICATE" block.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	blocks, err := decodeStrict(data, 1, pemCertificate)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// EncodeCertificates returns the certificates as concatenated PEM blocks.
func EncodeCertificates(chain ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: pemCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// EncodeCSR returns a DER certificate request as a PEM block.
func EncodeCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der})
}

// decodeStrict decodes PEM blocks of the allowed types. max > 0 caps the
// number of blocks. PEM headers (RFC 1421 "Proc-Type" and the like) are refused:
// certificates and requests never carry them.
func decodeStrict(data []byte, max int, types ...string) ([]*pem.Block, error) {
	if len(data) > MaxPEMBytes {
		return nil, fmt.Errorf("%w: input larger than %d bytes", ErrMalformed, MaxPEMBytes)
	}
	rest := bytes.TrimSpace(data)
	var blocks []*pem.Block
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			if len(blocks) == 0 {
				return nil, ErrNoPEM
			}
			return nil, ErrTrailingData
		}
		b, r := pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: truncated or corrupt PEM block", ErrMalformed)
		}
		if !typeIn(b.Type, types) {
			if len(blocks) == 0 {
				return nil, ErrNoPEM
			}
			return nil, ErrTrailingData
		}
		if len(b.Headers) != 0 {
			return nil, fmt.Errorf("%w: PEM headers are not allowed", ErrMalformed)
		}
		blocks = append(blocks, b)
		if max > 0 && len(blocks) > max {
			return nil, ErrTooManyBlocks
		}
		rest = bytes.TrimSpace(r)
	}
	if len(blocks) == 0 {
		return nil, ErrNoPEM
	}
	return blocks, nil
}

func typeIn(t string, types []string) bool {
	for _, want := range types {
		if t == want {
			return true
		}
	}
	return false
}
