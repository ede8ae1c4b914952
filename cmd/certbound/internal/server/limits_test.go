package server_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

const formCT = "Content-Type: application/x-www-form-urlencoded"

// TestTokenRateLimitHoldsUnderAFlood: one client floods the token endpoint;
// it gets its rate and 429s with Retry-After for the rest, while another
// client keeps getting every token it asks for. A third party sending the
// victim's client_id without its certificate uses none of its allowance:
// the limit is keyed on the authenticated client.
func TestTokenRateLimitHoldsUnderAFlood(t *testing.T) {
	const rate = 50 // per second, burst 50
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.RateLimitToken = rate }))
	s.CreateClient(t, "flood", "a", "aud")
	s.CreateClient(t, "calm", "a", "aud")
	floodCert, _ := s.Enroll(t, s.MintToken(t, "flood"))
	calmCert, _ := s.Enroll(t, s.MintToken(t, "calm"))

	// The spoofer first: more than a burst of requests in the victim's name.
	spoof := s.HTTPClient()
	for range rate + 10 {
		if r := s.Do(t, spoof, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=calm", formCT); r.Status != 401 {
			t.Fatalf("spoofed request: %d %s", r.Status, r.Body)
		}
	}
	calm := s.HTTPClient(calmCert)
	for i := range rate { // the victim's whole burst is still there
		if r := s.Do(t, calm, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=calm", formCT); r.Status != 200 {
			t.Fatalf("victim request %d after the spoofing: %d %s", i, r.Status, r.Body)
		}
	}
	time.Sleep(200 * time.Millisecond) // the victim's bucket refills a little

	const window = time.Second
	var sent, ok, limited, other atomic.Int64
	var badRetry atomic.Value
	start := time.Now()
	deadline := start.Add(window)
	flood := s.HTTPClient(floodCert)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				r := s.Do(t, flood, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=flood", formCT)
				sent.Add(1)
				switch r.Status {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
					if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || r.ErrorCode() != "too_many_requests" {
						badRetry.Store(fmt.Sprintf("429 with Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body))
					}
				default:
					other.Add(1)
				}
			}
		}()
	}
	var calmSent, calmOK int
	for time.Now().Before(deadline) {
		r := s.Do(t, calm, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=calm", formCT)
		calmSent++
		if r.Status == 200 {
			calmOK++
		}
		time.Sleep(50 * time.Millisecond) // 20 per second, under the limit
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	t.Logf("flooding client: %d requests in %.2fs, %d x 200, %d x 429, %d other; other client: %d/%d x 200 (%.0f%%)",
		sent.Load(), elapsed, ok.Load(), limited.Load(), other.Load(), calmOK, calmSent, 100*float64(calmOK)/float64(calmSent))
	if v := badRetry.Load(); v != nil {
		t.Fatal(v)
	}
	if max := int64(rate + rate*elapsed + 5); ok.Load() > max {
		t.Fatalf("the flooder got %d tokens in %.2fs; the limit allows %d", ok.Load(), elapsed, max)
	}
	if limited.Load() == 0 || other.Load() != 0 {
		t.Fatalf("flood: %d limited, %d other statuses", limited.Load(), other.Load())
	}
	if calmOK != calmSent {
		t.Fatalf("the other client got %d of %d tokens", calmOK, calmSent)
	}
}

// TestFailedAuthenticationIsLimitedPerSource is RFC 6749 §2.3.1's brute
// force protection: wrong secrets (or admin keys) from one source get 429
// after the burst — then even a right one, so a guess cannot show through —
// while other sources are served.
func TestFailedAuthenticationIsLimitedPerSource(t *testing.T) {
	const rate = 10 // failures per second, burst 20
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.RateLimitAuthFailures = rate }))
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "sec", "scope": "a", "audience": []string{"aud"},
		"token_endpoint_auth_method": "client_secret_basic"})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct {
		Secret string `json:"client_secret"`
	}
	r.JSON(t, &created)
	basic := func(secret string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("sec:"+secret))
	}
	attacker := s.HTTPClientFrom("127.0.0.1")
	var statuses []int
	for i := range 40 {
		r := s.Do(t, attacker, "POST", "/oauth2/token", "grant_type=client_credentials", formCT, basic(fmt.Sprintf("cbs_guess%d", i)))
		statuses = append(statuses, r.Status)
		if r.Status == 429 && (r.Header.Get("Retry-After") == "" || r.ErrorCode() != "too_many_requests") {
			t.Fatalf("429 without Retry-After or code: %v %s", r.Header, r.Body)
		}
	}
	failures, limited := count(statuses, 401), count(statuses, 429)
	t.Logf("40 wrong secrets from one source: %d x 401, %d x 429", failures, limited)
	if failures < 20 || failures > 22 || limited < 18 {
		t.Fatalf("statuses %v: want about 20 x 401 then 429s", statuses)
	}
	if r := s.Do(t, attacker, "POST", "/oauth2/token", "grant_type=client_credentials", formCT, basic(created.Secret)); r.Status != 429 {
		t.Fatalf("the right secret from the blocked source: %d, want 429", r.Status)
	}
	other := s.HTTPClientFrom("127.0.0.2")
	if r := s.Do(t, other, "POST", "/oauth2/token", "grant_type=client_credentials", formCT, basic(created.Secret)); r.Status != 200 {
		t.Fatalf("the right secret from another source: %d %s", r.Status, r.Body)
	}
	// Admin keys share the rule.
	adminGuesser := s.HTTPClientFrom("127.0.0.3")
	statuses = statuses[:0]
	for i := range 30 {
		statuses = append(statuses, s.Do(t, adminGuesser, "GET", "/v1/clients", nil, fmt.Sprintf("Authorization: Bearer cba_guess%d", i)).Status)
	}
	t.Logf("30 wrong admin keys from one source: %d x 401, %d x 429", count(statuses, 401), count(statuses, 429))
	if count(statuses, 429) < 8 {
		t.Fatalf("admin key guesses: %v", statuses)
	}
	if r := s.Do(t, s.HTTPClientFrom("127.0.0.4"), "GET", "/v1/clients", nil, "Authorization: Bearer "+s.AdminKey); r.Status != 200 {
		t.Fatalf("the admin from another source: %d", r.Status)
	}
	// Successes never count: a busy legitimate source is not limited.
	for i := range 60 {
		if r := s.Do(t, other, "POST", "/oauth2/token", "grant_type=client_credentials", formCT, basic(created.Secret)); r.Status != 200 {
			t.Fatalf("legitimate request %d: %d", i, r.Status)
		}
	}
	// The block lifts as the bucket refills.
	time.Sleep(200 * time.Millisecond)
	if r := s.Do(t, attacker, "POST", "/oauth2/token", "grant_type=client_credentials", formCT, basic(created.Secret)); r.Status != 200 {
		t.Fatalf("after the refill: %d %s", r.Status, r.Body)
	}
}

