package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/certbound/certbound/storage/backend"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		database string
		want     backend.Kind
		wantErr  error
	}{
		{"accept/empty-is-sqlite", "", backend.SQLite, nil},
		{"accept/postgres-url", "postgres://certbound@db:5432/certbound?sslmode=verify-full", backend.PostgreSQL, nil},
		{"accept/postgresql-url", "postgresql://db/certbound", backend.PostgreSQL, nil},
		{"accept/scheme-in-capitals", "PostgreSQL://db/certbound", backend.PostgreSQL, nil},
		{"accept/key-value", "host=db dbname=certbound user=certbound", backend.PostgreSQL, nil},
		{"accept/key-value-dbname-first", "dbname=certbound", backend.PostgreSQL, nil},
		{"accept/key-value-spaces", "  host = db port=5433", backend.PostgreSQL, nil},
		{"reject/sqlite-url", "sqlite:///var/lib/certbound/certbound.db", 0, backend.ErrUnrecognised},
		{"reject/file-path", "/var/lib/certbound/certbound.db", 0, backend.ErrUnrecognised},
		{"reject/mysql-url", "mysql://root@db/certbound", 0, backend.ErrUnrecognised},
		{"reject/unknown-keyword", "hots=db dbname=certbound", 0, backend.ErrUnrecognised},
		{"reject/typo-scheme", "postgre://db/certbound", 0, backend.ErrUnrecognised},
		{"reject/bare-word", "postgres", 0, backend.ErrUnrecognised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := backend.Parse(tt.database)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) error %v, want %v", tt.database, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("Parse(%q) = %v, want %v", tt.database, got, tt.want)
			}
		})
	}
}

// TestRedactedHidesPasswords: no form of a password survives Redacted, and
// Parse's errors do not quote one either.
func TestRedactedHidesPasswords(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	tests := []struct {
		name, database, want string
	}{
		{"url-userinfo", "postgres://certbound:" + pw + "@db:5432/certbound?sslmode=disable", "postgres://certbound:xxxxx@db:5432/certbound?sslmode=disable"},
		{"url-query", "postgresql://db/certbound?user=certbound&password=" + pw, "postgresql://db/certbound?password=xxxxx&user=certbound"},
		{"url-no-password", "postgres://certbound@db/certbound", "postgres://certbound@db/certbound"},
		{"key-value", "host=db password=" + pw + " dbname=certbound", "host=db password=xxxxx dbname=certbound"},
		{"key-value-quoted", `host=db password='` + pw + ` with \' quote' dbname=certbound`, "host=db password=xxxxx dbname=certbound"},
		{"key-value-spaced", "host=db password = " + pw, "host=db password = xxxxx"},
		{"unparsable-url", "postgres://certbound:" + pw + "@db:port/x%zz", "postgres://[unparsable URL, not shown]"},
		{"other-scheme-with-userinfo", "mysql://root:" + pw + "@db/certbound", "mysql://[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backend.Redacted(tt.database)
			if got != tt.want {
				t.Errorf("Redacted = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, pw) {
				t.Fatalf("Redacted kept the password: %q", got)
			}
			if _, err := backend.Parse(tt.database); err != nil && strings.Contains(err.Error(), pw) {
				t.Fatalf("Parse's error quotes the password: %v", err)
			}
		})
	}
}
