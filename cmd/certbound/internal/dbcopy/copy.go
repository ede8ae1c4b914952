package dbcopy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
)

// File names inside a SQLite data dir (as the server lays it out).
const (
	databaseFile = backend.SQLiteFile
	caDir        = "ca"
)

// Options say what to copy where. Exactly one of From and To is a
// PostgreSQL database (a URL or key=value settings); the other is empty:
// the SQLite install in DataDir.
type Options struct {
	From, To string
	DataDir  string
	Password []byte // the CA password
}

// TableSummary is one table after the copy: rows on each side and the
// digest of every row, in order.
type TableSummary struct {
	Table        string `json:"table"`
	Rows         int    `json:"rows"`
	SourceDigest string `json:"source_digest_sha256"`
	TargetDigest string `json:"target_digest_sha256"`
}

// Summary is what a copy did; it is returned only when everything matched.
type Summary struct {
	Tables          []TableSummary `json:"tables"`
	RootFingerprint string         `json:"root_fingerprint_sha256"`
}

// ErrMismatch: the target does not hold what the source does after the
// copy (a row count, a row digest or the CA differs).
var ErrMismatch = errors.New("the copy does not match its source")

// Copy copies the install. SQLite → PostgreSQL: the data dir must not be in
// use (its lock), the database must be empty; the CA files are stored in the
// database with their keys encrypted with Password. PostgreSQL → SQLite: the
// data dir must be empty or absent; the CA is written into DataDir/ca.
func Copy(ctx context.Context, opts Options) (Summary, error) {
	fromKind, err := backend.Parse(opts.From)
	if err != nil {
		return Summary{}, fmt.Errorf("--from: %w", err)
	}
	toKind, err := backend.Parse(opts.To)
	if err != nil {
		return Summary{}, fmt.Errorf("--to: %w", err)
	}
	if fromKind == toKind {
		return Summary{}, fmt.Errorf("--from and --to are both %s: db copy moves an install between SQLite and PostgreSQL "+
			"(for a copy on one backend use backup/restore on SQLite, pg_dump/pg_restore on PostgreSQL)", fromKind)
	}
	if opts.DataDir == "" {
		return Summary{}, errors.New("--data-dir is required (the SQLite side of the copy)")
	}
	if len(opts.Password) == 0 {
		return Summary{}, errors.New("--password-file is required: the CA keys are stored encrypted with it in PostgreSQL")
	}
	if fromKind == backend.SQLite {
		return toPostgres(ctx, opts)
	}
	return toSQLite(ctx, opts)
}

func toPostgres(ctx context.Context, opts Options) (Summary, error) {
	lock, err := datalock.Acquire(opts.DataDir)
	if err != nil {
		return Summary{}, fmt.Errorf("the server must be stopped: %w", err)
	}
	defer lock.Release()
	dbPath := filepath.Join(opts.DataDir, databaseFile)
	if _, err := os.Stat(dbPath); err != nil {
		return Summary{}, fmt.Errorf("no SQLite install in %s: %w", opts.DataDir, err)
	}
	files, err := ca.ReadMaterial(filepath.Join(opts.DataDir, caDir))
	if err != nil {
		return Summary{}, err
	}
	sourceFP, err := files.Check(opts.Password)
	if err != nil {
		return Summary{}, fmt.Errorf("the CA in %s: %w", opts.DataDir, err)
	}
	material, err := files.Encrypted(opts.Password)
	if err != nil {
		return Summary{}, err
	}
	src, err := open(ctx, backend.Config{DataDir: opts.DataDir})
	if err != nil {
		return Summary{}, err
	}
	defer src.Close()
	dst, err := openShared(ctx, backend.Config{Database: opts.To, PoolSize: 2, Migrate: true})
	if err != nil {
		return Summary{}, err
	}
	defer dst.Close()
	if _, err := dst.LoadCA(ctx); !errors.Is(err, storage.ErrNotFound) {
		if err == nil {
			err = fmt.Errorf("%w: it holds a CA", storage.ErrNotEmpty)
		}
		return Summary{}, err
	}
	if err := dst.ImportRows(ctx, src.ExportRows); err != nil {
		return Summary{}, err
	}
	_, created, err := dst.InitCA(ctx, func() (storage.CAMaterial, error) {
		return storage.CAMaterial{RootCertPEM: material.RootCertPEM, RootKeyPEM: material.RootKeyPEM,
			IntermediateCertPEM: material.IntermediateCertPEM, IntermediateKeyPEM: material.IntermediateKeyPEM,
			CreatedAt: dst.Now()}, nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("store the CA: %w", err)
	}
	if !created {
		return Summary{}, fmt.Errorf("%w: another process stored a CA in the database during the copy", ErrMismatch)
	}
	stored, err := dst.LoadCA(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("load the copied CA: %w", err)
	}
	return verify(ctx, src, dst, sourceFP, fromStorage(stored), opts.Password)
}

func toSQLite(ctx context.Context, opts Options) (sum Summary, err error) {
	if err := emptyDir(opts.DataDir); err != nil {
		return Summary{}, err
	}
	// A failed copy leaves no half install behind: the data dir was empty.
	defer func() {
		if err != nil {
			os.RemoveAll(filepath.Join(opts.DataDir, caDir))
			for _, f := range []string{databaseFile, databaseFile + "-wal", databaseFile + "-shm"} {
				os.Remove(filepath.Join(opts.DataDir, f))
			}
		}
	}()
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return Summary{}, err
	}
	lock, err := datalock.Acquire(opts.DataDir)
	if err != nil {
		return Summary{}, err
	}
	defer lock.Release()
	src, err := openShared(ctx, backend.Config{Database: opts.From, PoolSize: 2})
	if err != nil {
		return Summary{}, err
	}
	defer src.Close()
	stored, err := src.LoadCA(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("load the CA from the database: %w", err)
	}
	material := fromStorage(stored)
	sourceFP, err := material.Check(opts.Password)
	if err != nil {
		return Summary{}, fmt.Errorf("the CA in the database: %w", err)
	}
	if err := ca.WriteMaterial(filepath.Join(opts.DataDir, caDir), material); err != nil {
		return Summary{}, err
	}
	dst, err := open(ctx, backend.Config{DataDir: opts.DataDir})
	if err != nil {
		return Summary{}, err
	}
	defer dst.Close()
	if err := dst.ImportRows(ctx, src.ExportRows); err != nil {
		return Summary{}, err
	}
	written, err := ca.ReadMaterial(filepath.Join(opts.DataDir, caDir))
	if err != nil {
		return Summary{}, err
	}
	return verify(ctx, src, dst, sourceFP, written, opts.Password)
}

