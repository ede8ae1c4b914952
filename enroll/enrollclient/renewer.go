package enrollclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/certs"
)

// RenewerConfig configures a Renewer. Dir and Server are required; every
// other zero value picks the documented default.
type RenewerConfig struct {
	// Dir is an identity directory written by Enroll.
	Dir string
	// Server is the certbound base URL (https).
	Server string
	// OnRenew, if not nil, is called after every renewal and every time a
	// newer identity written by another process is adopted, from Run's
	// goroutine, after the TLS configs already serve it.
	OnRenew func(*Identity)
	// OnError, if not nil, is called with every failed renewal attempt (a
	// *ServerError when the server refused) and with failures to re-read
	// the directory. Run keeps retrying after it.
	OnError func(error)
	// Jitter is the largest random shift of the renewal time, as a fraction
	// of the certificate's lifetime. Zero means 0.05 (±5 %); a negative value
	// turns jitter off; values above 0.3 are cut to 0.3 so renewal always
	// happens before expiry. Jitter spreads a fleet enrolled at once.
	Jitter float64
	// RetryMin and RetryMax bound the exponential backoff between failed
	// attempts. Zero means 1s and 5m. A 429 or 503 response's Retry-After is
	// honoured even when it is longer.
	RetryMin, RetryMax time.Duration
	// PollInterval is how often Run checks whether cert.pem changed on disk
	// (another process renewed or re-enrolled). Zero means 30s.
	PollInterval time.Duration
	// Timeout bounds one renewal request. Zero means 30s.
	Timeout time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Renewer keeps an identity directory renewed and is the source of the
// current Identity for the TLS configs it hands out. All methods are safe
// for concurrent use.
type Renewer struct {
	cfg     RenewerConfig // defaults filled in; immutable after NewRenewer
	base    string        // checked server URL
	current atomic.Pointer[Identity]
	plan    atomic.Pointer[plan] // next attempt; for the identity in current, or stale until replanned
	running atomic.Bool
}

// plan is when the next renewal attempt for id is due.
type plan struct {
	id *Identity
	at time.Time
}

// Default values of RenewerConfig fields.
const (
	defaultJitter       = 0.05
	maxJitter           = 0.3
	defaultRetryMin     = time.Second
	defaultRetryMax     = 5 * time.Minute
	defaultPollInterval = 30 * time.Second
)

// NewRenewer loads cfg.Dir and returns a Renewer serving that identity.
// Nothing is renewed, and nothing is re-read from disk, until Run is called;
// until then the TLS configs serve the identity loaded here.
func NewRenewer(cfg RenewerConfig) (*Renewer, error) {
	r, err := newRenewer(cfg)
	if err != nil {
		return nil, err
	}
	id, err := Load(cfg.Dir)
	if err != nil {
		return nil, err
	}
	r.current.Store(id)
	r.planFor(id)
	return r, nil
}

// newRenewer checks cfg and fills in the defaults; the caller stores the
// first identity.
func newRenewer(cfg RenewerConfig) (*Renewer, error) {
	base, err := parseServerURL(cfg.Server)
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("enrollclient: RenewerConfig.Dir is empty")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Jitter == 0:
		cfg.Jitter = defaultJitter
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	case cfg.Jitter > maxJitter:
		cfg.Jitter = maxJitter
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = defaultRetryMin
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = defaultRetryMax
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = defaultPollInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	return &Renewer{cfg: cfg, base: base}, nil
}

// Current returns the identity served now. It is never nil.
func (r *Renewer) Current() *Identity { return r.current.Load() }

// Leaf returns the current leaf certificate. The method value r.Leaf fits
// the tokenclient Config.Certificate field, so cached tokens are dropped when
// the certificate is renewed (RFC 8705 §6.3).
func (r *Renewer) Leaf() *x509.Certificate { return r.Current().Leaf() }

// NextRenewal returns when the next renewal attempt is due: 2/3 of the
// current certificate's lifetime ± jitter, or the retry time after a failed
// attempt. Run follows this plan; it is set from NewRenewer on.
func (r *Renewer) NextRenewal() time.Time { return r.planFor(r.Current()) }

// planFor returns the planned attempt for id, drawing a fresh renewal time
// (with its jitter) the first time it sees id.
func (r *Renewer) planFor(id *Identity) time.Time {
	for {
		p := r.plan.Load()
		if p != nil && p.id == id {
			return p.at
		}
		np := &plan{id: id, at: r.renewalTime(id)}
		if r.plan.CompareAndSwap(p, np) {
			return np.at
		}
	}
}

// ClientTLSConfig returns a TLS client configuration that presents the
// current certificate on every handshake and trusts only the pinned root
// (TLS 1.2 or later). It follows renewals without being rebuilt.
func (r *Renewer) ClientTLSConfig() *tls.Config { return clientTLSConfig(r.Current) }

// ServerTLSConfig returns a TLS server configuration that serves the current
// certificate on every handshake and verifies client certificates against
// the pinned root when a client offers one (tls.VerifyClientCertIfGiven),
// which is what a resource server checking certificate-bound tokens needs:
// the handler sees the verified client certificate in r.TLS. To refuse
// clients without a certificate at the handshake, set ClientAuth to
// tls.RequireAndVerifyClientCert on the result.
func (r *Renewer) ServerTLSConfig() *tls.Config { return serverTLSConfig(r.Current) }

// HTTPClient returns an http.Client for calls to other services that
// presents the current certificate. After a renewal, new requests use new
// connections with the new certificate; connections made with the old one
// are not reused.
func (r *Renewer) HTTPClient() *http.Client {
	return &http.Client{Transport: newIdentityTransport(r.Current, clientTLSConfig), Timeout: defaultTimeout}
}

// ClientTLSConfigFor is ClientTLSConfig for calling one service by its
// SPIFFE ID instead of its host name (see Identity.ClientTLSConfigFor). It
// follows renewals without being rebuilt.
func (r *Renewer) ClientTLSConfigFor(server certs.ID) *tls.Config {
	return authorizingTLSConfig(server)(r.Current)
}

// HTTPClientFor is HTTPClient for calls to the one service whose SPIFFE ID
// is server; the host name in the URL is not checked (see
// Identity.ClientTLSConfigFor).
func (r *Renewer) HTTPClientFor(server certs.ID) *http.Client {
	return &http.Client{Transport: newIdentityTransport(r.Current, authorizingTLSConfig(server)), Timeout: defaultTimeout}
}

// Run renews the certificate at 2/3 of its lifetime (± jitter) until ctx is
// done, then returns nil. Failed attempts are reported to OnError and retried
// with exponential backoff from RetryMin to RetryMax; retries speed up as
// expiry nears, and a Retry-After from the server is honoured. Every
// PollInterval, and before each attempt, it re-reads the directory and adopts
// a newer certificate written by another process instead of renewing.
// Once the certificate has expired attempts fail with ErrExpired (nothing is
// sent); Run keeps watching the directory for a new enrollment.
// Run returns ErrRunning if another Run is active.
func (r *Renewer) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)

	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()

	var (
		planned  *Identity // identity failures counts for
		failures int       // consecutive failed attempts
		seen     []byte    // cert.pem last read from disk, to skip unchanged re-reads
	)
	for {
		cur := r.Current()
		if planned != cur {
			planned, failures = cur, 0
		}
		timer.Reset(max(r.planFor(cur).Sub(r.cfg.Now()), 0))
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			timer.Stop()
			r.reload(&seen)
			continue
		case <-timer.C:
		}
		if r.reload(&seen) {
			continue // a newer identity arrived on disk; plan anew
		}
		next, err := renew(ctx, cur, r.base, r.cfg.Timeout, r.cfg.Now)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			r.plan.Store(&plan{id: cur, at: r.cfg.Now().Add(r.retryDelay(cur, failures, err))})
			r.report(fmt.Errorf("renew %s: %w", cur.ID, err))
			continue
		}
		r.current.Store(next)
		if r.cfg.OnRenew != nil {
			r.cfg.OnRenew(next)
		}
	}
}

