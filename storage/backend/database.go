package backend

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind is the backend a database string names.
type Kind int

const (
	// SQLite: the empty string; the file is <data-dir>/certbound.db.
	SQLite Kind = iota
	// PostgreSQL: a postgres:// or postgresql:// URL, or libpq key=value.
	PostgreSQL
)

func (k Kind) String() string {
	if k == PostgreSQL {
		return "postgresql"
	}
	return "sqlite"
}

// ErrUnrecognised: the database string is none of the accepted forms.
var ErrUnrecognised = errors.New(`not a database this certbound knows: give none (SQLite in --data-dir), ` +
	`a postgres:// or postgresql:// URL, or libpq key=value settings such as "host=db dbname=certbound user=certbound"`)

// libpqKeywords are the connection keywords of libpq (PostgreSQL 15 docs,
// §34.1.2) that pgx understands or passes on; a key=value string must start
// with one of them.
var libpqKeywords = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "sslmode": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslrootcert": true, "sslcrl": true, "sslsni": true, "sslnegotiation": true, "requirepeer": true,
	"krbsrvname": true, "gssencmode": true, "service": true, "servicefile": true,
	"target_session_attrs": true, "channel_binding": true, "min_read_buffer_size": true,
	"statement_cache_capacity": true, "description_cache_capacity": true,
}

// keyValueStart matches the first setting of a libpq key=value string.
var keyValueStart = regexp.MustCompile(`^\s*([a-z_]+)\s*=`)

// Parse tells which backend database names. It checks the form only;
// connecting finds out the rest.
func Parse(database string) (Kind, error) {
	if database == "" {
		return SQLite, nil
	}
	lower := strings.ToLower(database)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return PostgreSQL, nil
	}
	if m := keyValueStart.FindStringSubmatch(database); m != nil {
		if libpqKeywords[m[1]] {
			return PostgreSQL, nil
		}
		return 0, fmt.Errorf("--database %s: %q is not a libpq keyword: %w", Redacted(database), m[1], ErrUnrecognised)
	}
	if strings.HasPrefix(lower, "sqlite:") || strings.HasPrefix(lower, "file:") || strings.HasSuffix(lower, ".db") {
		return 0, fmt.Errorf("--database %s: SQLite needs no --database: leave it empty and the database is <data-dir>/certbound.db: %w",
			Redacted(database), ErrUnrecognised)
	}
	return 0, fmt.Errorf("--database %s: %w", Redacted(database), ErrUnrecognised)
}

// keyValuePassword matches a password setting of a libpq key=value string,
// quoted (with \' and \\ escapes) or not.
var keyValuePassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// Redacted returns database as it may be logged or shown in an error: the
// password of a URL (user info or a password= query parameter) or of a
// key=value string replaced by "xxxxx". A URL that does not parse is not
// shown at all, since where its password is cannot be told.
func Redacted(database string) string {
	lower := strings.ToLower(database)
	if !strings.HasPrefix(lower, "postgres://") && !strings.HasPrefix(lower, "postgresql://") {
		if !strings.Contains(database, "=") {
			// No key=value setting: no password to hide (a path, a typo).
			if i := strings.Index(database, "://"); i >= 0 && strings.Contains(database[i+3:], "@") {
				return database[:i+3] + "[redacted]"
			}
			return database
		}
		return keyValuePassword.ReplaceAllString(database, "${1}xxxxx")
	}
	u, err := url.Parse(database)
	if err != nil {
		return database[:strings.Index(database, "://")+3] + "[unparsable URL, not shown]"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
