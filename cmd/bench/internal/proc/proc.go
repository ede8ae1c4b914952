package proc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Config says how to start the server.
type Config struct {
	// Binary is the certbound executable. Required.
	Binary string
	// DataDir is passed as --data-dir. Required; created on first start.
	DataDir string
	// Args are extra flags for `certbound serve`.
	Args []string
	// LogPath receives the server's stderr (its log). Zero: DataDir + ".log".
	LogPath string
	// Env is added to the server's environment (KEY=value).
	Env []string
	// AdminKey, when set, is the admin key to use instead of
	// DataDir/admin.key: a replica joining a PostgreSQL database another
	// replica bootstrapped writes none.
	AdminKey string
	// RootPEM, when set, is the CA root the server must chain to instead of
	// DataDir/ca/root.crt (which a joining replica may not write).
	RootPEM []byte
}

// Server is a running certbound child process.
type Server struct {
	URL      string // https://127.0.0.1:<port>
	Addr     string // 127.0.0.1:<port>
	DataDir  string
	AdminKey string
	RootPEM  []byte
	Roots    *x509.CertPool
	// LeafDER is the server's TLS certificate, learned over a connection
	// verified against Roots, so load generators can pin it instead of
	// paying for a chain verification on every handshake.
	LeafDER []byte
	// Started is the time from exec to the first 200 of GET /v1/health.
	Started time.Duration
	Process

	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

// Start execs `certbound serve` on a free loopback port with the issuer set
// to its own URL, waits until /v1/health answers 200 (at most a minute) and
// reads the root and the admin key from the data dir.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	url := "https://" + addr
	logPath := cfg.LogPath
	if logPath == "" {
		logPath = filepath.Clean(cfg.DataDir) + ".log"
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data-dir", cfg.DataDir, "--listen", addr, "--issuer", url,
		"--dns", "127.0.0.1", "--dns", "localhost"}, cfg.Args...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), cfg.Env...)
	s := &Server{URL: url, Addr: addr, DataDir: cfg.DataDir, cmd: cmd, done: make(chan error, 1), log: logf}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.Binary, err)
	}
	s.Process = Process{Pid: cmd.Process.Pid}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitHealthy(ctx, t0); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w (server log: %s)", err, logPath)
	}
	if err := s.readDataDir(cfg); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy polls /v1/health every 2 ms. The root does not exist before a
// first start, so this poll alone skips certificate verification; it learns
// liveness and nothing else.
func (s *Server) waitHealthy(ctx context.Context, t0 time.Time) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Second}
	deadline := t0.Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("certbound serve exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.URL + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Started = time.Since(t0)
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("certbound serve did not become healthy within a minute")
}

func (s *Server) readDataDir(cfg Config) error {
	root := cfg.RootPEM
	if root == nil {
		b, err := os.ReadFile(filepath.Join(s.DataDir, "ca", "root.crt"))
		if errors.Is(err, os.ErrNotExist) {
			// On PostgreSQL the CA lives in the database and a replica need
			// not write it into its data dir: trust on first use of the
			// child this process just started on loopback; the server's
			// certificate must still chain to what it answers (below).
			b, err = s.fetchRoot()
		}
		if err != nil {
			return err
		}
		root = b
	}
	key := cfg.AdminKey
	if key == "" {
		b, err := os.ReadFile(filepath.Join(s.DataDir, "admin.key"))
		if err != nil {
			return err
		}
		key = string(b)
	}
	s.RootPEM, s.AdminKey = root, strings.TrimSpace(key)
	s.Roots = x509.NewCertPool()
	if !s.Roots.AppendCertsFromPEM(root) {
		return errors.New("ca/root.crt holds no certificate")
	}
	conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: s.Roots, ServerName: "127.0.0.1"})
	if err != nil {
		return fmt.Errorf("verify the server certificate: %w", err)
	}
	defer conn.Close()
	s.LeafDER = conn.ConnectionState().PeerCertificates[0].Raw
	return nil
}

// fetchRoot is GET /v1/roots without verifying the server.
func (s *Server) fetchRoot() ([]byte, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(s.URL + "/v1/roots")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/roots: status %d", resp.StatusCode)
	}
	return b, nil
}

// PinnedTLS returns a client TLS config that accepts exactly the server's
// certificate (compared byte for byte, which is as strong as verifying its
// chain once) and speaks HTTP/1.1.
func (s *Server) PinnedTLS() *tls.Config {
	want := s.LeafDER
	return &tls.Config{
		ServerName:         "127.0.0.1",
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("bench: the server certificate is not the pinned one")
			}
			return nil
		},
		NextProtos: []string{"http/1.1"},
	}
}

// Process meters one process through /proc.
type Process struct{ Pid int }

// Self is the calling process.
func Self() Process { return Process{Pid: os.Getpid()} }

// CPU returns the process's user + system CPU time so far, all threads
// (utime + stime of /proc/<pid>/stat).
func (p Process) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis start with field 3 (state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// Memory is the resident memory of the process, in bytes.
type Memory struct {
	RSS  uint64 // VmRSS now
	Peak uint64 // VmHWM: the peak since start or the last ResetPeak
}

// Memory reads VmRSS and VmHWM.
func (p Process) Memory() (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return Memory{}, err
		}
		if k == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	return m, nil
}

// ResetPeak resets VmHWM to the current RSS (clear_refs 5), so the next
// Memory().Peak is the peak of what follows.
func (p Process) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.Pid), []byte("5"), 0)
}

// Stop sends SIGTERM (certbound shuts down gracefully and closes the
// database) and waits up to 20 s, then kills the process.
func (s *Server) Stop() error {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("certbound serve: %w", err)
		}
		return err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("certbound serve did not stop within 20 s; killed")
	}
}
