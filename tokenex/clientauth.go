package tokenex

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
)

// ClientAuth is everything a request offers to authenticate its client. The
// edge fills in what it found and leaves the rest zero; tokenex decides.
type ClientAuth struct {
	// ClientID is the client_id request parameter ("" if absent). RFC 8705
	// §2 requires it for the mTLS methods.
	ClientID string
	// ClientSecret is the client_secret request parameter
	// (client_secret_post); zero if absent or empty.
	ClientSecret secret.Secret
	// Basic holds the "Authorization: Basic" credentials
	// (client_secret_basic), decoded with DecodeBasicAuth; nil if the header
	// was absent.
	Basic *BasicAuth
	// PeerChain is tls.ConnectionState.PeerCertificates: the certificates
	// the TLS client presented, leaf first, NOT verified (the listener uses
	// tls.RequestClientCert). Empty when none was presented.
	PeerChain []*x509.Certificate
}

// BasicAuth is the content of an "Authorization: Basic" header.
type BasicAuth struct {
	ClientID string
	Secret   secret.Secret
}

// DecodeBasicAuth takes the user name and password of an
// "Authorization: Basic" header after base64 decoding (as net/http's
// Request.BasicAuth returns them) and form-url-decodes both, as RFC 6749
// §2.3.1 requires (golang.org/x/oauth2 encodes them that way). Bad
// percent-encoding is invalid_request.
func DecodeBasicAuth(username, password string) (*BasicAuth, error) {
	id, err1 := url.QueryUnescape(username)
	sec, err2 := url.QueryUnescape(password)
	if err1 != nil || err2 != nil {
		return nil, oauthError(CodeInvalidRequest, "", "the Basic credentials are not form-url-encoded (RFC 6749 section 2.3.1)")
	}
	return &BasicAuth{ClientID: id, Secret: secret.FromString(sec)}, nil
}

// Caller is an authenticated client.
type Caller struct {
	ClientID string
	// Method is the registered method it authenticated with.
	Method string
	// Thumbprint is the x5t#S256 of the TLS client certificate, "" when none
	// was presented. Tokens issued to this caller are bound to it.
	Thumbprint string

	client storage.Client
}

// AuthenticateClient authenticates a client by its registered method, as the
// token endpoint does; the introspection endpoint uses it for callers that
// are clients. Failures are *Error with CodeInvalidClient (or
// CodeInvalidRequest for a malformed request); any other error is a server
// fault.
func (s *Service) AuthenticateClient(ctx context.Context, a ClientAuth) (Caller, error) {
	return s.authenticate(ctx, a)
}

