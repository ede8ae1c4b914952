package storage

import (
	"context"
	"time"
)

// Store is everything the server asks of a database: the union of the
// interfaces its consumers define for themselves (enroll.Store,
// tokenex.Store, ca.StatusSource, the audit writer, the admin keys, the
// metrics). Both backends implement it — storage/sqlite (the embedded
// default) and storage/postgres (several replicas on one database) — and
// storagetest.Run holds each of them to the same promises.
//
// Times passed in (now) are the caller's clock; a backend that serves
// several replicas decides single use and expiry against the clock the
// caller passes, so the server gives every replica the same clock (see
// the postgres package's Clock).
type Store interface {
	// Clients.
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context, after string, limit int) ([]Client, error)
	ModifyClient(ctx context.Context, id string, change func(*Client) error) (Client, error)
	DeleteClient(ctx context.Context, id string, now time.Time) error
	DisableClient(ctx context.Context, id string, now time.Time) error
	DisableClientAudited(ctx context.Context, id, serial, reason string, now time.Time) error
	ClientDisabled(ctx context.Context, id string) (bool, error)
	CountClients(ctx context.Context) (int, error)

	// Enrollment tokens: single use across every process on the database.
	InsertEnrollToken(ctx context.Context, t EnrollToken) error
	RedeemEnrollToken(ctx context.Context, hash []byte, now time.Time, issue IssueFunc) (Certificate, error)
	EnrollTokenState(ctx context.Context, hash []byte, now time.Time) (string, error)
	DeleteExpiredEnrollTokens(ctx context.Context, cutoff time.Time) (int64, error)

	// Certificates: single renewal across every process on the database.
	RenewCertificate(ctx context.Context, oldSerial string, now time.Time, issue RenewFunc) (Certificate, error)
	GetCertificate(ctx context.Context, serial string) (Certificate, error)
	ListCertificates(ctx context.Context, f CertificateFilter) ([]Certificate, error)
	CertificateRevoked(ctx context.Context, serial string) (bool, error)
	FingerprintRevoked(ctx context.Context, fingerprint string) (bool, error)
	RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) (Certificate, error)
	RevokeCertificateOnce(ctx context.Context, serial, reason string, now time.Time) (Certificate, bool, error)
	CountCertificates(ctx context.Context, now time.Time, window time.Duration) (CertificateCounts, error)
	PruneExpiredCertificates(ctx context.Context, cutoff time.Time) (int64, error)
	MarkCertificateUsed(ctx context.Context, serial string, now time.Time) error
	CertificateFirstUsed(ctx context.Context, serial string) (time.Time, error)
	MarkLineageSuspect(ctx context.Context, successor, refused string) (int64, error)
	CertificateSuspect(ctx context.Context, serial string) (bool, error)
	SuspectByFingerprint(ctx context.Context, fingerprint string) (SuspectCertificate, bool, error)

	// Token-signing keys.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	RotateSigningKey(ctx context.Context, next SigningKey, publishUntil time.Time) error

	// Admin keys.
	InsertAdminKey(ctx context.Context, k AdminKey) error
	AdminKeys(ctx context.Context) ([]AdminKey, error)
	RevokeAdminKey(ctx context.Context, name string, now time.Time) error
	RecordAdminKeyUse(ctx context.Context, used map[string]time.Time) error

	// Audit trail.
	AppendAuditEvents(ctx context.Context, events []AuditEvent) error
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	PruneAuditEvents(ctx context.Context, before time.Time) (int64, error)

	// Ping reports whether the database answers now (GET /v1/ready).
	Ping(ctx context.Context) error
	// Close releases the store; nothing may be called afterwards.
	Close() error
}
