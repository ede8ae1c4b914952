package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/storage"
)

// CertificateStore is the part of the database the certificate inventory
// needs. *storage.DB implements it.
type CertificateStore interface {
	ListCertificates(ctx context.Context, f storage.CertificateFilter) ([]storage.Certificate, error)
	RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, error)
}

// CertificateQuery selects issued certificates.
type CertificateQuery struct {
	ClientID   string
	ActiveOnly bool // valid now and not revoked
	// State is "", "active", "expired" or "revoked"; "active" is ActiveOnly.
	State string
	// ExpiringWithin, when positive, keeps certificates whose NotAfter is
	// within this long from now.
	ExpiringWithin time.Duration
	After          string // pagination cursor: the last serial of the previous page
	Limit          int    // zero means 1000
}

// Certificates lists issued certificates.
func (s *Service) Certificates(ctx context.Context, q CertificateQuery) ([]storage.Certificate, error) {
	f := storage.CertificateFilter{ClientID: q.ClientID, After: q.After, Limit: q.Limit}
	now := s.now()
	switch q.State {
	case "":
	case "active":
		q.ActiveOnly = true
	case "expired":
		f.ExpiredAt = now
	case "revoked":
		f.Revoked = true
	default:
		return nil, fmt.Errorf("%w: state must be active, expired or revoked", ErrInvalidRequest)
	}
	if q.ActiveOnly {
		f.ActiveAt = now
	}
	if q.ExpiringWithin > 0 {
		f.NotAfterBefore = now.Add(q.ExpiringWithin)
	}
	return s.inventory.ListCertificates(ctx, f)
}

// Revoke revokes the certificate with serial. Revoking twice keeps the first
// revocation. From the moment Revoke returns, ca.VerifyClient refuses the
// certificate, so it can neither renew nor get tokens.
func (s *Service) Revoke(ctx context.Context, serial, reason string) (storage.Certificate, error) {
	if len(reason) > 200 {
		return storage.Certificate{}, errors.Join(ErrInvalidRequest, errors.New("reason longer than 200 characters"))
	}
	c, err := s.inventory.RevokeCertificate(ctx, certs.NormalizeSerial(serial), reason, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Certificate{}, ErrCertificateNotFound
	}
	return c, err
}
