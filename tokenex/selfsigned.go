package tokenex

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/certbound/certbound/certs"
)

// maxSelfSigned bounds the certificates one client may register.
const maxSelfSigned = 16

// parseSelfSigned returns the certificates a self_signed_tls_client_auth
// client registers, from PEM texts (SPEC §6 self_signed_certificates) and an
// RFC 7591 "jwks" document whose keys carry x5c (RFC 8705 §2.2.2). Only the
// first certificate of each x5c counts (RFC 7517 §4.7: its key must be the
// JWK's, which the JWK parser checks). Duplicates are dropped. Each must
// pass the key policy and not be expired at now. Errors are
// invalid_client_metadata.
func parseSelfSigned(pems []string, jwks []byte, now time.Time) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	add := func(c *x509.Certificate, where string) error {
		if err := certs.CheckPublicKey(c.PublicKey); err != nil {
			return metadataErrorCause(where+": the certificate key is not accepted", err)
		}
		if !now.Before(c.NotAfter) {
			return metadataError(where + ": the certificate has expired")
		}
		if slices.ContainsFunc(out, func(o *x509.Certificate) bool { return o.Equal(c) }) {
			return nil
		}
		if len(out) == maxSelfSigned {
			return metadataError(fmt.Sprintf("at most %d self-signed certificates", maxSelfSigned))
		}
		out = append(out, c)
		return nil
	}
	for i, p := range pems {
		where := fmt.Sprintf("self_signed_certificates[%d]", i)
		list, err := certs.ParseCertificates([]byte(p))
		if err != nil {
			return nil, metadataErrorCause(where+": not PEM certificates", err)
		}
		for _, c := range list {
			if err := add(c, where); err != nil {
				return nil, err
			}
		}
	}
	if len(jwks) > 0 {
		list, err := parseJWKSCertificates(jwks)
		if err != nil {
			return nil, err
		}
		for i, c := range list {
			if err := add(c, fmt.Sprintf("jwks.keys[%d]", i)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// parseJWKSCertificates returns x5c[0] of every key of an RFC 7517 JWK Set.
// Private keys and keys without x5c are refused.
func parseJWKSCertificates(doc []byte) ([]*x509.Certificate, error) {
	if len(doc) > certs.MaxPEMBytes {
		return nil, metadataError("jwks is too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, metadataError("jwks is not a JWK Set object")
	}
	if len(set.Keys) == 0 {
		return nil, metadataError("jwks has no keys")
	}
	if len(set.Keys) > maxSelfSigned {
		return nil, metadataError(fmt.Sprintf("jwks: at most %d keys", maxSelfSigned))
	}
	out := make([]*x509.Certificate, 0, len(set.Keys))
	for i, raw := range set.Keys {
		where := fmt.Sprintf("jwks.keys[%d]", i)
		// Refuse private members before parsing: the JWK parser would accept them.
		if hasPrivateMembers(raw) {
			return nil, metadataError(where + ": private key members are not accepted")
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, metadataErrorCause(where+": not a valid JWK with matching x5c", err)
		}
		if !k.IsPublic() {
			return nil, metadataError(where + ": private key members are not accepted")
		}
		if len(k.Certificates) == 0 {
			return nil, metadataError(where + ": x5c is required (RFC 8705 section 2.2.2)")
		}
		out = append(out, k.Certificates[0])
	}
	return out, nil
}

func hasPrivateMembers(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false // the JWK parser reports it
	}
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth", "priv"} {
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

// encodeSelfSigned returns what storage keeps for the certificates: their
// x5t#S256 thumbprints and their PEM.
func encodeSelfSigned(list []*x509.Certificate) (thumbprints []string, pemText string) {
	for _, c := range list {
		thumbprints = append(thumbprints, certs.X5tS256(c.Raw))
	}
	return thumbprints, string(certs.EncodeCertificates(list...))
}

// decodeSelfSigned splits stored PEM back into one PEM text per certificate.
func decodeSelfSigned(pemText string) []string {
	if strings.TrimSpace(pemText) == "" {
		return nil
	}
	list, err := certs.ParseCertificates([]byte(pemText))
	if err != nil {
		return nil
	}
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = string(certs.EncodeCertificates(c))
	}
	return out
}
