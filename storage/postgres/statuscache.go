package postgres

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/storage"
)

// Bounds of the status cache; past them a random entry goes.
const (
	maxCachedClients = 8192
	maxCachedSerials = 16384
)

// cacheMaxAge: an entry older than this is read again whatever the
// notifications said — the backstop against a notification that was lost
// without the listener noticing yet (a silent network partition is noticed
// by the listener's ping within listenerPing + its timeout).
const cacheMaxAge = 5 * time.Second

// statusCache holds the answers of the reads every authenticated request
// makes — the client record (GetClient, ClientDisabled) and whether a
// certificate is revoked or its lineage suspect (CertificateRevoked,
// CertificateSuspect) — the same reads storage/sqlite caches.
//
// Staleness bound (SPEC §13; storage.NotifiedStaleness, MaxStaleness):
//   - Every write of this process that can change an answer invalidates
//     after it returned, like SQLite's: the process sees its own writes at once.
//   - Every such write of any process notifies at its commit
//     (pg_notify, see notify), and this process's listener invalidates when
//     the notification arrives: another replica's write is seen within the
//     delivery time of a notification, well under NotifiedStaleness.
//   - While the listener is down (lost, reconnecting) the cache is off and
//     every read goes to the database: staleness 0. It comes back on only
//     after LISTEN succeeded again, with a fresh generation.
//   - An entry is used only while younger than cacheMaxAge, and the whole
//     cache is invalidated every storage.MaxStaleness/2 (ChangeAll): a
//     notification lost without the listener noticing leaves an entry stale
//     for at most cacheMaxAge < storage.MaxStaleness.
//
// An entry is used only while the generation it was read under is still
// current; a reader takes the generation before it queries. A write that
// commits after the reader's snapshot notifies after its commit, so the
// invalidation comes after the generation was taken and the entry is never
// used: a read that started before a notification is never cached past it.
//
// Only rows that exist are cached. A certificate this process has just
// recorded (RedeemEnrollToken, RenewCertificate) is cached as not revoked
// under the generation taken before its transaction began: nothing can have
// revoked it before its record existed, and a revocation after that bumps
// the generation (locally or through the notification).
type statusCache struct {
	gen atomic.Uint64
	on  atomic.Bool // the listener is up: entries may be used

	mu      sync.RWMutex
	clients map[string]cachedClient // by id; guarded by mu
	serials map[string]cachedSerial // by serial; guarded by mu
}

type cachedClient struct {
	c   storage.Client
	gen uint64
	at  time.Time // when it was read (monotonic)
}

type cachedSerial struct {
	revoked bool
	suspect bool // its clone lineage is marked suspect
	gen     uint64
	at      time.Time
}

// generation is taken before a cacheable read.
func (sc *statusCache) generation() uint64 { return sc.gen.Load() }

// invalidate makes every entry stale.
func (sc *statusCache) invalidate() { sc.gen.Add(1) }

// setOn turns the cache on (the listener is up) or off; either way every
// entry read before becomes stale.
func (sc *statusCache) setOn(on bool) {
	sc.invalidate()
	sc.on.Store(on)
	sc.invalidate()
}

// fresh reports whether an entry read under gen at at may be used now.
func (sc *statusCache) fresh(gen uint64, at time.Time) bool {
	return sc.on.Load() && gen == sc.gen.Load() && time.Since(at) < cacheMaxAge
}

// client returns a copy of the cached record, which the caller may modify.
func (sc *statusCache) client(id string) (storage.Client, bool) {
	sc.mu.RLock()
	e, ok := sc.clients[id]
	sc.mu.RUnlock()
	if !ok || !sc.fresh(e.gen, e.at) {
		return storage.Client{}, false
	}
	return e.c.Clone(), true
}

// putClient caches c, read under gen, as read now.
func (sc *statusCache) putClient(c storage.Client, gen uint64) {
	if !sc.on.Load() {
		return
	}
	c = c.Clone() // the caller keeps its own
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.clients == nil {
		sc.clients = make(map[string]cachedClient)
	}
	evictOne(sc.clients, c.ID, maxCachedClients)
	sc.clients[c.ID] = cachedClient{c: c, gen: gen, at: time.Now()}
}

func (sc *statusCache) serial(serial string) (cachedSerial, bool) {
	sc.mu.RLock()
	e, ok := sc.serials[serial]
	sc.mu.RUnlock()
	if !ok || !sc.fresh(e.gen, e.at) {
		return cachedSerial{}, false
	}
	return e, true
}

// putSerial caches st (st.gen: the generation it was read under) as read now.
func (sc *statusCache) putSerial(serial string, st cachedSerial) {
	if !sc.on.Load() {
		return
	}
	st.at = time.Now()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.serials == nil {
		sc.serials = make(map[string]cachedSerial)
	}
	evictOne(sc.serials, serial, maxCachedSerials)
	sc.serials[serial] = st
}

// putNewCertificate caches serial, recorded by a transaction that began
// under gen, as not revoked and not suspect (see above).
func (sc *statusCache) putNewCertificate(serial string, gen uint64) {
	sc.putSerial(serial, cachedSerial{gen: gen})
}

// evictOne makes room for key in m, bounded by limit, by deleting a random
// entry (map order is random).
func evictOne[V any](m map[string]V, key string, limit int) {
	if _, ok := m[key]; ok || len(m) < limit {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
