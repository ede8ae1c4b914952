package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll"
)

func (a *API) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is GET /v1/ready (SPEC §13): 200 {"status":"ready"} when the
// database answers and the CA is loaded, else 503 unavailable with the
// reason, so that a load balancer stops sending requests to this replica
// until it can serve them. No credentials, no rate limit, no audit event:
// load balancers poll it. /v1/health stays a liveness check that never
// touches the database.
func (a *API) readiness(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if a.ready != nil {
		if err := a.ready.Ready(c.Request().Context()); err != nil {
			c.Set(ctxReason, "not_ready")
			c.Response().Header().Set("Retry-After", "1")
			return c.JSON(http.StatusServiceUnavailable, errorBody{Error: codeUnavailable, Description: err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// roots serves the root bundle (SPEC §7).
func (a *API) roots(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/pem-certificate-chain", a.ca.RootPEM())
}

type enrollRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"`
}

type renewRequest struct {
	CSR string `json:"csr"`
}

// certificateResponse is the body of a successful enrollment or renewal.
type certificateResponse struct {
	Certificate string    `json:"certificate"` // leaf PEM
	Chain       string    `json:"chain"`       // leaf + intermediate PEM
	CA          string    `json:"ca"`          // root PEM
	Serial      string    `json:"serial"`
	SPIFFEID    string    `json:"spiffe_id"`
	NotAfter    time.Time `json:"not_after"`
}

func (a *API) enrollCertificate(c echo.Context) error {
	var req enrollRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Token == "" || req.CSR == "" {
		return badRequest("token and csr are required")
	}
	issued, err := a.enroll.Enroll(c.Request().Context(), secret.FromString(req.Token), []byte(req.CSR))
	if err != nil {
		return err
	}
	return a.renderIssued(c, issued)
}

// renewCertificate re-keys over mTLS: the identity is the verified peer's.
// The certificate's use is recorded by Renew, in the renewal's transaction,
// or here when the request is refused before it.
func (a *API) renewCertificate(c echo.Context) error {
	ctx := c.Request().Context()
	peer, err := a.enroll.VerifyRenewal(ctx, unverifiedPeerChain(c))
	if err != nil {
		return err
	}
	c.Set(ctxClientID, peer.ClientID())
	var req renewRequest
	if err := bindJSON(c, &req); err != nil {
		a.enroll.RecordUse(ctx, peer)
		return err
	}
	if req.CSR == "" {
		a.enroll.RecordUse(ctx, peer)
		return badRequest("csr is required")
	}
	issued, err := a.enroll.Renew(ctx, peer, []byte(req.CSR))
	if err != nil {
		return err
	}
	return a.renderIssued(c, issued)
}

func (a *API) renderIssued(c echo.Context, is *enroll.Issued) error {
	c.Set(ctxClientID, is.Record.ClientID)
	c.Set(ctxSerial, is.Record.Serial)
	return c.JSON(http.StatusCreated, certificateResponse{
		Certificate: string(certs.EncodeCertificates(is.Leaf)),
		Chain:       string(is.ChainPEM),
		CA:          string(is.RootPEM),
		Serial:      is.Record.Serial,
		SPIFFEID:    is.SPIFFEID,
		NotAfter:    is.Leaf.NotAfter.UTC(),
	})
}
