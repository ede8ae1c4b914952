// Package backup writes and restores certbound backups: one tar.gz holding a
// consistent snapshot of the database (SQLite VACUUM INTO, taken while the
// server runs), the CA material and the bootstrap admin key, with a manifest
// of SHA-256 sums. Restore checks everything — sums, PRAGMA integrity_check,
// that the CA loads and its intermediate chains to its root — before it puts
// anything in place, and never overwrites a data dir that holds a CA.
//
// A backup holds private keys and is written 0600. Keep it like the data dir.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/storage/sqlite"
)

// Names inside the data dir (and the archive).
const (
	dbFile       = "certbound.db"
	adminKeyFile = "admin.key"
	caDir        = "ca"
	manifestFile = "MANIFEST.json"
)

// caFiles are copied when present; root.key may be offline.
var caFiles = []string{ca.RootCertFile, ca.RootKeyFile, ca.IntermediateCertFile, ca.IntermediateKeyFile}

// maxFileBytes bounds every member read back from an archive.
const maxFileBytes = 1 << 30

// Manifest describes a backup.
type Manifest struct {
	Format          int               `json:"format"` // 1
	CreatedAt       time.Time         `json:"created_at"`
	RootFingerprint string            `json:"root_fingerprint_sha256"`
	Files           map[string]string `json:"files"` // archive path → hex SHA-256
}

// Create writes a backup of dataDir to out (which must not exist; mode 0600).
func Create(ctx context.Context, dataDir, out string, now time.Time) (*Manifest, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".certbound-backup-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, dbFile)
	if err := sqlite.BackupTo(ctx, filepath.Join(dataDir, dbFile), snapshot); err != nil {
		return nil, err
	}
	members := map[string]string{dbFile: snapshot}
	for _, name := range caFiles {
		p := filepath.Join(dataDir, caDir, name)
		if _, err := os.Stat(p); err == nil {
			members[path.Join(caDir, name)] = p
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, adminKeyFile)); err == nil {
		members[adminKeyFile] = filepath.Join(dataDir, adminKeyFile)
	}
	root, err := os.ReadFile(filepath.Join(dataDir, caDir, ca.RootCertFile))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	rootCert, err := certs.ParseCertificate(root)
	if err != nil {
		return nil, fmt.Errorf("backup: root certificate: %w", err)
	}
	m := &Manifest{Format: 1, CreatedAt: now.UTC(), RootFingerprint: certs.Fingerprint(rootCert.Raw), Files: map[string]string{}}

	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(out)
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range sortedKeys(members) {
		data, err := os.ReadFile(members[name])
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		m.Files[name] = hex.EncodeToString(sum[:])
		if err := writeMember(tw, name, data, now); err != nil {
			return nil, err
		}
	}
	mj, _ := json.MarshalIndent(m, "", "  ")
	if err := writeMember(tw, manifestFile, mj, now); err != nil {
		return nil, err
	}
	if err := errors.Join(tw.Close(), gz.Close(), f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	ok = true
	return m, nil
}

func writeMember(tw *tar.Writer, name string, data []byte, now time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// Restore checks the backup in archive and installs it as dataDir. dataDir
// must not exist or be empty: restoring over a live CA is refused.
//
// A lock file alone (datalock: left by a server that stopped, or that failed
// before it created anything) does not make the dir non-empty; a lock that a
// running process holds refuses the restore, naming its PID.
func Restore(ctx context.Context, archive, dataDir string) (*Manifest, error) {
	if held, err := datalock.Held(dataDir); held {
		return nil, fmt.Errorf("restore: %w", err)
	} else if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() != datalock.FileName }) {
		return nil, fmt.Errorf("restore: %s is not empty; restore into a new directory and point --data-dir at it", dataDir)
	}
	files, m, err := read(archive)
	if err != nil {
		return nil, err // "restore: …" already
	}
	parent := filepath.Dir(filepath.Clean(dataDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	stage, err := os.MkdirTemp(parent, ".certbound-restore-*")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := os.Chmod(stage, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.Mkdir(filepath.Join(stage, caDir), 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for name, data := range files {
		mode := os.FileMode(0o600)
		if name == path.Join(caDir, ca.RootCertFile) || name == path.Join(caDir, ca.IntermediateCertFile) {
			mode = 0o644
		}
		if err := certs.WriteFileAtomic(filepath.Join(stage, filepath.FromSlash(name)), data, mode); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if err := check(ctx, stage, m); err != nil {
		return nil, err // "restore: …" already
	}
	_ = os.Remove(filepath.Join(dataDir, datalock.FileName)) // not held: checked above
	_ = os.Remove(dataDir)                                   // an empty directory may stand in the way
	if err := os.Rename(stage, dataDir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return m, nil
}

// read loads and verifies the archive's members against its manifest.
func read(archive string) (map[string][]byte, *Manifest, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, nil, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("restore: not a certbound backup: %w", err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	var manifest []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("restore: corrupt archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !allowed(h.Name) {
			return nil, nil, fmt.Errorf("restore: unexpected member %q", h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxFileBytes+1))
		if err != nil || len(data) > maxFileBytes {
			return nil, nil, fmt.Errorf("restore: member %s unreadable or too large", h.Name)
		}
		if h.Name == manifestFile {
			manifest = data
		} else {
			files[h.Name] = data
		}
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil || m.Format != 1 {
		return nil, nil, errors.New("restore: missing or unknown manifest")
	}
	if len(m.Files) != len(files) {
		return nil, nil, errors.New("restore: the archive does not match its manifest")
	}
	for name, data := range files {
		sum := sha256.Sum256(data)
		if want, ok := m.Files[name]; !ok || want != hex.EncodeToString(sum[:]) {
			return nil, nil, fmt.Errorf("restore: %s does not match its checksum", name)
		}
	}
	for _, required := range []string{dbFile, path.Join(caDir, ca.RootCertFile), path.Join(caDir, ca.IntermediateCertFile), path.Join(caDir, ca.IntermediateKeyFile)} {
		if _, ok := files[required]; !ok {
			return nil, nil, fmt.Errorf("restore: %s is missing", required)
		}
	}
	return files, &m, nil
}

func allowed(name string) bool {
	if name == manifestFile || name == dbFile || name == adminKeyFile {
		return true
	}
	for _, f := range caFiles {
		if name == path.Join(caDir, f) {
			return true
		}
	}
	return false
}

// check opens the staged data dir: the database passes integrity_check and
// the CA loads (intermediate signed by the root, key matching) with the
// fingerprint the manifest names. Encrypted CA keys are checked for shape
// only: the passphrase is not needed to restore.
func check(ctx context.Context, dir string, m *Manifest) error {
	db, err := sqlite.Open(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.IntegrityCheck(ctx)
	if err != nil || res != "ok" {
		return fmt.Errorf("restore: database integrity check: %q %v", res, err)
	}
	root, err := os.ReadFile(filepath.Join(dir, caDir, ca.RootCertFile))
	if err != nil {
		return err
	}
	rc, err := certs.ParseCertificate(root)
	if err != nil || certs.Fingerprint(rc.Raw) != m.RootFingerprint {
		return errors.New("restore: the root certificate does not match the manifest")
	}
	_, err = ca.New(ca.Config{Dir: filepath.Join(dir, caDir), Status: db})
	if err != nil && !errors.Is(err, ca.ErrPassword) {
		return fmt.Errorf("restore: the CA does not load: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
