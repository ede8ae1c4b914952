package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
	"github.com/certbound/certbound/tokenex"
)

// ErrNoPassword: a PostgreSQL database and no CA password. The CA lives in
// the shared database; without a password its keys would be stored there in
// the clear, readable by anyone who can read the database or a dump of it.
var ErrNoPassword = errors.New("a PostgreSQL database needs a CA password (--password-file, or CERTBOUND_PASSWORD_FILE): " +
	"the CA's private keys are stored in the shared database, and without a password they would sit there in the clear")

// passwordHint names the flag when err says the CA password (or the one the
// signing keys are encrypted with, the same) is missing or wrong.
func passwordHint(err error, shared bool) error {
	if !errors.Is(err, ca.ErrPassword) && !errors.Is(err, tokenex.ErrKeyPassword) {
		return err
	}
	where := "the CA keys in <data-dir>/ca"
	if shared {
		where = "the CA keys stored in the database"
	}
	return fmt.Errorf("the CA password (--password-file, or CERTBOUND_PASSWORD_FILE) does not decrypt %s: is it the password the CA was created with? %w", where, err)
}

// sharedCA returns the CA stored in the database (PostgreSQL): the first
// replica to start creates it — a new CA, both keys encrypted with the CA
// password — and stores it; every other one, also one starting at the same
// moment, waits for that and loads it (storage.SharedCA.InitCA). created
// reports whether this replica created it. On SQLite it returns nil: the CA
// is in <data-dir>/ca.
func (s *Server) sharedCA(ctx context.Context, kind backend.Kind, caDir string) (m *ca.Material, created bool, err error) {
	if kind == backend.SQLite {
		return nil, false, nil
	}
	shared, ok := s.db.(storage.SharedCA)
	if !ok {
		return nil, false, errors.New("the PostgreSQL store does not keep a CA")
	}
	if ca.Exists(caDir) {
		s.log.Warn("the data dir holds a CA directory, which a server on PostgreSQL does not use: the CA is the one in the database",
			slog.String("ignored", caDir))
	}
	stored, isNew, err := shared.InitCA(ctx, func() (storage.CAMaterial, error) {
		m, err := ca.NewMaterial(ca.BootstrapOptions{Password: s.cfg.CAPassword, Now: s.cfg.Now})
		if err != nil {
			return storage.CAMaterial{}, err
		}
		return storage.CAMaterial{RootCertPEM: m.RootCertPEM, RootKeyPEM: m.RootKeyPEM,
			IntermediateCertPEM: m.IntermediateCertPEM, IntermediateKeyPEM: m.IntermediateKeyPEM, CreatedAt: s.cfg.Now()}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("load or create the CA in the database: %w", err)
	}
	if !ca.KeyEncrypted(stored.IntermediateKeyPEM) {
		// Put there by something else than certbound serve (a copy from an
		// unencrypted SQLite data dir, say): refuse rather than serve keys
		// anyone with the database can read.
		return nil, false, errors.New("the CA stored in the database has an unencrypted intermediate key; encrypt it with the CA password first")
	}
	return &ca.Material{RootCertPEM: stored.RootCertPEM, RootKeyPEM: stored.RootKeyPEM,
		IntermediateCertPEM: stored.IntermediateCertPEM, IntermediateKeyPEM: stored.IntermediateKeyPEM}, isNew, nil
}

// firstKeyWait bounds how long a replica that did not create the CA waits
// for the one that did to store the first signing key.
const firstKeyWait = 10 * time.Second

// awaitFirstSigningKey lets the replica that created the CA store the first
// token-signing key, when several replicas start on an empty database at
// once. The first key signs at once (no key signs before it), so if each
// replica made its own, one would sign with a key the others do not yet
// publish. The creator stores it right after the CA; the others wait for it
// here, up to firstKeyWait (after which, the creator having died, say, they
// make one themselves).
func (s *Server) awaitFirstSigningKey(ctx context.Context) {
	deadline := time.Now().Add(firstKeyWait)
	for {
		keys, err := s.db.SigningKeys(ctx, s.cfg.Now())
		if (err == nil && len(keys) > 0) || time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyTimeout bounds GET /v1/ready's database check: a load balancer
// polling it must get an answer, not a hung connection.
const readyTimeout = time.Second

// readiness answers GET /v1/ready: the database answers within readyTimeout
// and the CA is loaded.
type readiness struct{ s *Server }

func (r readiness) Ready(ctx context.Context) error {
	if r.s.ca == nil {
		return errors.New("the CA is not loaded")
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := r.s.db.Ping(ctx); err != nil {
		return errors.New("the database does not answer")
	}
	return nil
}

// removeIfExists removes path, ignoring that it is already gone.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
