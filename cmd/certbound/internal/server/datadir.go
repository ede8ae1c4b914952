package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/storage"
)

// File names inside the data directory.
const (
	CADir        = "ca"
	DatabaseFile = "certbound.db"
	AdminKeyFile = "admin.key"
)

// adminKeyPrefix marks admin keys so that a leaked one is recognisable.
const adminKeyPrefix = "cba_"

// ErrInsecurePermissions: the data dir or a file holding a key or a secret
// hash is accessible to group or others. The message names the chmod that
// fixes it.
var ErrInsecurePermissions = errors.New("insecure permissions")

// prepareDataDir creates dir (0700) if needed and refuses one that group or
// others can enter: it holds private keys.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := certs.CheckPrivate(dir); err != nil {
		return fmt.Errorf("%w: %w", ErrInsecurePermissions, err)
	}
	return nil
}

// lockDataDir takes the data dir's exclusive lock (datalock): one server per
// data dir, since each keeps a status cache only its own writes invalidate.
// A second one is refused with the holder's PID and the data dir.
func lockDataDir(dir string) (*datalock.Lock, error) {
	return datalock.Acquire(dir)
}

// privateFiles are the files of the data dir that hold private keys (the CA
// keys, the admin key) or the database (token-signing keys, secret hashes).
// Each must be 0600 if it exists; root.key may be gone (moved offline).
var privateFiles = []string{
	filepath.Join(CADir, ca.RootKeyFile), filepath.Join(CADir, ca.IntermediateKeyFile), AdminKeyFile,
	DatabaseFile, DatabaseFile + "-wal", DatabaseFile + "-shm",
}

// checkPrivateFiles refuses to start when any of privateFiles is accessible
// to group or others, even inside a private data dir: a later chmod of the
// dir, a backup or a copy must not expose them.
func checkPrivateFiles(dataDir string) error {
	for _, name := range privateFiles {
		err := certs.CheckPrivate(filepath.Join(dataDir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("%w: %w", ErrInsecurePermissions, err)
		}
	}
	return nil
}

// bootstrapCA creates the CA on first start. It reports whether it did.
func bootstrapCA(dir string, password []byte, now func() time.Time) (bool, error) {
	if ca.Exists(dir) {
		return false, nil
	}
	err := ca.Bootstrap(dir, ca.BootstrapOptions{Password: password, Now: now})
	if err != nil && !errors.Is(err, ca.ErrExists) {
		return false, fmt.Errorf("bootstrap CA: %w", err)
	}
	return true, nil
}

// ensureAdminKey makes sure there is a valid admin key. On first start it
// mints `bootstrap`, writes it to <data-dir>/admin.key (0600) and stores its
// hash. A start that finds keys but none valid (all expired: the last valid
// one cannot be revoked) mints a new one the same way, so that whoever runs
// the server is never locked out of its admin API.
//
// On a database replicas share (shared), the key is one for the whole
// database, even when several replicas start at once: they all try to
// insert the same name, the database keeps one (the others get
// ErrAdminKeyExists), and a replica whose insert lost removes the key file
// it wrote and says where the key is instead. A replica that finds a valid
// key and has no key file of its own says so too.
func ensureAdminKey(ctx context.Context, db storage.Store, dataDir string, now time.Time, log *slog.Logger, shared bool) error {
	keys, err := db.AdminKeys(ctx)
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, AdminKeyFile)
	if slices.ContainsFunc(keys, func(k storage.AdminKey) bool { return k.Valid(now) }) {
		_, err := os.Stat(path)
		if err == nil {
			return certs.CheckPrivate(path)
		}
		if shared && errors.Is(err, os.ErrNotExist) {
			log.Info("this replica did not create the bootstrap admin key: another replica on the database did, into its own data dir; "+
				"make a key for this one with `certbound admin-key create <name>`", slog.String("data_dir", dataDir))
		}
		return nil
	}
	name := "bootstrap"
	if len(keys) > 0 {
		name = "bootstrap-" + now.UTC().Format("20060102-150405")
		log.Warn("no valid admin key: every one has expired or was revoked; creating a new one", slog.String("name", name))
	}
	key := secret.New(adminKeyPrefix)
	// File first: a crash after it and before the insert leaves a key file
	// that does not work, which the next start replaces, rather than a stored
	// hash whose key nobody has.
	if err := certs.WriteFileAtomic(path, []byte(key.Reveal()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin key: %w", err)
	}
	err = db.InsertAdminKey(ctx, storage.AdminKey{Name: name, Hash: key.Hash(), CreatedAt: now})
	if shared && errors.Is(err, storage.ErrAdminKeyExists) {
		// Another replica starting at the same moment stored its key first.
		if err := removeIfExists(path); err != nil {
			return fmt.Errorf("remove the admin key file that did not become the key: %w", err)
		}
		log.Info("this replica did not create the bootstrap admin key: another replica starting at the same time did, into its own data dir; "+
			"make a key for this one with `certbound admin-key create <name>`", slog.String("name", name))
		return nil
	}
	if err != nil {
		return err
	}
	log.Info("created the bootstrap admin key", slog.String("name", name), slog.String("path", path))
	return nil
}

// ReadAdminKey reads an admin key file, refusing one others can read.
func ReadAdminKey(path string) (secret.Secret, error) {
	if err := certs.CheckPrivate(path); err != nil {
		return secret.Secret{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return secret.Secret{}, err
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return secret.Secret{}, fmt.Errorf("%s is empty", path)
	}
	return secret.FromString(k), nil
}
