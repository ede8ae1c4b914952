package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/tokenex"
)

// clientRequest is POST /v1/clients (SPEC §6; RFC 7591 and RFC 8705 names).
type clientRequest struct {
	ClientID                string          `json:"client_id,omitempty"`
	ClientName              string          `json:"client_name,omitempty"`
	Scope                   string          `json:"scope,omitempty"`
	Audience                []string        `json:"audience,omitempty"`
	GrantTypes              []string        `json:"grant_types,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	TLSClientAuthSANURI     string          `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSubjectDN  string          `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS     string          `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANIP      string          `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail   string          `json:"tls_client_auth_san_email,omitempty"`
	SelfSignedCertificates  []string        `json:"self_signed_certificates,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	// AccessTokenTTL in seconds.
	AccessTokenTTL int64 `json:"access_token_ttl,omitempty"`
	// TLSClientCertificateBoundAccessTokens (RFC 8705 §3.4) is accepted for
	// compatibility: certbound binds every token issued over mTLS anyway.
	TLSClientCertificateBoundAccessTokens *bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

func (r clientRequest) spec() (tokenex.ClientSpec, error) {
	ttl, err := ttlSeconds(r.AccessTokenTTL)
	if err != nil {
		return tokenex.ClientSpec{}, err
	}
	return tokenex.ClientSpec{
		ClientID: r.ClientID, ClientName: r.ClientName, Scope: r.Scope, Audience: r.Audience, GrantTypes: r.GrantTypes,
		TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, TLSClientAuthSANURI: r.TLSClientAuthSANURI,
		TLSClientAuthSubjectDN: r.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: r.TLSClientAuthSANDNS,
		TLSClientAuthSANIP: r.TLSClientAuthSANIP, TLSClientAuthSANEmail: r.TLSClientAuthSANEmail,
		SelfSignedCertificates: r.SelfSignedCertificates, JWKS: r.JWKS, JWKSURI: r.JWKSURI,
		AccessTokenTTL: ttl,
	}, nil
}

// ttlSeconds converts access_token_ttl to a Duration, refusing values whose
// nanoseconds would overflow (they would wrap around into a plausible TTL).
// The range itself is tokenex's to check.
func ttlSeconds(s int64) (time.Duration, error) {
	if s < 0 || s > math.MaxInt64/int64(time.Second) {
		return 0, &tokenex.Error{Code: tokenex.CodeInvalidClientMetadata, Description: "access_token_ttl is out of range"}
	}
	return time.Duration(s) * time.Second, nil
}

// clientPatch is PATCH /v1/clients/{id}: absent fields stay as they are.
type clientPatch struct {
	ClientName     *string   `json:"client_name,omitempty"`
	Scope          *string   `json:"scope,omitempty"`
	Audience       *[]string `json:"audience,omitempty"`
	Disabled       *bool     `json:"disabled,omitempty"`
	AccessTokenTTL *int64    `json:"access_token_ttl,omitempty"`
}

func viewClient(c tokenex.Client, sec secret.Secret) adminapi.Client {
	aud := c.Audience
	if aud == nil {
		aud = []string{}
	}
	v := adminapi.Client{
		ClientID: c.ID, ClientSecret: sec.Reveal(), ClientName: c.Name, Scope: c.Scope(), Audience: aud,
		GrantTypes: c.GrantTypes, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		TLSClientAuthSANURI: c.TLSClientAuthSANURI, SelfSignedCertificates: c.SelfSignedCertificates,
		Thumbprints: c.Thumbprints, AccessTokenTTL: int64(c.AccessTokenTTL / time.Second), Disabled: c.Disabled,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if !sec.IsZero() {
		v.ClientSecretExpiresAt = new(int64(secretNeverExpires))
	}
	return v
}

// secretNeverExpires is RFC 7591 §3.2.1's client_secret_expires_at for a
// secret that does not expire. It is sent with every client_secret.
const secretNeverExpires = 0

func (a *API) createClient(c echo.Context) error {
	var req clientRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	spec, err := req.spec()
	if err != nil {
		return err
	}
	client, sec, err := a.tokens.RegisterClient(c.Request().Context(), spec)
	if err != nil {
		return err
	}
	if !sec.IsZero() {
		noStore(c)
	}
	c.Set(ctxClientID, client.ID)
	return c.JSON(http.StatusCreated, viewClient(client, sec))
}

func (a *API) listClients(c echo.Context) error {
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		limit = n
	}
	list, err := a.tokens.ListClients(c.Request().Context(), c.QueryParam("after"), limit)
	if err != nil {
		return err
	}
	out := make([]adminapi.Client, 0, len(list))
	for _, cl := range list {
		out = append(out, viewClient(cl, secret.Secret{}))
	}
	return c.JSON(http.StatusOK, adminapi.Clients{Clients: out})
}

func (a *API) getClient(c echo.Context) error {
	cl, err := a.tokens.GetClient(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewClient(cl, secret.Secret{}))
}

func (a *API) patchClient(c echo.Context) error {
	var req clientPatch
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := tokenex.ClientPatch{ClientName: req.ClientName, Scope: req.Scope, Audience: req.Audience, Disabled: req.Disabled}
	if req.AccessTokenTTL != nil {
		d, err := ttlSeconds(*req.AccessTokenTTL)
		if err != nil {
			return err
		}
		p.AccessTokenTTL = &d
	}
	cl, err := a.tokens.UpdateClient(c.Request().Context(), c.Param("id"), p)
	if err != nil {
		return err
	}
	// A PATCH that only flips "disabled" is audited as what it is.
	if req.Disabled != nil && req.ClientName == nil && req.Scope == nil && req.Audience == nil && req.AccessTokenTTL == nil {
		c.Set(ctxEvent, "client.enabled")
		if *req.Disabled {
			c.Set(ctxEvent, "client.disabled")
		}
	}
	return c.JSON(http.StatusOK, viewClient(cl, secret.Secret{}))
}

func (a *API) deleteClient(c echo.Context) error {
	if err := a.tokens.DeleteClient(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
