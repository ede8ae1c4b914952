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

// Staleness bounds of everything a replica caches from a database that other
// processes also write (SPEC §13). NotifiedStaleness holds while the
// replica's notification connection is up; MaxStaleness holds in every case
// (a full reload on reconnect and on a timer).
const (
	NotifiedStaleness = time.Second
	MaxStaleness      = 30 * time.Second
)

// ChangeKind names what another process changed.
type ChangeKind string

const (
	ChangeClients      ChangeKind = "clients"      // a client created, changed, disabled or deleted
	ChangeCertificates ChangeKind = "certificates" // a certificate revoked, its lineage marked, or records pruned
	ChangeSigningKeys  ChangeKind = "signing_keys" // a signing key rotated
	ChangeAdminKeys    ChangeKind = "admin_keys"   // an admin key created or revoked
	// ChangeAll: notifications may have been missed (the notification
	// connection was lost and is back, or the periodic reload is due):
	// reload everything.
	ChangeAll ChangeKind = "all"
)

// ChangeFeed is implemented by a backend whose database other processes
// write too (PostgreSQL). The server's own caches above storage (admin
// keys, signing keys) subscribe to it; the backend's own status cache
// follows the same feed.
type ChangeFeed interface {
	// Subscribe calls fn, from one goroutine at a time, after any process
	// committed a change of that kind — within NotifiedStaleness while the
	// database is reachable — and with ChangeAll at least every
	// MaxStaleness/2 and after every reconnect. cancel stops the calls.
	Subscribe(fn func(ChangeKind)) (cancel func())
}

// CAMaterial is the CA as PEM: both certificates and both private keys, the
// keys PKCS #8 encrypted with the CA password (a backend never sees them in
// the clear).
type CAMaterial struct {
	RootCertPEM, RootKeyPEM                 []byte
	IntermediateCertPEM, IntermediateKeyPEM []byte
	CreatedAt                               time.Time
}

// SharedCA is implemented by a backend that keeps the CA in the database, so
// that a new replica needs only the database URL and the CA password
// (PostgreSQL). The SQLite default keeps the CA in <data-dir>/ca instead.
type SharedCA interface {
	// InitCA returns the stored CA, first calling create and storing its
	// result when none is stored yet — once, however many processes call it
	// at the same moment (the others wait and get the stored one). created
	// reports whether this call's create was stored.
	InitCA(ctx context.Context, create func() (CAMaterial, error)) (m CAMaterial, created bool, err error)
	// LoadCA returns the stored CA, or ErrNotFound.
	LoadCA(ctx context.Context) (CAMaterial, error)
}

// Clock is implemented by a backend whose replicas must agree on "now": its
// Now is the local clock corrected by the offset to the database server's,
// so that single use and expiry are decided the same way on every replica.
type Clock interface {
	Now() time.Time
}
