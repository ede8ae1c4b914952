package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/cmd/certbound/internal/audit"
	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/cmd/certbound/internal/httpapi"
	"github.com/certbound/certbound/cmd/certbound/internal/metrics"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
	"github.com/certbound/certbound/tokenex"
)

// Config is everything `certbound serve` can set. Zero values are the
// documented defaults.
type Config struct {
	// DataDir holds the CA, the database and the admin key. Zero: "./certbound-data".
	// With a PostgreSQL Database it holds only what is this replica's own:
	// the lock and the admin key file of the bootstrap key, if this replica
	// created it.
	DataDir string
	// Database names the database (SPEC §13; storage/backend). Zero: SQLite
	// at <DataDir>/certbound.db. A postgres:// or postgresql:// URL or libpq
	// key=value settings: PostgreSQL, which any number of replicas share; the
	// CA then lives in the database, encrypted with CAPassword, which is
	// required.
	Database string
	// DatabasePoolSize is this replica's PostgreSQL connection pool. Zero:
	// 10 (postgres.DefaultPoolSize). Unused on SQLite.
	DatabasePoolSize int32
	// SkipMigrations never migrates the PostgreSQL schema and refuses to
	// start on a schema behind this binary's (serve --migrate=false; run
	// `certbound migrate` first). Zero: pending migrations are applied at
	// start, under a database lock. SQLite always brings its file up to date.
	SkipMigrations bool
	// Listen is the HTTPS address. Zero: "127.0.0.1:8443".
	Listen string
	// DNS are the names and IPs of the server's own certificate.
	// Zero: localhost and 127.0.0.1.
	DNS []string
	// TrustDomain of the SPIFFE IDs. Zero: "certbound.local".
	TrustDomain string
	// Issuer is the OAuth issuer identifier. Zero: DefaultIssuer(Listen, DNS),
	// https://<first DNS name>:<Listen's port>, so that a server on another
	// port or name does not advertise another server's URL.
	Issuer string
	// CertLifetime of issued leaves. Zero: 24h; at most 168h.
	CertLifetime time.Duration
	// CAPassword decrypts (and on first start encrypts) the CA keys. Zero:
	// unencrypted, which Open refuses on PostgreSQL (the keys would sit in a
	// shared database in the clear).
	CAPassword []byte
	// RateLimitEnroll is enrollment and renewal requests per second per
	// source address. Zero: no limit (the CLI's default is 100).
	RateLimitEnroll float64
	// RateLimitToken is token requests per second per authenticated client
	// (burst: one second's worth). Zero: no limit (the CLI's default is 100).
	RateLimitToken float64
	// RateLimitAuthFailures is failed authentications (401s) per second per
	// source address, with a burst of two seconds' worth; past it the source
	// gets 429 on every route that takes credentials. Zero: no limit (the
	// CLI's default is 10).
	RateLimitAuthFailures float64
	// CloneAction is what happens when an already renewed certificate is
	// presented for renewal again. Zero: enroll.CloneDisableIfUsed.
	CloneAction enroll.CloneAction

	// MetricsListen, when set, serves Prometheus metrics on this address
	// (plain HTTP, GET /metrics). Zero: no metrics listener.
	MetricsListen string
	// AuditRetention is how long audit events are kept. Zero: forever.
	AuditRetention time.Duration
	// CertRetention is how long the records of expired certificates are
	// kept after they expire. Zero: forever.
	CertRetention time.Duration

	// HTTP server limits. Zero: the default in brackets.
	ReadHeaderTimeout time.Duration // [10s] to read a request's headers (and the TLS handshake)
	ReadTimeout       time.Duration // [30s] to read a whole request
	WriteTimeout      time.Duration // [30s] to write a response
	IdleTimeout       time.Duration // [120s] before an idle keep-alive connection is closed
	MaxHeaderBytes    int           // [16 KiB] of request headers; above it 431
	// Logger. Zero: slog.Default().
	Logger *slog.Logger
	// Now. Zero: time.Now on SQLite; on PostgreSQL the database's clock
	// (storage.Clock: the local clock corrected by its offset to the database
	// server's), so that replicas agree on expiry and single use.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.DataDir == "" {
		c.DataDir = "./certbound-data"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8443"
	}
	if len(c.DNS) == 0 {
		c.DNS = []string{"localhost", "127.0.0.1"}
	}
	if c.Issuer == "" {
		c.Issuer, _ = DefaultIssuer(c.Listen, c.DNS) // Open refuses an empty one
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, 10*time.Second)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, 30*time.Second)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, 30*time.Second)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 120*time.Second)
	c.MaxHeaderBytes = cmp.Or(c.MaxHeaderBytes, 16<<10)
}

