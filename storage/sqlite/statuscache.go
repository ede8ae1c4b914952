package sqlite

import (
	"sync"
	"sync/atomic"

	"github.com/certbound/certbound/storage"
)

// Bounds of the status cache; past them a random entry goes.
const (
	maxCachedClients = 8192
	maxCachedSerials = 16384
)

// statusCache holds the answers of the reads every authenticated request
// makes — the client record (GetClient, ClientDisabled) and whether a
// certificate is revoked or its lineage suspect (CertificateRevoked,
// CertificateSuspect) — so that they cost a map lookup instead of a query.
//
// Coherence: every method of DB that can change a client record, revoke a
// certificate, mark or clear a suspect lineage or delete certificate records
// calls invalidate after its write
// returned (committed or not). An entry is used only while the generation
// it was read under is still current, and a reader takes the generation
// before it queries, so an entry read before or during a write is never
// used after the write returned: a revocation or a disabled client takes
// effect for every request that starts after the call that made it.
//
// Staleness bound: 0. Only this process's writes are seen, and that is
// enough because the server is the database's one writer (the data
// directory's lock keeps a second server out; the CLI changes state through
// the API; backups and OpenReadOnly only read). A backend shared by several
// processes cannot use this cache as it is: see storage.NotifiedStaleness.
//
// Only rows that exist are cached: an unknown client or serial is looked up
// again each time. A certificate this process has just recorded
// (RedeemEnrollToken, RenewCertificate) is cached as not revoked under the
// generation taken before its transaction began: nothing can have revoked
// it before its record existed, and a revocation after that bumps the
// generation past the entry's.
type statusCache struct {
	gen atomic.Uint64
	off bool // set once before use (OpenReadOnly): nothing is cached

	mu      sync.RWMutex
	clients map[string]cachedClient // by id; guarded by mu
	revoked map[string]cachedSerial // by serial; guarded by mu
}

type cachedClient struct {
	c   storage.Client
	gen uint64
}

type cachedSerial struct {
	revoked bool
	suspect bool // its clone lineage is marked suspect (lineage.go)
	gen     uint64
}

// generation is taken before a cacheable read.
func (sc *statusCache) generation() uint64 { return sc.gen.Load() }

// invalidate makes every entry stale. Writers call it after their write.
func (sc *statusCache) invalidate() { sc.gen.Add(1) }

// client returns a copy of the cached record, which the caller may modify.
func (sc *statusCache) client(id string) (storage.Client, bool) {
	if sc.off {
		return storage.Client{}, false
	}
	sc.mu.RLock()
	e, ok := sc.clients[id]
	sc.mu.RUnlock()
	if !ok || e.gen != sc.gen.Load() {
		return storage.Client{}, false
	}
	return e.c.Clone(), true
}

func (sc *statusCache) putClient(c storage.Client, gen uint64) {
	if sc.off {
		return
	}
	c = c.Clone() // the caller keeps its own
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.clients == nil {
		sc.clients = make(map[string]cachedClient)
	}
	evictOne(sc.clients, c.ID, maxCachedClients)
	sc.clients[c.ID] = cachedClient{c: c, gen: gen}
}

func (sc *statusCache) revocation(serial string) (cachedSerial, bool) {
	if sc.off {
		return cachedSerial{}, false
	}
	sc.mu.RLock()
	e, ok := sc.revoked[serial]
	sc.mu.RUnlock()
	if !ok || e.gen != sc.gen.Load() {
		return cachedSerial{}, false
	}
	return e, true
}

// putRevocation caches st, read under the generation st.gen.
func (sc *statusCache) putRevocation(serial string, st cachedSerial) {
	if sc.off {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.revoked == nil {
		sc.revoked = make(map[string]cachedSerial)
	}
	evictOne(sc.revoked, serial, maxCachedSerials)
	sc.revoked[serial] = st
}

// putNewCertificate caches serial, recorded by a write transaction that
// began under gen, as not revoked and not suspect (see above; a mark, like a
// revocation, comes later and bumps the generation).
func (sc *statusCache) putNewCertificate(serial string, gen uint64) {
	sc.putRevocation(serial, cachedSerial{gen: gen})
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
