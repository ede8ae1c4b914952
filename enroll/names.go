package enroll

import (
	"encoding/asn1"
	"strings"
)

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// asksForCA reports whether a DER basicConstraints value has cA = TRUE.
// Undecodable values count as asking: better refused than guessed.
func asksForCA(der []byte) bool {
	var bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	rest, err := asn1.Unmarshal(der, &bc)
	return err != nil || len(rest) > 0 || bc.IsCA
}

// validDNSName accepts lowercase host names: RFC 1123 labels of 1-63
// octets, 253 in all, no wildcards, and not ending in an all-digit label (an
// IPv4 address in disguise) — exactly what the ca profile accepts, so a
// name a token allows can always be issued.
func validDNSName(name string) bool {
	if len(name) == 0 || len(name) > 253 || name != strings.ToLower(name) {
		return false
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
