package verify

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/certbound/certbound/certs"
)

// trusts reports whether remoteAddr ("host:port", as in http.Request) lies
// inside one of the proxy's prefixes.
func (p *TrustedProxy) trusts(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, pfx := range p.From {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// certificate returns the certificate in the proxy's header, or nil if the
// header is absent or empty (the proxy saw no client certificate).
func (p *TrustedProxy) certificate(h http.Header) (*x509.Certificate, *Error) {
	vals := h.Values(p.Header)
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalidRequest("the request has more than one client certificate header")
	}
	c, err := parseCertificateHeader(vals[0])
	if err != nil {
		return nil, invalidRequest("the client certificate header is malformed")
	}
	return c, nil
}

// parseCertificateHeader parses a proxy's certificate header value: an RFC
// 9440 byte sequence (":" base64 DER ":") or a URL-escaped PEM certificate
// (nginx $ssl_client_escaped_cert). An empty value means no certificate.
func parseCertificateHeader(v string) (*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, nil
	case len(v) > 3*certs.MaxPEMBytes:
		return nil, errors.New("certificate header too long")
	case len(v) >= 2 && v[0] == ':' && v[len(v)-1] == ':':
		der, err := base64.StdEncoding.Strict().DecodeString(v[1 : len(v)-1])
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	pemText, err := url.PathUnescape(v)
	if err != nil {
		return nil, err
	}
	return certs.ParseCertificate([]byte(pemText))
}
