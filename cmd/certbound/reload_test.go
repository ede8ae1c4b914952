package main_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the subprocess may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitForLog(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server log:\n%s", want, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSIGHUPReloadsLogLevelAndRateLimitsWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "certbound.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("log-level: info\nrate-limit-enroll: 1000\n")
	addr := freePort(t)
	data := filepath.Join(dir, "data")
	srv := exec.Command(binary, "serve", "--config", cfg, "--data-dir", data, "--listen", addr)
	var log syncBuffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	waitForLog(t, &log, "msg=serving")

	rootPEM, err := os.ReadFile(filepath.Join(data, "ca", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var reused []bool
	enroll := func() int {
		req, _ := http.NewRequest("POST", "https://"+addr+"/v1/enroll", strings.NewReader(`{"token":"cbe_x","csr":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read to the end so the connection can be reused
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 5 {
		if st := enroll(); st == 429 {
			t.Fatalf("request %d limited at 1000/s", i)
		}
	}
	if strings.Contains(log.String(), "level=DEBUG") {
		t.Fatal("debug lines before the reload")
	}

	write("log-level: debug\nrate-limit-enroll: 1\n")
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, &log, "SIGHUP: reloaded")
	statuses := []int{enroll(), enroll()}
	if statuses[1] != 429 {
		t.Fatalf("statuses after the reload to 1/s: %v", statuses)
	}
	if !reused[len(reused)-1] {
		t.Fatalf("the keep-alive connection did not survive the reload: %v", reused)
	}
	if !strings.Contains(log.String(), "level=DEBUG") {
		t.Fatal("log level not raised to debug")
	}

	// A broken file leaves the settings as they were.
	write("rate-limit-enroll: fast\n")
	srv.Process.Signal(syscall.SIGHUP)
	waitForLog(t, &log, "reload failed")
}
