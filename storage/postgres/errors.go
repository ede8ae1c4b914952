package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/certbound/certbound/storage"
)

// SQLSTATEs this package branches on (PostgreSQL, Appendix A).
const (
	sqlstateUniqueViolation      = "23505"
	sqlstateSerializationFailure = "40001"
	sqlstateDeadlockDetected     = "40P01"
	sqlstateAdminShutdown        = "57P01"
	sqlstateCrashShutdown        = "57P02"
	sqlstateCannotConnectNow     = "57P03"
)

// translate maps a pgx error onto the storage sentinels: a unique violation
// → storage.ErrConflict; anything that says the database cannot serve now
// (see unavailable) → storage.ErrUnavailable; no row → storage.ErrNotFound.
// The original error stays wrapped for the log; it never holds a value of a
// row (PostgreSQL's DETAIL of a unique violation, which can, is not in
// PgError.Error()).
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == sqlstateUniqueViolation {
		return fmt.Errorf("%w: %s", storage.ErrConflict, pe.ConstraintName)
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	// Anything else — another SQLSTATE, or an error of the caller's issue
	// function — goes back as it is.
	return err
}

// unavailable reports whether err says that the database cannot serve now,
// as opposed to refusing this statement: the connection could not be made
// or was lost (pgconn.ConnectError, a network error, EOF mid-message), the
// server is shutting down or starting up (57P01/02/03), a connection
// exception (class 08), too many connections (class 53), or the pool is
// closed, or it did not answer before the deadline. Retrying later may
// succeed; the HTTP edge answers 503.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the database may be fine.
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == sqlstateAdminShutdown, pe.Code == sqlstateCrashShutdown, pe.Code == sqlstateCannotConnectNow:
			return true
		case len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:2] == "53"):
			return true
		}
		return false
	}
	if errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// A statement on a connection that pgconn already closed after an
	// earlier failure.
	var conn interface{ SafeToRetry() bool }
	return errors.As(err, &conn) && conn.SafeToRetry()
}

// retryable reports whether a transaction failed only because of another
// one running at the same time — a serialization failure (40001) or a
// deadlock (40P01) — so that running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == sqlstateSerializationFailure || pe.Code == sqlstateDeadlockDetected)
}