func TestEnrollmentRateLimitPerSource(t *testing.T) {
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.RateLimitEnroll = 5 }))
	var statuses []int
	c := s.HTTPClientFrom("127.0.0.1")
	for range 8 {
		statuses = append(statuses, s.Do(t, c, "POST", "/v1/enroll", map[string]string{"token": "cbe_x", "csr": "x"}).Status)
	}
	if count(statuses, 400)+count(statuses, 401) != 5 || count(statuses, 429) != 3 {
		t.Fatalf("statuses %v: want 5 answered, then 429", statuses)
	}
	if r := s.Do(t, s.HTTPClientFrom("127.0.0.2"), "POST", "/v1/enroll", map[string]string{"token": "cbe_x", "csr": "x"}); r.Status == 429 {
		t.Fatal("another source was limited")
	}
}

func count(statuses []int, want int) int {
	n := 0
	for _, s := range statuses {
		if s == want {
			n++
		}
	}
	return n
}

// startWithTimeouts starts a server whose timeouts are short enough to test.
func startWithTimeouts(t *testing.T) *servertest.Server {
	return servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.ReadHeaderTimeout = 200 * time.Millisecond
		c.ReadTimeout = 400 * time.Millisecond
		c.IdleTimeout = 300 * time.Millisecond
	}))
}

func tlsDial(t *testing.T, s *servertest.Server) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), &tls.Config{RootCAs: s.Roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed reads until the server closes conn and returns how long it took.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
	return time.Since(start)
}

func TestSlowClientsAreCutOff(t *testing.T) {
	s := startWithTimeouts(t)
	host := strings.TrimPrefix(s.URL, "https://")

	t.Run("reject/headers that never end (slowloris)", func(t *testing.T) {
		conn := tlsDial(t, s)
		start := time.Now()
		fmt.Fprintf(conn, "GET /v1/health HTTP/1.1\r\nHost: %s\r\n", host)
		done := make(chan struct{})
		go func() { // a header byte every 50 ms, never the blank line
			defer close(done)
			for i := 0; i < 100; i++ {
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		waitClosed(t, conn, 3*time.Second)
		if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
			t.Fatalf("cut off after %v, want about the 200ms ReadHeaderTimeout", el)
		}
		<-done
	})
	t.Run("reject/no TLS handshake", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if el := waitClosed(t, conn, 3*time.Second); el > 2*time.Second {
			t.Fatalf("a silent TCP client was kept %v", el)
		}
	})
	t.Run("reject/body that never ends", func(t *testing.T) {
		conn := tlsDial(t, s)
		fmt.Fprintf(conn, "POST /v1/enroll HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", host)
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Fatalf("a request whose body never came: %d", resp.StatusCode)
			}
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("waited %v for a body", el)
		}
	})
	t.Run("reject/idle keep-alive connection", func(t *testing.T) {
		conn := tlsDial(t, s)
		fmt.Fprintf(conn, "GET /v1/health HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("health: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		conn.SetReadDeadline(start.Add(3 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("unexpected data on an idle connection")
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("idle connection kept %v", el)
		}
	})
	t.Run("accept/a normal request still works", func(t *testing.T) {
		if r := s.Do(t, nil, "GET", "/v1/health", nil); r.Status != 200 {
			t.Fatalf("health: %d", r.Status)
		}
	})
}

func TestHeaderSizeLimit(t *testing.T) {
	s := servertest.Start(t)
	c := s.HTTPClient()
	// 16 KiB of headers (plus net/http's 4 KiB of slack) is the limit.
	if r := s.Do(t, c, "GET", "/v1/health", nil, "X-Filler: "+strings.Repeat("a", 8<<10)); r.Status != 200 {
		t.Fatalf("8 KiB header: %d", r.Status)
	}
	req, _ := http.NewRequest("GET", s.URL+"/v1/health", nil)
	req.Header.Set("X-Filler", strings.Repeat("a", 40<<10))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("40 KiB header: %d, want 431", resp.StatusCode)
	}
}