// Server is a prepared certbound server.
type Server struct {
	cfg   Config
	db    storage.Store
	feed  storage.ChangeFeed // nil unless other processes write the database too (PostgreSQL)
	ca    *ca.Authority
	api   *httpapi.API
	log   *slog.Logger
	cert  atomic.Pointer[tls.Certificate]
	addr  atomic.Pointer[string]
	ready chan struct{}

	metrics     *metrics.Metrics // nil unless MetricsListen is set
	metricsAddr atomic.Pointer[string]
	audit       *audit.Writer
	tokens      *tokenex.Service
	tokenLimit  *httpapi.ClientLimiter
	admins      *adminKeys
	lock        *datalock.Lock // the data dir's, held from Open to Close

	// Caches that follow what other replicas write (nil on SQLite).
	followAdmins, followKeys *follower
}

// serverCertLifetime is the life of the server's own certificate; it is
// renewed in memory at two thirds of it.
const serverCertLifetime = 30 * 24 * time.Hour

// Open prepares everything: on an empty data dir it bootstraps the CA,
// creates the database and the admin key; later it reuses them. On
// PostgreSQL the CA is the one in the database (the first replica to start
// creates it) and the data dir holds only this replica's own files.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.Issuer == "" {
		_, err := DefaultIssuer(cfg.Listen, cfg.DNS)
		return nil, err
	}
	kind, err := backend.Parse(cfg.Database)
	if err != nil {
		return nil, err
	}
	if kind == backend.PostgreSQL && len(cfg.CAPassword) == 0 {
		return nil, ErrNoPassword
	}
	log := cfg.Logger
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	caDir := filepath.Join(cfg.DataDir, CADir)
	created := false
	if kind == backend.SQLite {
		if created, err = bootstrapCA(caDir, cfg.CAPassword, nowOr(cfg.Now)); err != nil {
			return nil, errors.Join(err, lock.Release())
		}
	}
	if err := checkPrivateFiles(cfg.DataDir); err != nil {
		return nil, errors.Join(err, lock.Release())
	}
	db, err := backend.Open(ctx, backend.Config{Database: cfg.Database, DataDir: cfg.DataDir, PoolSize: cfg.DatabasePoolSize,
		Migrate: !cfg.SkipMigrations, Logger: log})
	if err != nil {
		return nil, errors.Join(err, lock.Release())
	}
	s := &Server{cfg: cfg, db: db, log: log, ready: make(chan struct{}), lock: lock}
	if feed, ok := db.(storage.ChangeFeed); ok {
		s.feed = feed
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
		if clock, ok := db.(storage.Clock); ok {
			s.cfg.Now = clock.Now
		}
	}
	material, sharedCreated, err := s.sharedCA(ctx, kind, caDir)
	created = created || sharedCreated
	if err == nil {
		err = s.build(ctx, caDir, material, created)
	}
	if err != nil {
		s.followAdmins.close()
		s.followKeys.close()
		return nil, errors.Join(err, db.Close(), lock.Release())
	}
	msg := "loaded the CA"
	if created {
		msg = "created a new CA"
	}
	where := slog.String("data_dir", cfg.DataDir)
	if kind == backend.PostgreSQL {
		where = slog.String("database", backend.Redacted(cfg.Database))
	}
	attrs := []any{slog.String("root_fingerprint_sha256", s.ca.RootFingerprint()), where}
	if keyFile := filepath.Join(cfg.DataDir, AdminKeyFile); fileExists(keyFile) {
		attrs = append(attrs, slog.String("admin_key", keyFile)) // a replica that did not make the key has none
	}
	log.Info(msg, attrs...)
	return s, nil
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nowOr returns now, or time.Now when it is nil.
func nowOr(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

func (s *Server) build(ctx context.Context, caDir string, material *ca.Material, caCreated bool) error {
	cfg := s.cfg
	authority, err := ca.New(ca.Config{Dir: caDir, Material: material, Password: cfg.CAPassword, TrustDomain: cfg.TrustDomain, Status: s.db, Now: cfg.Now})
	if err != nil {
		return passwordHint(err, material != nil)
	}
	s.ca = authority
	if err := ensureAdminKey(ctx, s.db, cfg.DataDir, cfg.Now(), s.log, s.feed != nil); err != nil {
		return err
	}
	admins, err := newAdminKeys(ctx, s.db, cfg.Now, s.log)
	if err != nil {
		return err
	}
	s.admins = admins
	enrollSvc, err := enroll.New(enroll.Config{Store: s.db, CA: authority, CertLifetime: cfg.CertLifetime,
		OnClone: cfg.CloneAction, ReservedDNSNames: serverDNSNames(cfg.DNS), Now: cfg.Now})
	if err != nil {
		return err
	}
	s.tokenLimit = httpapi.NewClientLimiter(cfg.RateLimitToken, cfg.Now)
	// Every certificate authentication goes through the recording verifier,
	// so clone detection knows which certificates have been used.
	peers := recordingAuthority{Authority: authority, verify: enrollSvc.RecordingVerifier(authority)}
	var activation time.Duration
	if s.feed != nil {
		// Replicas: a rotated key signs only once every replica publishes
		// it — the feed's worst case to reach them all, plus the skew
		// between their clocks.
		activation = storage.MaxStaleness + tokenex.ClockSkew
		if !caCreated {
			s.awaitFirstSigningKey(ctx)
		}
	}
	tokens, err := tokenex.New(ctx, tokenex.Config{Issuer: cfg.Issuer, Store: s.db, Peers: peers,
		TrustDomain: authority.TrustDomain(), Admit: s.tokenLimit.Admit, KeyPassword: cfg.CAPassword, Lineage: enrollSvc,
		ActivationDelay: activation, Now: cfg.Now})
	if err != nil {
		return passwordHint(err, s.feed != nil)
	}
	if err := s.renewServerCert(); err != nil {
		return err
	}
	s.tokens = tokens
	// The signing keys: tokenex holds them in memory (keySet). Staleness
	// bound for a rotation made by another replica: NotifiedStaleness plus
	// one read while the database is reachable, MaxStaleness in every case —
	// which the activation delay above covers, so no replica signs with a
	// key another does not publish yet.
	s.followKeys = follow(s.feed, "signing keys", tokens.Reload, s.log, storage.ChangeSigningKeys)
	s.followAdmins = follow(s.feed, "admin keys", admins.reload, s.log, storage.ChangeAdminKeys)
	s.audit = audit.NewWriter(s.db, s.log, 0)
	if cfg.MetricsListen != "" {
		s.metrics = metrics.New(metrics.Config{Inventory: s.db, Now: cfg.Now,
			CACertificates: []*x509.Certificate{authority.Root(), authority.Intermediate()}, SigningKeys: tokens.PublishedKeys,
			AuditDropped: s.audit.Dropped})
	}
	s.api = httpapi.New(httpapi.Config{CA: authority, Enroll: enrollSvc, Tokens: tokens, Admin: admins, AdminKeys: admins, Logger: s.log, Now: cfg.Now,
		EnrollRate: cfg.RateLimitEnroll, AuthFailureRate: cfg.RateLimitAuthFailures,
		Observer: observer{metrics: s.metrics, audit: s.audit}, Audit: s.db, Ready: readiness{s}})
	return nil
}

// serverDNSNames are the names of cfg.DNS that are not IP addresses: the
// names no service certificate may carry (SECURITY.md, Server identity).
// IP addresses need no reservation: the CA never puts one in a leaf.
func serverDNSNames(names []string) []string {
	var dns []string
	for _, n := range names {
		if net.ParseIP(n) == nil {
			dns = append(dns, n)
		}
	}
	return dns
}

// recordingAuthority is the CA with VerifyClient replaced by the enroll
// service's recording verifier.
type recordingAuthority struct {
	*ca.Authority
	verify enroll.PeerVerifier
}

func (r recordingAuthority) VerifyClient(ctx context.Context, chain []*x509.Certificate) (ca.Peer, error) {
	return r.verify.VerifyClient(ctx, chain)
}

// Authority returns the CA (for callers that print the fingerprint).
func (s *Server) Authority() *ca.Authority { return s.ca }

// Addr returns the listening address once Ready is closed.
func (s *Server) Addr() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) renewServerCert() error {
	c, err := s.ca.IssueServer(s.cfg.DNS, serverCertLifetime)
	if err != nil {
		return fmt.Errorf("issue the server certificate: %w", err)
	}
	s.cert.Store(&c)
	return nil
}

