//go:build !unix

package datalock

import "errors"

// FileName is the lock file inside the data dir.
const FileName = "certbound.lock"

// ErrLocked: another process holds the data dir.
var ErrLocked = errors.New("data dir in use")

// Lock is a held lock on a data dir.
type Lock struct{}

// Acquire fails: certbound serve needs flock(2), which only unix systems have.
func Acquire(string) (*Lock, error) {
	return nil, errors.New("locking the data dir needs a unix system")
}

// Held reports that nothing is held: there is no lock to ask.
func Held(string) (bool, error) { return false, nil }

// Release does nothing.
func (l *Lock) Release() error { return nil }
