package httpapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex"
)

// The seed guide's routes (SPEC §9): field translation onto the same domain
// calls as the native routes, nothing more.

type seedClientRequest struct {
	ClientName string   `json:"clientName"`
	GrantTypes []string `json:"grantTypes"`
	Scope      string   `json:"scope"`
	Audience   []string `json:"audience"`
}

type seedClientResponse struct {
	Status       string `json:"status"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// ClientSecretExpiresAt is RFC 7591's client_secret_expires_at in the
	// seed's camelCase: always 0 (never). An extra member the seed's
	// snippets ignore.
	ClientSecretExpiresAt int64    `json:"clientSecretExpiresAt"`
	ClientName            string   `json:"clientName"`
	GrantTypes            []string `json:"grantTypes"`
	Scope                 string   `json:"scope"`
	Audience              []string `json:"audience"`
}

// seedCreateClient is POST /recipe/oauth/clients: a client_secret_post
// client, as the seed's token call sends its secret in the body.
func (a *API) seedCreateClient(c echo.Context) error {
	var req seedClientRequest
	if err := bindJSONLenient(c, &req); err != nil {
		return err
	}
	client, sec, err := a.tokens.RegisterClient(c.Request().Context(), tokenex.ClientSpec{
		ClientName: req.ClientName, GrantTypes: req.GrantTypes, Scope: req.Scope, Audience: req.Audience,
		TokenEndpointAuthMethod: tokenex.MethodClientSecretPost,
	})
	if err != nil {
		return err
	}
	noStore(c)
	c.Set(ctxClientID, client.ID)
	return c.JSON(http.StatusOK, seedClientResponse{Status: "OK", ClientID: client.ID, ClientSecret: sec.Reveal(),
		ClientSecretExpiresAt: secretNeverExpires, ClientName: client.Name, GrantTypes: client.GrantTypes, Scope: client.Scope(), Audience: client.Audience})
}

type seedTokenRequest struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	GrantType    string   `json:"grantType"`
	Scope        []string `json:"scope"`
	Audience     string   `json:"audience"`
}

type seedTokenResponse struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
	TokenType   string `json:"tokenType"`
	Scope       string `json:"scope"`
}

// seedToken is POST /auth/oauth/token with the seed's JSON body; bound to the
// client certificate when one is on the connection, like /oauth2/token.
func (a *API) seedToken(c echo.Context) error {
	var req seedTokenRequest
	if err := bindJSONLenient(c, &req); err != nil {
		return err
	}
	auth := tokenex.ClientAuth{ClientID: req.ClientID, PeerChain: unverifiedPeerChain(c)}
	if req.ClientSecret != "" {
		auth.ClientSecret = secret.FromString(req.ClientSecret)
	}
	basic, err := basicCredentials(c.Request())
	if err != nil {
		return err
	}
	auth.Basic = basic
	tr := tokenex.TokenRequest{ClientAuth: auth, GrantType: req.GrantType, Scope: strings.Join(req.Scope, " "), Audience: req.Audience}
	return a.issueToken(c, tr, func(t *tokenex.Token) any {
		return seedTokenResponse{AccessToken: t.AccessToken.Reveal(), ExpiresIn: t.ExpiresIn, TokenType: t.TokenType, Scope: t.Scope}
	})
}