// renewalTime is NotBefore + 2/3 of the lifetime + a uniform random shift in
// [-Jitter, +Jitter] × lifetime. With Jitter ≤ 0.3 it always falls before
// NotAfter.
func (r *Renewer) renewalTime(id *Identity) time.Time {
	life := id.NotAfter.Sub(id.NotBefore)
	at := id.NotBefore.Add(life * 2 / 3)
	if span := time.Duration(float64(life) * r.cfg.Jitter); span > 0 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(2*span)+1))
		if err == nil {
			at = at.Add(time.Duration(n.Int64()) - span)
		}
	}
	return at
}

// retryDelay is the wait after the failures-th consecutive failed attempt:
// RetryMin doubled per failure up to RetryMax, shortened to half the time
// left while the certificate is still valid (but not below RetryMin), and
// never shorter than a Retry-After the server asked for.
func (r *Renewer) retryDelay(id *Identity, failures int, err error) time.Duration {
	d := r.cfg.RetryMax
	if failures <= 30 {
		d = min(r.cfg.RetryMin<<(failures-1), r.cfg.RetryMax)
	}
	if left := id.NotAfter.Sub(r.cfg.Now()); left > 0 {
		d = min(d, max(left/2, r.cfg.RetryMin))
	}
	var se *ServerError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = se.RetryAfter
	}
	return d
}

// reload re-reads the directory if cert.pem changed since *seen and adopts
// what it finds when that is a different certificate that expires no
// earlier than the current one. It reports whether it adopted one.
func (r *Renewer) reload(seen *[]byte) bool {
	cur := r.Current()
	data, err := os.ReadFile(filepath.Join(r.cfg.Dir, CertFile))
	if err != nil {
		r.report(fmt.Errorf("reload: %w", err))
		return false
	}
	if bytes.Equal(data, cur.certPEM) || bytes.Equal(data, *seen) {
		return false
	}
	id, err := Load(r.cfg.Dir)
	if err != nil {
		r.report(fmt.Errorf("reload: %w", err))
		return false
	}
	*seen = id.certPEM
	if id.Serial == cur.Serial || id.NotAfter.Before(cur.NotAfter) {
		return false
	}
	r.current.Store(id)
	if r.cfg.OnRenew != nil {
		r.cfg.OnRenew(id)
	}
	return true
}

func (r *Renewer) report(err error) {
	if r.cfg.OnError != nil {
		r.cfg.OnError(err)
	}
}
