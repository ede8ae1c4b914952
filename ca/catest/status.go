package catest

import (
	"context"
	"fmt"
	"sync"

	"github.com/certbound/certbound/ca"
)

// Status is an in-memory ca.StatusSource that keeps the rules of the real
// one (storagetest.StatusSource): a serial it has no record of is revoked.
// CA.Leaf and the failure fixtures record what they issue; a test that calls
// Authority.IssueLeaf itself calls Record. The zero value knows every
// client, enabled, and no serial. It is safe for concurrent use.
type Status struct {
	mu       sync.Mutex
	known    map[string]bool // serial → recorded; guarded by mu
	revoked  map[string]bool // serial → revoked; guarded by mu
	disabled map[string]bool // client id → disabled; guarded by mu
	unknown  map[string]bool // client id → forgotten; guarded by mu
	err      error           // returned by every lookup when set; guarded by mu
}

var _ ca.StatusSource = (*Status)(nil)

// Record makes a serial (certs.SerialString form) known, and so not
// revoked until Revoke.
func (s *Status) Record(serial string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(&s.known, serial, true)
}

// Revoke marks a serial (certs.SerialString form) as revoked.
func (s *Status) Revoke(serial string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(&s.revoked, serial, true)
}

// Disable marks a client as disabled.
func (s *Status) Disable(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(&s.disabled, clientID, true)
}

// Enable undoes Disable.
func (s *Status) Enable(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(&s.disabled, clientID, false)
}

// Forget makes the client unknown, as if it had been deleted: ClientDisabled
// then returns an error wrapping ca.ErrUnknownClient.
func (s *Status) Forget(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(&s.unknown, clientID, true)
}

// Fail makes every lookup return err, as a broken database would. Fail(nil)
// restores normal answers.
func (s *Status) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// CertificateRevoked implements ca.StatusSource.
func (s *Status) CertificateRevoked(_ context.Context, serial string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	return s.revoked[serial] || !s.known[serial], nil
}

// ClientDisabled implements ca.StatusSource.
func (s *Status) ClientDisabled(_ context.Context, clientID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if s.unknown[clientID] {
		return false, fmt.Errorf("catest: client %s: %w", clientID, ca.ErrUnknownClient)
	}
	return s.disabled[clientID], nil
}

func set(m *map[string]bool, k string, v bool) {
	if *m == nil {
		*m = make(map[string]bool)
	}
	(*m)[k] = v
}
