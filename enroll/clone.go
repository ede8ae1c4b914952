package enroll

import (
	"context"
	"crypto/x509"
	"errors"
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
	// When the successor has not been used yet, its lineage is marked
	// suspect and the client is disabled at its first later use (a token,
	// a renewal, the introspection of a token bound to it), so an attacker
	// who renewed first cannot wait out the refusal. A lost renewal
	// response never disables: its successor is never used. This is the
	// default.
	CloneDisableIfUsed CloneAction = "disable-if-used"
	// CloneRefuse only refuses (and the edge logs it). The successor, and
	// the presented certificate until it expires, keep working; no lineage
	// is marked.
	CloneRefuse CloneAction = "refuse"
	// CloneDisable always disables the client: fail closed, at the price of
	// locking out a client whose renewal response was lost. (Nothing is
	// left to mark: the disable stops every lineage of the client.)
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
	// disabled because of this refusal; LineageSuspect whether the
	// successor's lineage was marked suspect instead, for its first later
	// use to decide (CloneDisableIfUsed with an unused successor).
	Action         CloneAction
	Disabled       bool
	LineageSuspect bool
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
		slog.Bool("lineage_suspect", e.LineageSuspect),
	}
}

// Reasons of the client.disabled audit rows clone detection writes.
const (
	// ReasonPossibleClone: a certificate already renewed was presented for
	// renewal again (and the action disabled the client).
	ReasonPossibleClone = "possible_clone"
	// ReasonSuspectLineageUsed: a certificate of a lineage marked suspect
	// at such a refusal was used afterwards.
	ReasonSuspectLineageUsed = "suspect_lineage_used"
)

// onClone builds the CloneError for peer's certificate and applies the
// configured action.
//
// Under CloneDisableIfUsed a successor nobody has used yet does not decide
// anything: the presenter may have lost the renewal response, or an attacker
// may have renewed first and be waiting for this very refusal before using
// the successor. So the successor's lineage is marked suspect (persisted),
// and its first later use applies the action (checkLineage). The mark is
// made before the successor's use is read again, so a use racing with this
// refusal is seen by one of the two.
func (s *Service) onClone(ctx context.Context, peer ca.Peer, successor string) error {
	ce := &CloneError{ClientID: peer.ClientID(), Serial: peer.Serial(), SupersededBy: successor, Action: s.onCloneAction}
	if ce.SupersededBy == "" {
		// Lost a race with a concurrent renewal: read who won.
		if old, err := s.store.GetCertificate(ctx, peer.Serial()); err == nil {
			ce.SupersededBy = old.SupersededBy
		}
	}
	if ce.SupersededBy != "" {
		used, err := s.successorUsed(ctx, ce.SupersededBy)
		if err != nil {
			return err
		}
		if !used && s.onCloneAction == CloneDisableIfUsed {
			if _, err := s.store.MarkLineageSuspect(ctx, ce.SupersededBy, ce.Serial); err != nil {
				return fmt.Errorf("enroll: mark the lineage of %s suspect: %w", ce.SupersededBy, err)
			}
			ce.LineageSuspect = true
			if used, err = s.successorUsed(ctx, ce.SupersededBy); err != nil {
				return err
			}
		}
		ce.SuccessorUsed = used
	}
	if s.onCloneAction == CloneDisable || s.onCloneAction == CloneDisableIfUsed && ce.SuccessorUsed {
		if err := s.store.DisableClientAudited(ctx, ce.ClientID, ce.Serial, ReasonPossibleClone, s.now()); err != nil {
			return fmt.Errorf("enroll: disable client %s after a possible clone: %w", ce.ClientID, err)
		}
		ce.Disabled, ce.LineageSuspect = true, false // disabling clears the marks
	}
	return ce
}

func (s *Service) successorUsed(ctx context.Context, serial string) (bool, error) {
	used, err := s.store.CertificateFirstUsed(ctx, serial)
	if err != nil {
		return false, fmt.Errorf("enroll: first use of %s: %w", serial, err)
	}
	return !used.IsZero(), nil
}

