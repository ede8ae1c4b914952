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
// needs. storage.Store includes it.
type CertificateStore interface {
	ListCertificates(ctx context.Context, f storage.CertificateFilter) ([]storage.Certificate, error)
	RevokeCertificateOnce(ctx context.Context, serial, reason string, now time.Time) (storage.Certificate, bool, error)
}

// CertificateQuery selects issued certificates.
type CertificateQuery struct {
	ClientID   string
	ActiveOnly bool // same as State "active"
	// State is "" (any) or one of storage's states: "active", "superseded",
	// "expired", "revoked" (a certificate is in one; see storage.Certificate.State).
	State string
	// ExpiringWithin, when positive, keeps certificates whose NotAfter is
	// within this long from now.
	ExpiringWithin time.Duration
	After          string // pagination cursor: the last serial of the previous page
	Limit          int    // zero means 1000
}

// Certificates lists issued certificates.
func (s *Service) Certificates(ctx context.Context, q CertificateQuery) ([]storage.Certificate, error) {
	now := s.now()
	f := storage.CertificateFilter{ClientID: q.ClientID, After: q.After, Limit: q.Limit, At: now}
	if q.State != "" {
		st, ok := storage.ParseCertificateState(q.State)
		if !ok {
			return nil, fmt.Errorf("%w: state must be active, superseded, expired or revoked", ErrInvalidRequest)
		}
		f.State = st
	}
	if q.ActiveOnly {
		if f.State != "" && f.State != storage.StateActive {
			return nil, fmt.Errorf("%w: active=true and state=%s contradict each other", ErrInvalidRequest, f.State)
		}
		f.State = storage.StateActive
	}
	if q.ExpiringWithin > 0 {
		f.NotAfterBefore = now.Add(q.ExpiringWithin)
	}
	return s.inventory.ListCertificates(ctx, f)
}

// Revoke revokes the certificate with serial. Revoking twice keeps the first
// revocation and changes nothing: revoked reports whether this call revoked
// it (false: it was revoked before). From the moment Revoke returns,
// ca.VerifyClient refuses the certificate, so it can neither renew nor get
// tokens.
func (s *Service) Revoke(ctx context.Context, serial, reason string) (c storage.Certificate, revoked bool, err error) {
	if len(reason) > 200 {
		return storage.Certificate{}, false, errors.Join(ErrInvalidRequest, errors.New("reason longer than 200 characters"))
	}
	c, revoked, err = s.inventory.RevokeCertificateOnce(ctx, certs.NormalizeSerial(serial), reason, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Certificate{}, false, ErrCertificateNotFound
	}
	return c, revoked, err
}
