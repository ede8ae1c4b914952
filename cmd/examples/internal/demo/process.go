package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/certbound/certbound/certs"
)

// Process is a child process the demo started. Its output goes to a log
// file, which Tail reads when something went wrong.
type Process struct {
	Name string
	Log  string // path of the file holding its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
}

// StartProcess starts bin with args and env added to the demo's own
// environment, its output appended to logPath.
func StartProcess(name, logPath, bin string, args, env []string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop asks the process to shut down (SIGINT, which every command here
// handles gracefully), kills it if it has not stopped within 10 s, and waits
// for it. Stopping a process that has ended does nothing.
func (p *Process) Stop() {
	if ended, _ := p.Exited(); ended {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Server is a `certbound serve` process on a fresh data dir.
type Server struct {
	*Process
	Bin         string // path of the certbound binary
	URL         string // https://127.0.0.1:<port>, also the issuer
	DataDir     string
	RootFile    string // <data-dir>/ca/root.crt
	Roots       *x509.CertPool
	Fingerprint string // hex SHA-256 of the root
	Args        []string

	client *http.Client // trusts Roots; set with them
}

// StartServer starts `certbound serve` on dataDir (created by the server on
// first start) and a free port of 127.0.0.1, with extra flags added, and
// waits until it answers GET /v1/health.
func StartServer(ctx context.Context, bin, dataDir, logPath string, extra ...string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &Server{Bin: bin, URL: "https://" + addr, DataDir: dataDir, RootFile: filepath.Join(dataDir, "ca", "root.crt")}
	s.Args = append([]string{"serve", "--data-dir", dataDir, "--listen", addr, "--issuer", s.URL}, extra...)
	s.Process, err = StartProcess("certbound", logPath, bin, s.Args, nil)
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, s.Process, 30*time.Second, func() bool {
		if s.client == nil && s.loadRoot() != nil {
			return false
		}
		return healthy(ctx, s.client, s.URL+"/v1/health")
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) loadRoot() error {
	data, err := os.ReadFile(s.RootFile)
	if err != nil {
		return err
	}
	roots, err := certs.ParseCertificates(data)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	s.Roots, s.Fingerprint = pool, certs.Fingerprint(roots[0].Raw)
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, VerifyConnection: certs.VerifyServerConnection},
	}}
	return nil
}

// Client returns an HTTPS client for certbound: it trusts certbound's root,
// accepts only certbound's own server certificate (never a service's) and
// presents no certificate.
func (s *Server) Client() *http.Client { return s.client }

// Env is the environment that points the certbound CLI at this server and
// its data dir (for the admin key and the root to trust).
func (s *Server) Env() []string {
	return []string{"CERTBOUND_SERVER=" + s.URL, "CERTBOUND_DATA_DIR=" + s.DataDir}
}

// CLI runs `certbound args...` against this server and returns its stdout.
func (s *Server) CLI(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("certbound %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ErrExited: a process the demo waited for ended instead.
var ErrExited = errors.New("the process exited")

// waitFor polls ready until it returns true, p exits, ctx ends or timeout
// passes.
func waitFor(ctx context.Context, p *Process, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if ended, err := p.Exited(); ended {
			return fmt.Errorf("%s: %w (%v); its last log lines:\n%s", p.Name, ErrExited, err, indent(p.Tail(15), "    "))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready within %s; its last log lines:\n%s", p.Name, timeout, indent(p.Tail(15), "    "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// healthy reports whether GET url answers 200.
func healthy(ctx context.Context, c *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func indent(s, prefix string) string {
	if s == "" {
		return s
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
