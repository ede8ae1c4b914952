package tokenex

import "encoding/json"

// Endpoint paths, relative to the issuer. The edge routes them; the
// metadata advertises Issuer + path.
const (
	TokenPath         = "/oauth2/token"
	IntrospectionPath = "/oauth2/introspect"
	JWKSPath          = "/.well-known/jwks.json"
	MetadataPath      = "/.well-known/oauth-authorization-server" // RFC 8414 §3
)

// Metadata returns the RFC 8414 authorization-server metadata document,
// built once. It advertises only what works (SPEC §8):
//   - grant_types_supported and token_endpoint_auth_methods_supported are
//     always present, because their defaults when omitted are wrong for
//     certbound (RFC 8414 §2);
//   - tls_client_certificate_bound_access_tokens is true (RFC 8705 §3.3);
//   - mtls_endpoint_aliases repeats the endpoints (RFC 8705 §5): certbound's
//     one listener requests client certificates on every route;
//   - response_types_supported is omitted: there is no authorization
//     endpoint, and RFC 8414 §3.2 forbids an empty list; scopes_supported is
//     omitted (scopes are per client); no JWT client authentication, so no
//     *_auth_signing_alg_values_supported.
//
// The bytes are shared: callers must not modify them.
func (s *Service) Metadata() []byte { return s.metadata }

func buildMetadata(issuer string) ([]byte, error) {
	type aliases struct {
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
	}
	doc := struct {
		Issuer                                    string   `json:"issuer"`
		TokenEndpoint                             string   `json:"token_endpoint"`
		JWKSURI                                   string   `json:"jwks_uri"`
		IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
		GrantTypesSupported                       []string `json:"grant_types_supported"`
		TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
		IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
		TLSClientCertificateBoundAccessTokens     bool     `json:"tls_client_certificate_bound_access_tokens"`
		MTLSEndpointAliases                       aliases  `json:"mtls_endpoint_aliases"`
	}{
		Issuer:                            issuer,
		TokenEndpoint:                     issuer + TokenPath,
		JWKSURI:                           issuer + JWKSPath,
		IntrospectionEndpoint:             issuer + IntrospectionPath,
		GrantTypesSupported:               []string{GrantClientCredentials},
		TokenEndpointAuthMethodsSupported: authMethods,
		IntrospectionEndpointAuthMethodsSupported: authMethods,
		TLSClientCertificateBoundAccessTokens:     true,
		MTLSEndpointAliases:                       aliases{issuer + TokenPath, issuer + IntrospectionPath},
	}
	return json.Marshal(doc)
}
