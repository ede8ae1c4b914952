//go:build unix

package datalock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FileName is the lock file inside the data dir.
const FileName = "certbound.lock"

// ErrLocked: another process holds the data dir. The error that wraps it
// names the data dir and, when the holder wrote it, its PID.
var ErrLocked = errors.New("data dir in use")

// Lock is a held lock on a data dir.
type Lock struct {
	f *os.File
}

// Acquire takes the data dir's lock without waiting, and writes this
// process's PID into the lock file (0600). If another process holds it, it
// fails with an error wrapping ErrLocked.
func Acquire(dataDir string) (*Lock, error) {
	path := filepath.Join(dataDir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data dir: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := errors.Join(f.Truncate(0), writePID(f)); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the data dir: %w", err)
	}
	return &Lock{f: f}, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return lockedError(filepath.Dir(f.Name()), f)
		}
		return fmt.Errorf("lock the data dir: %w", err)
	}
}

func writePID(f *os.File) error {
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockedError reads the holder's PID from f, if it is there yet.
func lockedError(dataDir string, f *os.File) error {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	holder := "another certbound process"
	if pid := strings.TrimSpace(string(buf[:n])); pid != "" {
		if _, err := strconv.Atoi(pid); err == nil {
			holder += " (pid " + pid + ")"
		}
	}
	return fmt.Errorf("%w: %s holds the data dir %s; stop it first, or give this one another --data-dir", ErrLocked, holder, dataDir)
}

// Held reports, without taking it for longer than the check, whether another
// process holds dataDir's lock; a missing lock file is not held. On true the
// error wraps ErrLocked and names the holder.
func Held(dataDir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dataDir, FileName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close() // drops the lock if we took it
	if err := flock(f); err != nil {
		return errors.Is(err, ErrLocked), err
	}
	return false, nil
}

// Release drops the lock (the file stays: removing it could let two
// processes lock two different files). Release of nil does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