// tlsConfig is the listener's TLS: 1.2 or newer with AEAD ECDHE suites only,
// client certificates requested but not required (SPEC §4): each route
// checks what it needs through ca.VerifyClient.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // TLS 1.2 only; TLS 1.3 suites are all AEAD
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		ClientAuth: tls.RequestClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// Serve serves HTTPS on ln until ctx is cancelled, then shuts down
// gracefully: in-flight requests finish (up to 10 s), then the database closes.
// However it ends — ctx cancelled, the listener failing, the metrics
// listener failing to start — every goroutine it started (the metrics
// server, the pruning, the server certificate's renewal) has returned before
// it closes the database and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, stop := context.WithCancel(ctx)
	var background sync.WaitGroup
	defer func() {
		stop()
		background.Wait()
	}()
	srv := &http.Server{
		Handler:           s.api,
		TLSConfig:         s.tlsConfig(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.metrics != nil {
		if err := s.serveMetrics(ctx, &background, s.cfg.MetricsListen); err != nil {
			ln.Close()
			return errors.Join(fmt.Errorf("metrics listener: %w", err), s.Close())
		}
	}
	background.Go(func() { s.pruneLoop(ctx) })
	s.admins.start(ctx)
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	background.Go(func() { s.keepServerCertFresh(ctx) })
	close(s.ready)
	s.log.Info("serving", slog.String("listen", addr), slog.String("issuer", s.cfg.Issuer))

	var err error
	select {
	case err = <-errc:
		srv.Close() // the listener failed: drop the connections it left
	case <-ctx.Done():
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	stop()
	background.Wait()
	return errors.Join(err, s.Close())
}

// ListenAndServe listens on the configured address and serves.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Close flushes the audit trail and closes the database; Serve calls it on
// the way out, call it yourself when Serve was never called.
func (s *Server) Close() error {
	s.followAdmins.close()
	s.followKeys.close()
	s.admins.close()
	s.audit.Close()
	return errors.Join(s.db.Close(), s.lock.Release())
}

// SetRateLimits changes the rate limits of a running server (SIGHUP):
// enrollment and renewal per source, token requests per client, failed
// authentications per source. 0 turns a limit off. Connections stay up.
func (s *Server) SetRateLimits(enroll, token, authFailures float64) {
	s.api.SetLimits(enroll, authFailures)
	s.tokenLimit.SetRate(token)
	s.log.Info("rate limits set", slog.Float64("enroll_per_source", enroll), slog.Float64("token_per_client", token),
		slog.Float64("auth_failures_per_source", authFailures))
}

// MetricsAddr returns the metrics listener's address, once it listens.
func (s *Server) MetricsAddr() string {
	if p := s.metricsAddr.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *Server) keepServerCertFresh(ctx context.Context) {
	for {
		leaf := s.cert.Load().Leaf
		life := leaf.NotAfter.Sub(leaf.NotBefore)
		wait := time.Until(leaf.NotBefore.Add(life * 2 / 3))
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, time.Minute)):
		}
		if err := s.renewServerCert(); err != nil {
			s.log.Error("renewing the server certificate failed", slog.Any("err", err))
		}
	}
}

// slogWriter sends net/http's own error log (TLS handshake failures and the
// like) to slog at debug level: they are the client's problem, not ours.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("http", slog.String("msg", string(p)))
	return len(p), nil
}
