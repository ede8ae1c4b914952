package httpapi

import (
	"crypto/x509"

	"github.com/labstack/echo/v4"
)

// unverifiedPeerChain returns the certificates the TLS client presented, leaf
// first. The listener only *requests* certificates (tls.RequestClientCert),
// so nothing has checked them: pass them to ca.VerifyClient or to tokenex,
// never use them as an identity directly. Headers never contribute: a
// certificate in a header is client input.
func unverifiedPeerChain(c echo.Context) []*x509.Certificate {
	if st := c.Request().TLS; st != nil {
		return st.PeerCertificates
	}
	return nil
}
