package server_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
)

// The tests that run `certbound serve` as a subprocess share one binary,
// built once per test run into a directory TestMain removes.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "certbound-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// certboundBinary builds ./cmd/certbound (with the race detector when the
// tests have it, so the build reuses the test's compiled packages).
func certboundBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		binPath = filepath.Join(binDir, "certbound")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		args = append(args, "github.com/certbound/certbound/cmd/certbound")
		cmd := exec.Command(goTool, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a `certbound serve` subprocess on a fixed loopback port.
type proc struct {
	t       *testing.T
	bin     string
	dataDir string
	addr    string
	args    []string
	cmd     *exec.Cmd
	out     *lockedOutput
	exited  chan error
}

func newProc(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &proc{t: t, bin: certboundBinary(t), dataDir: dataDir, addr: addr, out: &lockedOutput{}}
	p.args = append([]string{"serve", "--data-dir", dataDir, "--listen", addr, "--issuer", "https://" + addr,
		"--dns", "127.0.0.1", "--log-level", "warn"}, extra...)
	t.Cleanup(func() { p.kill() })
	return p
}

// start starts the process and does not wait.
func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTBOUND_") {
			env = append(env, kv)
		}
	}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	cmd := p.cmd
	go func() { p.exited <- cmd.Wait() }()
}

// startAndWait starts the process and returns how long until it answered
// GET /v1/health with 200.
func (p *proc) startAndWait(limit time.Duration) time.Duration {
	p.t.Helper()
	begin := time.Now()
	p.start()
	var c *http.Client
	for {
		select {
		case err := <-p.exited:
			p.t.Fatalf("certbound serve exited: %v\n%s", err, p.out.String())
		default:
		}
		if c == nil {
			if _, err := os.Stat(filepath.Join(p.dataDir, "ca", "root.crt")); err == nil {
				c = p.client(nil) // the root exists from the first start on
				c.Timeout = 200 * time.Millisecond
			}
		}
		if c != nil {
			if resp, err := c.Get("https://" + p.addr + "/v1/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return time.Since(begin)
				}
			}
		}
		if time.Since(begin) > limit {
			p.t.Fatalf("no health 200 within %v\n%s", limit, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roots reads the CA root from the data dir: the tests pin it like a client would.
func (p *proc) roots() *x509.CertPool {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dataDir, "ca", "root.crt"))
	if err != nil {
		p.t.Fatal(err)
	}
	root, err := certs.ParseCertificate(data)
	if err != nil {
		p.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool
}

func (p *proc) client(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: p.roots(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 16}}
}

func (p *proc) adminKey() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.key"))
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// stop sends SIGTERM and returns the exit error.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.cmd = nil
		return err
	case <-time.After(15 * time.Second):
		p.kill()
		return fmt.Errorf("no exit 15 s after SIGTERM")
	}
}

// lockedOutput collects the subprocess's output.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() > 1<<20 {
		o.buf.Reset()
	}
	return o.buf.Write(b)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestServePasswordFile runs `certbound serve --password-file`: the CA keys
// on disk are encrypted, and the server refuses to start without the file
// or with a wrong passphrase.
func TestServePasswordFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the certbound binary")
	}
	t.Parallel()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, dataDir, "--password-file", pwFile)
	p.startAndWait(30 * time.Second)
	if err := p.stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.out.String())
	}
	for _, name := range []string{"root.key", "intermediate.key"} {
		data, err := os.ReadFile(filepath.Join(dataDir, "ca", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
			t.Fatalf("%s is not encrypted", name)
		}
	}
	// Without the file it refuses to start (a wrong passphrase is
	// TestCAKeysAreEncryptedWithThePassword's).
	q := newProc(t, dataDir)
	q.start()
	select {
	case err := <-q.exited:
		q.cmd = nil
		if err == nil || !strings.Contains(q.out.String(), "password") {
			t.Fatalf("exit %v, output %q: want a failure that names the password", err, q.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server started without its password")
	}
}