// TestBodyLimitOnEveryRoute: 64 KiB is accepted by the limit, one byte more
// is 413 with a JSON error on every route, whether the length is announced
// or the body is chunked.
func TestBodyLimitOnEveryRoute(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	routes := []struct{ method, path, ctype string }{
		{"GET", "/v1/health", ""}, {"GET", "/v1/roots", ""}, {"POST", "/v1/enroll", "application/json"},
		{"POST", "/v1/renew", "application/json"}, {"POST", "/oauth2/token", "application/x-www-form-urlencoded"},
		{"POST", "/oauth2/introspect", "application/x-www-form-urlencoded"},
		{"GET", "/.well-known/oauth-authorization-server", ""}, {"GET", "/.well-known/jwks.json", ""},
		{"GET", "/auth/jwt/jwks.json", ""}, {"POST", "/recipe/oauth/clients", "application/json"},
		{"POST", "/auth/oauth/token", "application/json"}, {"POST", "/v1/clients", "application/json"},
		{"GET", "/v1/clients", ""}, {"GET", "/v1/clients/svc", ""}, {"PATCH", "/v1/clients/svc", "application/json"},
		{"DELETE", "/v1/clients/svc", ""}, {"POST", "/v1/clients/svc/enrollment-tokens", "application/json"},
		{"GET", "/v1/certificates", ""}, {"POST", "/v1/certificates/00/revoke", "application/json"},
		{"POST", "/v1/keys/rotate", ""}, {"GET", "/v1/audit", ""},
	}
	c := s.HTTPClient()
	for _, rt := range routes {
		for _, chunked := range []bool{false, true} {
			name := rt.method + " " + rt.path
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				body := strings.Repeat(" ", 64<<10+1)
				var rd io.Reader = strings.NewReader(body)
				if chunked {
					rd = io.MultiReader(strings.NewReader(body)) // unknown length: sent chunked
				}
				req, err := http.NewRequest(rt.method, s.URL+rt.path, rd)
				if err != nil {
					t.Fatal(err)
				}
				if rt.ctype != "" {
					req.Header.Set("Content-Type", rt.ctype)
				}
				req.Header.Set("Authorization", "Bearer "+s.AdminKey)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
				// With a chunked body the size is known only when read: a
				// route that takes no body answers without reading it, and
				// one that refuses the caller first (renewal without a
				// certificate) never reads it either. Nothing accepts it.
				if chunked && r.Status != 413 {
					switch {
					case r.Status < 300 && rt.ctype == "":
					case r.Status >= 400 && r.Status < 500:
						if err := checkErrorBody(r, ""); err != nil {
							t.Fatal(err)
						}
					default:
						t.Fatalf("%d %s for an oversized chunked body", r.Status, data)
					}
					return
				}
				if r.Status != 413 {
					t.Fatalf("%d %s, want 413", r.Status, data)
				}
				if err := checkErrorBody(r, "request_too_large"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	t.Run("accept/exactly 64 KiB passes the limit", func(t *testing.T) {
		body := `{"token":"cbe_x","csr":"` + strings.Repeat("a", 64<<10-len(`{"token":"cbe_x","csr":""}`)) + `"}`
		if len(body) != 64<<10 {
			t.Fatalf("body is %d bytes", len(body))
		}
		if r := s.Do(t, nil, "POST", "/v1/enroll", []byte(body), "Content-Type: application/json"); r.Status == 413 {
			t.Fatal("64 KiB refused as too large")
		}
	})
}

func TestTLSRefusesOldVersionsAndWeakSuites(t *testing.T) {
	s := servertest.Start(t)
	host := strings.TrimPrefix(s.URL, "https://")
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"reject/TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
		{"reject/TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		{"reject/TLS 1.2 CBC (non-AEAD)", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, false},
		{"reject/TLS 1.2 RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}}, false},
		{"reject/TLS 1.2 3DES", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}}, false},
		{"accept/TLS 1.2 ECDHE-ECDSA-AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"accept/TLS 1.2 ChaCha20-Poly1305", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"accept/TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.Clone()
			cfg.RootCAs = s.Roots
			conn, err := tls.Dial("tcp", host, cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
