package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
)

// noStore marks a response that carries a secret (SPEC §6).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

type enrollTokenRequest struct {
	TTL      string   `json:"ttl,omitempty"` // Go duration, "15m"
	DNSNames []string `json:"dns_names,omitempty"`
}

func (a *API) createEnrollToken(c echo.Context) error {
	var req enrollTokenRequest
	// An empty body means all defaults.
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			return badRequest(`ttl must be a duration such as "15m" or "1h"`)
		}
		ttl = d
	}
	tok, err := a.enroll.MintToken(c.Request().Context(), enroll.TokenRequest{ClientID: c.Param("id"), TTL: ttl, DNSNames: req.DNSNames})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, adminapi.EnrollmentToken{Token: tok.Token.Reveal(), ClientID: tok.ClientID,
		DNSNames: tok.DNSNames, ExpiresAt: tok.ExpiresAt.UTC()})
}

func viewCertificate(r storage.Certificate, now time.Time) adminapi.Certificate {
	v := adminapi.Certificate{Serial: r.Serial, ClientID: r.ClientID, Fingerprint: r.Fingerprint, NotBefore: r.NotBefore,
		NotAfter: r.NotAfter, RenewedFrom: r.RenewedFrom, SupersededBy: r.SupersededBy, RevocationReason: r.RevocationReason}
	v.Status = string(r.State(now))
	if r.Revoked() {
		t := r.RevokedAt
		v.RevokedAt = &t
	}
	return v
}

func (a *API) listCertificates(c echo.Context) error {
	q := enroll.CertificateQuery{ClientID: c.QueryParam("client_id"), After: c.QueryParam("after")}
	if v := c.QueryParam("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("active must be true or false")
		}
		q.ActiveOnly = b
	}
	q.State = c.QueryParam("state")
	if v := c.QueryParam("expiring_within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return badRequest(`expiring_within must be a positive duration such as "24h"`)
		}
		q.ExpiringWithin = d
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		q.Limit = n
	}
	list, err := a.enroll.Certificates(c.Request().Context(), q)
	if err != nil {
		return err
	}
	now := a.now()
	out := make([]adminapi.Certificate, 0, len(list))
	for _, r := range list {
		out = append(out, viewCertificate(r, now))
	}
	return c.JSON(http.StatusOK, adminapi.Certificates{Certificates: out})
}

type revokeRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (a *API) revokeCertificate(c echo.Context) error {
	var req revokeRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	rec, revoked, err := a.enroll.Revoke(c.Request().Context(), c.Param("serial"), req.Reason)
	if err != nil {
		return err
	}
	c.Set(ctxSerial, rec.Serial)
	c.Set(ctxClientID, rec.ClientID)
	v := viewCertificate(rec, a.now())
	if !revoked {
		// Revoked before: 200 with the first revocation, and no second
		// certificate.revoked row (an empty event type writes none).
		c.Set(ctxEvent, "")
		v.AlreadyRevoked = true
	}
	return c.JSON(http.StatusOK, v)
}
