package certs

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DefaultTrustDomain is used when none is configured.
const DefaultTrustDomain = "certbound.local"

// clientIDPattern is SPEC §2: a client id is one SPIFFE path segment.
var clientIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// trustDomainPattern follows the SPIFFE ID spec §2.1: lowercase letters,
// digits, dots, dashes and underscores.
var trustDomainPattern = regexp.MustCompile(`^[a-z0-9._-]{1,255}$`)

// ValidClientID reports whether s is an acceptable client id.
func ValidClientID(s string) bool { return clientIDPattern.MatchString(s) }

// ValidTrustDomain reports whether s is an acceptable SPIFFE trust domain.
func ValidTrustDomain(s string) bool { return trustDomainPattern.MatchString(s) }

// ID is a certbound SPIFFE ID: spiffe://<trust-domain>/<client-id>.
// The zero value is not a valid ID; build one with NewID or ParseID.
type ID struct {
	TrustDomain string
	ClientID    string
}

// NewID checks both parts and returns the ID.
func NewID(trustDomain, clientID string) (ID, error) {
	if !ValidTrustDomain(trustDomain) {
		return ID{}, fmt.Errorf("%w: trust domain %q", ErrInvalidID, trustDomain)
	}
	if !ValidClientID(clientID) {
		return ID{}, fmt.Errorf("%w: client id must match %s", ErrInvalidID, clientIDPattern)
	}
	return ID{TrustDomain: trustDomain, ClientID: clientID}, nil
}

// ParseID parses "spiffe://<trust-domain>/<client-id>". Query, fragment,
// user info, port and any further path segment are refused.
func ParseID(s string) (ID, error) {
	u, err := url.Parse(s)
	if err != nil {
		return ID{}, fmt.Errorf("%w: not a URI", ErrInvalidID)
	}
	return idFromURL(u)
}

func idFromURL(u *url.URL) (ID, error) {
	if u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil || u.RawQuery != "" ||
		u.Fragment != "" || u.Port() != "" || u.RawPath != "" {
		return ID{}, fmt.Errorf("%w: not a certbound SPIFFE ID", ErrInvalidID)
	}
	clientID, ok := strings.CutPrefix(u.Path, "/")
	if !ok {
		return ID{}, fmt.Errorf("%w: SPIFFE ID has no path", ErrInvalidID)
	}
	return NewID(u.Host, clientID)
}

// String returns the URI form.
func (id ID) String() string { return "spiffe://" + id.TrustDomain + "/" + id.ClientID }

// URL returns the URI form as a *url.URL, for a certificate's URI SAN.
func (id ID) URL() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.TrustDomain, Path: "/" + id.ClientID}
}

// IDFromCertificate returns the SPIFFE ID of an X509-SVID: the certificate
// must carry exactly one URI SAN and it must be a certbound SPIFFE ID
// (SPIFFE X509-SVID §2).
func IDFromCertificate(c *x509.Certificate) (ID, error) {
	if len(c.URIs) != 1 {
		return ID{}, fmt.Errorf("%w: certificate has %d URI SANs, want exactly 1", ErrInvalidID, len(c.URIs))
	}
	return idFromURL(c.URIs[0])
}
