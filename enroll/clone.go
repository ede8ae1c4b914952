package enroll

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"

	"github.com/certbound/certbound/ca"
)

// CloneAction is what Renew does, besides refusing, when it is shown a
// certificate that was already renewed.
//
// Each certificate can be renewed once (its successor is recorded). A second
// renewal of the same certificate means one of two things:
//   - the first renewal's response was lost (a timeout, a crash before the
//     client saved it), and the client retries with the only certificate it
//     has; nobody holds the successor, so it is never used;
//   - two parties hold the certificate's key (a clone), and one of them
//     renewed first; the successor is in use by that party.
//
// The certificate's first use is recorded (RecordingVerifier), so the two
// can be told apart: a successor that has authenticated a request since it
// was issued proves a second holder.
type CloneAction string

const (
	// CloneDisableIfUsed refuses, and disables the client when the
	// successor has been used: the lineage then has two holders, and
	// disabling stops both until an administrator re-enables the client.
	// A lost renewal response never disables. This is the default.
	CloneDisableIfUsed CloneAction = "disable-if-used"
	// CloneRefuse only refuses (and the edge logs it). The successor, and
	// the presented certificate until it expires, keep working.
	CloneRefuse CloneAction = "refuse"
	// CloneDisable always disables the client: fail closed, at the price of
	// locking out a client whose renewal response was lost.
	CloneDisable CloneAction = "disable"
)

// ParseCloneAction parses a --on-clone value; "" is the default.
func ParseCloneAction(s string) (CloneAction, error) {
	switch a := CloneAction(s); a {
	case "":
		return CloneDisableIfUsed, nil
	case CloneDisableIfUsed, CloneRefuse, CloneDisable:
		return a, nil
	}
	return "", fmt.Errorf("%w: clone action %q: want %s, %s or %s", ErrInvalidRequest, s,
		CloneRefuse, CloneDisableIfUsed, CloneDisable)
}

// CloneError is a renewal refused because the presented certificate was
// already renewed. It wraps ErrAlreadyRenewed. Its fields are identifiers,
// never secrets, so it may be logged whole.
type CloneError struct {
	ClientID     string
	Serial       string // the presented certificate
	SupersededBy string // its successor; "" if it could not be read
	// SuccessorUsed: the successor has authenticated a request since it
	// was issued, so someone other than the presenter holds the lineage.
	SuccessorUsed bool
	// Action is the configured action; Disabled whether the client was
	// disabled because of this refusal.
	Action   CloneAction
	Disabled bool
}

func (e *CloneError) Error() string {
	return fmt.Sprintf("possible clone: certificate %s of client %s was already renewed (successor %s)",
		e.Serial, e.ClientID, e.SupersededBy)
}

func (e *CloneError) Unwrap() error { return ErrAlreadyRenewed }

// LogAttrs are the fields the edge logs for a possible clone.
func (e *CloneError) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("client_id", e.ClientID), slog.String("serial", e.Serial),
		slog.String("superseded_by", e.SupersededBy), slog.Bool("successor_used", e.SuccessorUsed),
		slog.String("on_clone", string(e.Action)), slog.Bool("client_disabled", e.Disabled),
	}
}

// onClone builds the CloneError for peer's certificate and applies the
// configured action.
func (s *Service) onClone(ctx context.Context, peer ca.Peer, successor string) error {
	ce := &CloneError{ClientID: peer.ClientID(), Serial: peer.Serial(), SupersededBy: successor, Action: s.onCloneAction}
	if ce.SupersededBy == "" {
		// Lost a race with a concurrent renewal: read who won.
		if old, err := s.store.GetCertificate(ctx, peer.Serial()); err == nil {
			ce.SupersededBy = old.SupersededBy
		}
	}
	if ce.SupersededBy != "" {
		used, err := s.store.CertificateFirstUsed(ctx, ce.SupersededBy)
		if err != nil {
			return fmt.Errorf("enroll: first use of %s: %w", ce.SupersededBy, err)
		}
		ce.SuccessorUsed = !used.IsZero()
	}
	if s.onCloneAction == CloneDisable || s.onCloneAction == CloneDisableIfUsed && ce.SuccessorUsed {
		if err := s.store.DisableClient(ctx, ce.ClientID, s.now()); err != nil {
			return fmt.Errorf("enroll: disable client %s after a possible clone: %w", ce.ClientID, err)
		}
		ce.Disabled = true
	}
	return ce
}

// PeerVerifier turns a TLS peer's unverified chain into a verified identity;
// *ca.Authority implements it.
type PeerVerifier interface {
	VerifyClient(ctx context.Context, chain []*x509.Certificate) (ca.Peer, error)
}

// maxRemembered bounds the set of certificates known to be marked used; past
// it the set starts over, which costs one redundant write per certificate.
const maxRemembered = 1 << 16

// RecordingVerifier wraps v so that every certificate that verifies has its
// first use recorded, once per certificate (and process): the evidence
// CloneDisableIfUsed relies on. Give it to everything that authenticates
// clients by certificate (the token endpoint); renewal verifies with
// VerifyRenewal instead and Renew records the use in its own transaction,
// which saves a write. A failure to record is not the caller's: the request
// proceeds, and the use is recorded at the next one.
func (s *Service) RecordingVerifier(v PeerVerifier) PeerVerifier {
	return &recordingVerifier{next: v, svc: s, seen: map[string]struct{}{}}
}

type recordingVerifier struct {
	next PeerVerifier
	svc  *Service

	mu   sync.Mutex
	seen map[string]struct{} // serials whose first use is recorded; guarded by mu
}

func (r *recordingVerifier) VerifyClient(ctx context.Context, chain []*x509.Certificate) (ca.Peer, error) {
	peer, err := r.next.VerifyClient(ctx, chain)
	if err != nil {
		return peer, err
	}
	serial := peer.Serial()
	r.mu.Lock()
	_, done := r.seen[serial]
	r.mu.Unlock()
	if done {
		return peer, nil
	}
	if err := r.svc.store.MarkCertificateUsed(ctx, serial, r.svc.now()); err != nil {
		return peer, nil // recorded at the next use
	}
	r.mu.Lock()
	if len(r.seen) >= maxRemembered {
		clear(r.seen)
	}
	r.seen[serial] = struct{}{}
	r.mu.Unlock()
	return peer, nil
}
