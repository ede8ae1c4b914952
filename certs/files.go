package certs

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that a reader sees either the old
// file or the whole new one, never a torn write: it writes a temporary file in
// the same directory with perm from its first byte, fsyncs it, renames it over
// path and fsyncs the directory. Use perm 0600 for private keys.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp opens with 0600; Chmod also sets wider modes the umask would cut.
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CheckPrivate returns an error when path is readable or writable by group or
// others. certbound refuses to use key material that other users can read.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o; it must not be accessible to group or others (chmod %s %s)",
			path, fi.Mode().Perm(), privateModeFor(fi), path)
	}
	return nil
}

func privateModeFor(fi os.FileInfo) string {
	if fi.IsDir() {
		return "0700"
	}
	return "0600"
}
