package ca

import (
	"crypto/x509"
	"sync"
	"time"

	"github.com/certbound/certbound/certs"
)

// maxVerified bounds the cache of verified chains. A verdict costs one
// chain verification to rebuild, so a small cache that holds the active
// clients' certificates is enough; past the bound a random entry goes.
const maxVerified = 4096

// verified is the part of VerifyClient's verdict that depends only on the
// leaf's bytes and the Authority's fixed trust anchors: the profile checks,
// the chain to the root (signatures, key usage, path rules) and the
// identity. It holds while the time stays inside [notBefore, notAfter], the
// intersection of the validity periods of the verified chain, because
// crypto/x509 checks nothing else that changes.
type verified struct {
	id        certs.ID
	serial    string
	notBefore time.Time // latest NotBefore in the chain
	notAfter  time.Time // earliest NotAfter in the chain
}

// validAt reports whether x509 would accept the chain's validity at now:
// x509 refuses now.Before(NotBefore) and now.After(NotAfter).
func (v *verified) validAt(now time.Time) bool {
	return !now.Before(v.notBefore) && !now.After(v.notAfter)
}

// verifyCache remembers the verdicts of chains that verified, keyed by the
// leaf's RFC 8705 x5t#S256 thumbprint (SHA-256 of its DER), so that a client
// presenting the same certificate again (every request on a keep-alive
// connection, every new or resumed connection) costs a hash instead of a
// chain verification. Only successes are stored; a certificate that failed
// is verified again each time it is presented. Reusing another
// certificate's verdict would take a SHA-256 collision, the same assumption
// the token binding rests on. Revocation and client status are never
// cached here: VerifyClient asks the StatusSource on every call.
//
// Staleness bound: none needed, also with several replicas on one
// database. An entry holds only facts about signatures, fixed once the leaf
// and the Authority exist — the leaf's bytes (the key is their hash), the
// chain to an immutable Authority's anchors, and the validity window checked
// against the clock on every hit. Nothing another process can change makes
// such a fact false: revocation, disabling and deletion live in the
// StatusSource (with its own bound), and the CA replicas share never changes
// under a running Authority (a new CA means a new process).
type verifyCache struct {
	mu sync.RWMutex
	m  map[string]*verified // by thumbprint; guarded by mu
}

func (c *verifyCache) get(thumbprint string) *verified {
	c.mu.RLock()
	v := c.m[thumbprint]
	c.mu.RUnlock()
	return v
}

func (c *verifyCache) put(thumbprint string, v *verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*verified)
	}
	if _, ok := c.m[thumbprint]; !ok && len(c.m) >= maxVerified {
		for k := range c.m { // map order is random: a random victim
			delete(c.m, k)
			break
		}
	}
	c.m[thumbprint] = v
}

func (c *verifyCache) drop(thumbprint string) {
	c.mu.Lock()
	delete(c.m, thumbprint)
	c.mu.Unlock()
}

// chainWindow is the intersection of the validity periods of chain.
func chainWindow(chain []*x509.Certificate) (notBefore, notAfter time.Time) {
	for i, c := range chain {
		if i == 0 || c.NotBefore.After(notBefore) {
			notBefore = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return notBefore, notAfter
}