// SuspectUseError is the use of a certificate whose lineage was marked
// suspect when its ancestor SuspectOf was presented for renewal again: the
// client has been disabled (Disabled) by the configured action (or, under
// CloneRefuse, a mark left from an earlier configuration stopped a renewal
// and Disabled is false). It wraps
// ca.ErrClientDisabled, so that every path refuses it as it refuses any
// certificate of a disabled client. Its fields are identifiers, never
// secrets, so it may be logged whole.
type SuspectUseError struct {
	ClientID  string
	Serial    string // the certificate used
	SuspectOf string // the certificate presented again; "" if unknown
	Disabled  bool
}

func (e *SuspectUseError) Error() string {
	return fmt.Sprintf("possible clone: certificate %s of client %s descends from %s, which was presented again after its renewal; the client is disabled",
		e.Serial, e.ClientID, e.SuspectOf)
}

func (e *SuspectUseError) Unwrap() error { return ca.ErrClientDisabled }

// LogAttrs are the fields the edge logs for it.
func (e *SuspectUseError) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("client_id", e.ClientID), slog.String("serial", e.Serial),
		slog.String("suspect_of", e.SuspectOf), slog.Bool("client_disabled", e.Disabled),
	}
}

// checkLineage applies the clone action when peer's certificate belongs to a
// lineage marked suspect: a use of it proves a second holder (the presenter
// of the refused ancestor never got it), so the client is disabled. Under
// CloneRefuse marks are never made, and old ones are ignored.
func (s *Service) checkLineage(ctx context.Context, peer ca.Peer) error {
	if s.onCloneAction == CloneRefuse {
		return nil
	}
	suspect, err := s.store.CertificateSuspect(ctx, peer.Serial())
	if err != nil {
		return fmt.Errorf("enroll: lineage status of %s: %w", peer.Serial(), err)
	}
	if !suspect {
		return nil
	}
	return s.suspectUsed(ctx, peer.ClientID(), peer.Serial(), "")
}

// suspectUsed disables the client after a use of the marked certificate serial.
func (s *Service) suspectUsed(ctx context.Context, clientID, serial, suspectOf string) error {
	if suspectOf == "" {
		if c, err := s.store.GetCertificate(ctx, serial); err == nil {
			suspectOf = c.RenewedFrom // at least the first link of the lineage
		}
	}
	if err := s.store.DisableClientAudited(ctx, clientID, serial, ReasonSuspectLineageUsed, s.now()); err != nil {
		return fmt.Errorf("enroll: disable client %s after a use of a suspect lineage: %w", clientID, err)
	}
	return &SuspectUseError{ClientID: clientID, Serial: serial, SuspectOf: suspectOf, Disabled: true}
}

// BoundCertificateUsable is asked when a token bound to the certificate with
// this fingerprint (hex SHA-256 of its DER, certs.Fingerprint) is
// introspected. A token of a suspect lineage is a use of it: the clone
// action applies, the client is disabled and the answer is false. Any other
// certificate, certbound's or not, is usable as far as lineage goes.
func (s *Service) BoundCertificateUsable(ctx context.Context, fingerprint string) (bool, error) {
	if s.onCloneAction == CloneRefuse {
		return true, nil
	}
	c, ok, err := s.store.SuspectByFingerprint(ctx, fingerprint)
	if err != nil {
		return false, fmt.Errorf("enroll: lineage status: %w", err)
	}
	if !ok {
		return true, nil
	}
	if err := s.suspectUsed(ctx, c.ClientID, c.Serial, c.SuspectOf); !errors.Is(err, ca.ErrClientDisabled) {
		return false, err
	}
	return false, nil
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
// CloneDisableIfUsed relies on. It also refuses, and applies the clone
// action to, a certificate whose lineage is marked suspect (checkLineage). Give it to everything that authenticates
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
	if err := r.svc.checkLineage(ctx, peer); err != nil {
		return ca.Peer{}, err
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
