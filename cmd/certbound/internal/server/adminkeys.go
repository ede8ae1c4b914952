package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/storage"
)

// adminKeyStore is what the admin keys need from the database. storage.Store
// implements it.
type adminKeyStore interface {
	AdminKeys(ctx context.Context) ([]storage.AdminKey, error)
	InsertAdminKey(ctx context.Context, k storage.AdminKey) error
	RevokeAdminKey(ctx context.Context, name string, now time.Time) error
	RecordAdminKeyUse(ctx context.Context, used map[string]time.Time) error
}

// adminKeyUseInterval is how often the last uses of admin keys are written
// to the database and the key set is re-read from it.
const adminKeyUseInterval = time.Minute

// adminKeys authenticates admin API keys (SPEC §14) and manages them.
//
// The key set is cached in memory. Staleness bound: none for changes made
// through this process — creating or revoking a key replaces the set before
// the call returns, so a revoked key is refused on the very next request.
// For a change made by another replica on a shared database (PostgreSQL),
// the server re-reads the set on the store's change feed (follow, on
// ChangeAdminKeys and ChangeAll): storage.NotifiedStaleness (1 s) plus one
// read while the database is reachable, storage.MaxStaleness (30 s) in every
// case. On SQLite nothing else writes admin_keys while this process owns the
// data dir; the set is re-read every adminKeyUseInterval (1 min) anyway.
// Expiry is never cached: every check compares against Now.
//
// Last uses are kept in memory and written at most once per
// adminKeyUseInterval per key, by the loop, never on the request path; list
// answers merge the newer in-memory time, and Close writes what is pending.
type adminKeys struct {
	db  adminKeyStore
	now func() time.Time
	log *slog.Logger

	mu  sync.Mutex                      // serialises writes and re-reads, so an older read never replaces a newer set
	set atomic.Pointer[[]adminKeyEntry] // the unrevoked keys; swapped whole, never changed in place

	usedMu  sync.Mutex
	used    map[string]time.Time // guarded by usedMu: last accepted use per key name
	written map[string]time.Time // guarded by usedMu: the last use written to the database

	stop     chan struct{}
	stopOnce sync.Once
	loopDone chan struct{} // closed when the loop returns; nil until start
}

type adminKeyEntry struct {
	name    string
	hash    []byte
	expires time.Time // zero: never
}

func newAdminKeys(ctx context.Context, db adminKeyStore, now func() time.Time, log *slog.Logger) (*adminKeys, error) {
	k := &adminKeys{db: db, now: now, log: log, used: map[string]time.Time{}, written: map[string]time.Time{},
		stop: make(chan struct{})}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// reload replaces the in-memory set with the database's unrevoked keys.
func (k *adminKeys) reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *adminKeys) reloadLocked(ctx context.Context) error {
	all, err := k.db.AdminKeys(ctx)
	if err != nil {
		return fmt.Errorf("admin keys: %w", err)
	}
	set := make([]adminKeyEntry, 0, len(all))
	for _, r := range all {
		if r.RevokedAt.IsZero() {
			set = append(set, adminKeyEntry{name: r.Name, hash: r.Hash, expires: r.ExpiresAt})
		}
	}
	k.set.Store(&set)
	return nil
}

// AdminKey implements httpapi.AdminAuthenticator. The presented key's hash
// is compared with every unrevoked key's, in constant time, and the match
// chosen without a branch, so the time taken says nothing about which key
// (if any) was close. An expired key never matches.
func (k *adminKeys) AdminKey(key secret.Secret) (string, bool) {
	if key.IsZero() {
		return "", false
	}
	got := key.Hash()
	now := k.now()
	set := *k.set.Load()
	match := -1
	for i, e := range set {
		live := 0
		if e.expires.IsZero() || now.Before(e.expires) {
			live = 1
		}
		match = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(got, e.hash)&live, i, match)
	}
	if match < 0 {
		return "", false
	}
	name := set[match].name
	k.usedMu.Lock()
	if now.After(k.used[name]) {
		k.used[name] = now
	}
	k.usedMu.Unlock()
	return name, true
}

// CreateAdminKey implements httpapi.AdminKeyManager: a new key named name,
// valid for ttl (zero: until revoked). It works from the next request on.
func (k *adminKeys) CreateAdminKey(ctx context.Context, name string, ttl time.Duration) (storage.AdminKey, secret.Secret, error) {
	if !certs.ValidClientID(name) {
		return storage.AdminKey{}, secret.Secret{}, fmt.Errorf("%w: admin key name", certs.ErrInvalidID)
	}
	key := secret.New(adminKeyPrefix)
	now := k.now()
	rec := storage.AdminKey{Name: name, Hash: key.Hash(), CreatedAt: now.Truncate(time.Second)}
	if ttl > 0 {
		rec.ExpiresAt = now.Add(ttl).Truncate(time.Second)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.db.InsertAdminKey(ctx, rec); err != nil {
		return storage.AdminKey{}, secret.Secret{}, err
	}
	if err := k.reloadLocked(ctx); err != nil {
		return storage.AdminKey{}, secret.Secret{}, err
	}
	return rec, key, nil
}

// RevokeAdminKey implements httpapi.AdminKeyManager. The key is refused
// from the next request on; the last valid key cannot be revoked.
func (k *adminKeys) RevokeAdminKey(ctx context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.db.RevokeAdminKey(ctx, name, k.now()); err != nil {
		return err
	}
	return k.reloadLocked(ctx)
}

// AdminKeys implements httpapi.AdminKeyManager: every key, revoked and
// expired ones included, with last uses not yet written merged in.
func (k *adminKeys) AdminKeys(ctx context.Context) ([]storage.AdminKey, error) {
	all, err := k.db.AdminKeys(ctx)
	if err != nil {
		return nil, err
	}
	k.usedMu.Lock()
	defer k.usedMu.Unlock()
	for i := range all {
		if t := k.used[all[i].Name]; t.After(all[i].LastUsedAt) {
			all[i].LastUsedAt = t.Truncate(time.Second)
		}
	}
	return all, nil
}

// writeUses writes the uses not yet written, one transaction for all keys.
func (k *adminKeys) writeUses(ctx context.Context) {
	k.usedMu.Lock()
	pending := map[string]time.Time{}
	for name, t := range k.used {
		if t.After(k.written[name]) {
			pending[name] = t
		}
	}
	k.usedMu.Unlock()
	if len(pending) == 0 {
		return
	}
	if err := k.db.RecordAdminKeyUse(ctx, pending); err != nil {
		k.log.Warn("recording admin key uses failed", slog.Any("err", err))
		return
	}
	k.usedMu.Lock()
	for name, t := range pending {
		if t.After(k.written[name]) {
			k.written[name] = t
		}
	}
	k.usedMu.Unlock()
}

// start runs the loop that writes last uses and re-reads the key set every
// adminKeyUseInterval, until ctx ends or close is called.
func (k *adminKeys) start(ctx context.Context) {
	k.loopDone = make(chan struct{})
	go func() {
		defer close(k.loopDone)
		tick := time.NewTicker(adminKeyUseInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-k.stop:
				return
			case <-tick.C:
			}
			k.writeUses(ctx)
			if err := k.reload(ctx); err != nil {
				k.log.Warn("re-reading admin keys failed", slog.Any("err", err))
			}
		}
	}()
}

// close stops the loop and writes the pending last uses. Call it before the
// database closes.
func (k *adminKeys) close() {
	k.stopOnce.Do(func() { close(k.stop) })
	if k.loopDone != nil {
		<-k.loopDone
	}
	k.writeUses(context.Background())
}
