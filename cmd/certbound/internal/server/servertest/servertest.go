// Package servertest starts real certbound servers for tests: a fresh data
// dir in t.TempDir(), real SQLite, real CA, HTTPS on 127.0.0.1 with an
// ephemeral port, an adjustable clock, and the server's log captured so tests
// can check that no secret reached it. Only _test.go files import it.
package servertest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/storage/sqlite"
)

// Server is a running certbound server.
type Server struct {
	URL         string // https://127.0.0.1:<port>
	DataDir     string
	AdminKey    string
	Roots       *x509.CertPool
	RootPEM     []byte
	Fingerprint string // hex SHA-256 of the root
	MetricsURL  string // http://<addr>/metrics when the config sets MetricsListen

	anon *http.Client // Do's client when it is given none: no certificate, connections reused

	clientsMu sync.Mutex
	clients   []*http.Client // every client handed out; Stop closes their idle connections
	offset    atomic.Int64   // clock offset in nanoseconds
	log       *lockedBuffer
	stop      context.CancelFunc
	done      chan error
}

// Option adjusts the server configuration before it starts.
type Option func(*server.Config)

// WithConfig lets a test change any field of the configuration.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// WithCA makes the server use the CA c (copied into <data-dir>/ca before the
// first start) instead of bootstrapping its own, so that c's failure
// fixtures (ExpiredLeaf, TwoURISANsLeaf, ...) are signed by the server's own
// intermediate. It must come before options that read the data dir.
func WithCA(c *catest.CA) Option {
	return func(cfg *server.Config) {
		dst := filepath.Join(cfg.DataDir, server.CADir)
		if err := os.MkdirAll(dst, 0o700); err != nil {
			panic(fmt.Sprintf("servertest: %v", err))
		}
		for _, name := range []string{ca.RootCertFile, ca.RootKeyFile, ca.IntermediateCertFile, ca.IntermediateKeyFile} {
			data, err := os.ReadFile(filepath.Join(c.Dir, name))
			if err != nil {
				panic(fmt.Sprintf("servertest: %v", err))
			}
			mode := os.FileMode(0o644)
			if strings.HasSuffix(name, ".key") {
				mode = 0o600
			}
			if err := os.WriteFile(filepath.Join(dst, name), data, mode); err != nil {
				panic(fmt.Sprintf("servertest: %v", err))
			}
		}
	}
}

// TestPassword is the CA password WithDatabase sets when the test sets none.
const TestPassword = "servertest: the CA password"

// WithDatabase runs the server on the database url (a pgtest.URL: PostgreSQL)
// with a pool of 3 connections and, unless an earlier option set one,
// TestPassword as the CA password (required there). Pass it to Restart too.
func WithDatabase(url string) Option {
	return func(cfg *server.Config) {
		cfg.Database = url
		cfg.DatabasePoolSize = 3
		if len(cfg.CAPassword) == 0 {
			cfg.CAPassword = []byte(TestPassword)
		}
	}
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{DataDir: filepath.Join(t.TempDir(), "data"), log: &lockedBuffer{}}
	cfg := server.Config{
		DataDir: s.DataDir,
		Logger:  slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     s.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s.DataDir = cfg.DataDir
	return s.start(t, cfg)
}

// Restart stops the server and starts a new one on the same data dir.
func (s *Server) Restart(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s.Stop(t)
	n := &Server{DataDir: s.DataDir, log: s.log}
	n.offset.Store(s.offset.Load())
	cfg := server.Config{DataDir: s.DataDir, Logger: slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: n.Now}
	for _, o := range opts {
		o(&cfg)
	}
	return n.start(t, cfg)
}

func (s *Server) start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "https://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("servertest: %v", err)
	}
	s.stop, s.done = cancel, make(chan error, 1)
	go func() { s.done <- srv.Serve(ctx, ln) }()
	<-srv.Ready()
	t.Cleanup(func() { s.Stop(t) })

	s.URL = "https://" + ln.Addr().String()
	if a := srv.MetricsAddr(); a != "" {
		s.MetricsURL = "http://" + a + "/metrics"
	}
	s.RootPEM = srv.Authority().RootPEM()
	s.Fingerprint = srv.Authority().RootFingerprint()
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(srv.Authority().Root())
	s.anon = s.HTTPClient()
	// A replica on a shared database that did not create the bootstrap key
	// has no key file: the test sets AdminKey from the one that has.
	key, err := os.ReadFile(filepath.Join(s.DataDir, server.AdminKeyFile))
	switch {
	case err == nil:
		s.AdminKey = strings.TrimSpace(string(key))
	case cfg.Database == "" || !errors.Is(err, os.ErrNotExist):
		t.Fatal(err)
	}
	return s
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop(t testing.TB) {
	if s.stop == nil {
		return
	}
	// Close the clients' spare connections first: net/http's Shutdown waits
	// up to 5 s for a connection that never sent a request, and a transport
	// that dialled in parallel leaves such connections behind.
	s.clientsMu.Lock()
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
	s.clientsMu.Unlock()
	s.stop()
	s.stop = nil
	if err := <-s.done; err != nil {
		t.Errorf("servertest: serve: %v", err)
	}
}

