package certs

import "strings"

// MaxDNSNameLength is the longest DNS name accepted (RFC 1035 §2.3.4, in
// presentation form without the trailing dot).
const MaxDNSNameLength = 253

// ValidDNSName reports whether name is a lowercase host name as certbound
// puts it in a certificate: RFC 1123 labels of letters, digits and hyphens,
// 1 to 63 octets each, at most 253 in all, no wildcard and no trailing dot,
// so that there is one spelling per name and SAN comparisons stay
// byte-for-byte. A name whose last label is all digits is refused: it is an
// IPv4 address in disguise. The CA's profile and the enrollment tokens both
// use this one rule, so a name a token allows can always be issued.
func ValidDNSName(name string) bool {
	if len(name) == 0 || len(name) > MaxDNSNameLength {
		return false
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