// installation is an opened store with what a copy needs of it: the rows of
// either backend, and on PostgreSQL the CA in the database and its clock.
type installation interface {
	storage.Store
	storage.RowCopier
}

// sharedInstallation is a PostgreSQL installation.
type sharedInstallation interface {
	installation
	storage.SharedCA
	storage.Clock
}

// open opens the store cfg names through storage/backend, the one place that
// picks a backend.
func open(ctx context.Context, cfg backend.Config) (installation, error) {
	st, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	inst, ok := st.(installation)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("dbcopy: the %T backend cannot export or import rows", st)
	}
	return inst, nil
}

// openShared opens a database that keeps the CA (PostgreSQL).
func openShared(ctx context.Context, cfg backend.Config) (sharedInstallation, error) {
	inst, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	shared, ok := inst.(sharedInstallation)
	if !ok {
		inst.Close()
		return nil, fmt.Errorf("dbcopy: %s does not keep the CA in the database", backend.Redacted(cfg.Database))
	}
	return shared, nil
}

// emptyDir refuses a data dir that exists and holds anything.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: the data dir %s is not empty (a copy never merges into an install)", storage.ErrNotEmpty, dir)
	}
	return nil
}

func fromStorage(m storage.CAMaterial) ca.Material {
	return ca.Material{RootCertPEM: m.RootCertPEM, RootKeyPEM: m.RootKeyPEM,
		IntermediateCertPEM: m.IntermediateCertPEM, IntermediateKeyPEM: m.IntermediateKeyPEM}
}

// verify compares both sides table by table (row count and a digest of
// every row in order) and loads the target's CA with the password.
func verify(ctx context.Context, src, dst storage.RowCopier, sourceFP string, target ca.Material, password []byte) (Summary, error) {
	var sum Summary
	var mismatches []error
	for _, t := range storage.Tables {
		n, a, err := Digest(ctx, src, t)
		if err != nil {
			return Summary{}, err
		}
		m, b, err := Digest(ctx, dst, t)
		if err != nil {
			return Summary{}, err
		}
		if n != m || a != b {
			mismatches = append(mismatches, fmt.Errorf("%s: %d rows (digest %.16s) in the source, %d (digest %.16s) in the target", t.Name, n, a, m, b))
		}
		sum.Tables = append(sum.Tables, TableSummary{Table: t.Name, Rows: m, SourceDigest: a, TargetDigest: b})
	}
	fp, err := target.Check(password)
	if err != nil {
		mismatches = append(mismatches, fmt.Errorf("the CA does not load on the target: %w", err))
	} else if fp != sourceFP {
		mismatches = append(mismatches, fmt.Errorf("the target's root is %s, the source's %s", fp, sourceFP))
	}
	if len(mismatches) > 0 {
		return sum, fmt.Errorf("%w: %w", ErrMismatch, errors.Join(mismatches...))
	}
	sum.RootFingerprint = fp
	return sum, nil
}

// Digest counts t's rows in db and hashes them in order: each value as a
// type tag, a length and its bytes, so that no two different rows encode
// alike.
func Digest(ctx context.Context, db storage.RowCopier, t storage.Table) (int, string, error) {
	h := sha256.New()
	n := 0
	err := db.ExportRows(ctx, t, func(row []any) error {
		n++
		for _, v := range row {
			if err := writeValue(h, v); err != nil {
				return fmt.Errorf("%s: %w", t.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func writeValue(h hash.Hash, v any) error {
	var tag byte
	var data []byte
	switch v := v.(type) {
	case nil:
		tag = 'N'
	case int64:
		tag = 'I'
		data = binary.BigEndian.AppendUint64(nil, uint64(v))
	case string:
		tag, data = 'T', []byte(v)
	case []byte:
		tag, data = 'B', v
	default:
		return fmt.Errorf("a value of type %T", v)
	}
	h.Write([]byte{tag})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(data))))
	h.Write(data)
	return nil
}