// DBPath is the server's database file.
func (s *Server) DBPath() string { return filepath.Join(s.DataDir, server.DatabaseFile) }

// OpenDB opens the server's database read-only, next to the running server;
// it is closed when the test ends.
func (s *Server) OpenDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.OpenReadOnly(context.Background(), s.DBPath())
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Snapshot digests the server's database (sqlite.Snapshot).
func (s *Server) Snapshot(t testing.TB, db *sqlite.DB) sqlite.Snapshot {
	t.Helper()
	snap, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("servertest: snapshot: %v", err)
	}
	return snap
}

// Now is the server's clock: real time plus the offset set by Advance.
func (s *Server) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Advance moves the server's clock forward.
func (s *Server) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// Log returns everything the server logged so far.
func (s *Server) Log() string { return s.log.String() }

// HTTPClient returns a client that trusts the server's root and presents
// certs (none when empty). Each call returns a client with its own
// connections, so a different certificate means a different handshake.
func (s *Server) HTTPClient(certs ...tls.Certificate) *http.Client {
	return s.HTTPClientFrom("", certs...)
}

// HTTPClientFrom is HTTPClient with connections from the local address
// localIP ("" for any): 127.0.0.2 and the like are other sources on the same
// host, for per-source rate limits.
func (s *Server) HTTPClientFrom(localIP string, certs ...tls.Certificate) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if localIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: s.Roots, Certificates: certs, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
	}}
	s.clientsMu.Lock()
	s.clients = append(s.clients, c)
	s.clientsMu.Unlock()
	return c
}

// Response is a decoded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns the "error" member of a JSON error body.
func (r *Response) ErrorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). headers are "Name: value" pairs. A nil c
// means a shared client that presents no certificate.
func (s *Server) Do(t testing.TB, c *http.Client, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if c == nil {
		c = s.anon
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Admin sends an admin API request with the admin key.
func (s *Server) Admin(t testing.TB, method, path string, body any) *Response {
	t.Helper()
	return s.Do(t, nil, method, path, body, "Authorization: Bearer "+s.AdminKey)
}

// CreateClient registers a tls_client_auth client with these scopes and
// audiences through the admin API.
func (s *Server) CreateClient(t testing.TB, id string, scope string, audience ...string) {
	t.Helper()
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": id, "client_name": id, "scope": scope, "audience": audience})
	if r.Status != http.StatusCreated {
		t.Fatalf("create client %s: %d %s", id, r.Status, r.Body)
	}
}

// MintToken mints an enrollment token for client id.
func (s *Server) MintToken(t testing.TB, id string, dnsNames ...string) string {
	t.Helper()
	body := map[string]any{}
	if len(dnsNames) > 0 {
		body["dns_names"] = dnsNames
	}
	r := s.Admin(t, "POST", "/v1/clients/"+id+"/enrollment-tokens", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("mint token for %s: %d %s", id, r.Status, r.Body)
	}
	var out struct {
		Token string `json:"token"`
	}
	r.JSON(t, &out)
	return out.Token
}

// Issued is a decoded enrollment or renewal response.
type Issued struct {
	Certificate string    `json:"certificate"`
	Chain       string    `json:"chain"`
	CA          string    `json:"ca"`
	Serial      string    `json:"serial"`
	SPIFFEID    string    `json:"spiffe_id"`
	NotAfter    time.Time `json:"not_after"`
}

// NewKey returns a fresh P-256 key.
func NewKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CSR returns a PEM CSR for key asking for dnsNames.
func CSR(t testing.TB, key crypto.Signer, dnsNames ...string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}, DNSNames: dnsNames}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(certs.EncodeCSR(der))
}

// Enroll creates nothing: it redeems token with a fresh key and returns the
// TLS certificate (chain + key) and the response.
func (s *Server) Enroll(t testing.TB, token string, dnsNames ...string) (tls.Certificate, Issued) {
	t.Helper()
	key := NewKey(t)
	r := s.Do(t, nil, "POST", "/v1/enroll", map[string]string{"token": token, "csr": CSR(t, key, dnsNames...)})
	if r.Status != http.StatusCreated {
		t.Fatalf("enroll: %d %s", r.Status, r.Body)
	}
	var is Issued
	r.JSON(t, &is)
	return Pair(t, is.Chain, key), is
}

// Pair builds a tls.Certificate from a PEM chain and its key.
func Pair(t testing.TB, chainPEM string, key crypto.Signer) tls.Certificate {
	t.Helper()
	chain, err := certs.ParseCertificates([]byte(chainPEM))
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// AuditUntil reads the whole audit trail (GET /v1/audit) until done says it
// holds what the test waits for, or 10 s have passed, and returns the last
// read: the writer flushes off the request path, within 200 ms.
func (s *Server) AuditUntil(t testing.TB, done func([]adminapi.AuditEvent) bool) []adminapi.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page adminapi.AuditEvents
		s.Admin(t, "GET", "/v1/audit", nil).JSON(t, &page)
		if done(page.Events) || time.Now().After(deadline) {
			return page.Events
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metrics scrapes the metrics listener (the server must have one, see
// MetricsURL) and returns the metric families by name.
func (s *Server) Metrics(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}