func (s *Service) authenticate(ctx context.Context, a ClientAuth) (Caller, error) {
	hasBasic, hasPost := a.Basic != nil, !a.ClientSecret.IsZero()
	if hasBasic && hasPost {
		return Caller{}, oauthError(CodeInvalidRequest, ReasonTwoMethods,
			"more than one client authentication method in the request (RFC 6749 section 2.3)")
	}
	id := a.ClientID
	if hasBasic {
		if id != "" && id != a.Basic.ClientID {
			return Caller{}, oauthError(CodeInvalidRequest, ReasonClientIDMismatch,
				"client_id differs from the client in the Authorization header")
		}
		id = a.Basic.ClientID
	}
	if id == "" {
		return Caller{}, clientError(ReasonMissingClientID, nil)
	}
	var leaf *x509.Certificate
	if len(a.PeerChain) > 0 && a.PeerChain[0] != nil {
		leaf = a.PeerChain[0]
	}

	c, err := s.lookupClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		// Spend the time a real comparison takes, so that timing does not
		// tell unknown clients from wrong secrets.
		switch {
		case hasBasic:
			a.Basic.Secret.Matches(s.dummyHash)
		case hasPost:
			a.ClientSecret.Matches(s.dummyHash)
		}
		return Caller{}, clientError(ReasonUnknownClient, nil)
	}
	if err != nil {
		return Caller{}, fmt.Errorf("tokenex: look up client: %w", err)
	}

	caller := Caller{ClientID: c.ID, Method: c.AuthMethod, client: c}
	if leaf != nil {
		caller.Thumbprint = certs.X5tS256(leaf.Raw)
	}
	switch c.AuthMethod {
	case MethodClientSecretBasic, MethodClientSecretPost:
		sec, ok := a.ClientSecret, hasPost
		if c.AuthMethod == MethodClientSecretBasic {
			sec, ok = secret.Secret{}, hasBasic
			if hasBasic {
				sec = a.Basic.Secret
			}
		}
		switch {
		case !ok && (hasBasic || hasPost):
			return Caller{}, clientError(ReasonWrongMethod, nil)
		case !ok:
			return Caller{}, clientError(ReasonNoCredentials, nil)
		case !sec.Matches(c.SecretHash):
			return Caller{}, clientError(ReasonBadSecret, nil)
		}
	case MethodTLSClientAuth:
		if hasBasic || hasPost {
			return Caller{}, clientError(ReasonWrongMethod, nil)
		}
		if err := s.verifyPKI(ctx, a.PeerChain, leaf, c.SANURI); err != nil {
			return Caller{}, err
		}
	case MethodSelfSignedTLSClientAuth:
		if hasBasic || hasPost {
			return Caller{}, clientError(ReasonWrongMethod, nil)
		}
		if err := s.verifySelfSigned(leaf, c.Thumbprints); err != nil {
			return Caller{}, err
		}
	default:
		return Caller{}, clientError(ReasonWrongMethod, nil)
	}
	if c.Disabled {
		return Caller{}, clientError(ReasonClientDisabled, nil)
	}
	return caller, nil
}

// verifyPKI is tls_client_auth (RFC 8705 §2.1): the verifier checks the chain
// to certbound's root, validity, revocation and client status; then the
// SPIFFE ID must equal the registered tls_client_auth_san_uri exactly.
func (s *Service) verifyPKI(ctx context.Context, chain []*x509.Certificate, leaf *x509.Certificate, sanURI string) error {
	if leaf == nil {
		return clientError(ReasonNoCertificate, nil)
	}
	if s.peers == nil {
		return clientError(ReasonUntrusted, nil)
	}
	peer, err := s.peers.VerifyClient(ctx, chain)
	if err != nil {
		if r, ok := peerReason(err); ok {
			return clientError(r, err)
		}
		return fmt.Errorf("tokenex: verify client certificate: %w", err)
	}
	if peer.ID().String() != sanURI {
		return clientError(ReasonSANMismatch, nil)
	}
	return nil
}

// peerReason maps a ca verdict to a Reason; ok is false for server faults.
func peerReason(err error) (Reason, bool) {
	switch {
	case errors.Is(err, ca.ErrNoClientCert):
		return ReasonNoCertificate, true
	case errors.Is(err, ca.ErrExpired):
		return ReasonCertExpired, true
	case errors.Is(err, ca.ErrUntrusted):
		return ReasonUntrusted, true
	case errors.Is(err, ca.ErrIdentity):
		return ReasonCertIdentity, true
	case errors.Is(err, ca.ErrRevoked):
		return ReasonCertRevoked, true
	case errors.Is(err, ca.ErrClientDisabled):
		return ReasonCertClientOff, true
	case errors.Is(err, ca.ErrUnknownClient):
		return ReasonCertClientUnknown, true
	}
	return "", false
}

// verifySelfSigned is self_signed_tls_client_auth (RFC 8705 §2.2): the
// leaf's thumbprint must be registered (every registered one is compared, in
// constant time) and the certificate valid now. The TLS handshake proved
// possession of its key; the chain is not validated.
func (s *Service) verifySelfSigned(leaf *x509.Certificate, registered []string) error {
	if leaf == nil {
		return clientError(ReasonNoCertificate, nil)
	}
	got := []byte(certs.X5tS256(leaf.Raw))
	match := 0
	for _, t := range registered {
		match |= subtle.ConstantTimeCompare(got, []byte(t))
	}
	if match != 1 {
		return clientError(ReasonCertUnregistered, nil)
	}
	if now := s.now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return clientError(ReasonCertExpired, nil)
	}
	return nil
}
