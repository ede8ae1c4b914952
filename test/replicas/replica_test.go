package replicas

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// replica is one `certbound serve` process. It keeps its data dir, its
// address and its log across restarts, as a replica restarted by systemd
// would.
type replica struct {
	name    string
	dataDir string
	addr    string // 127.0.0.1:<port>
	url     string // https://127.0.0.1:<port>
	args    []string

	log syncBuffer // stderr and stdout of every run, in order

	mu     sync.Mutex
	cmd    *exec.Cmd     // the current run; nil before the first
	done   chan struct{} // closed when the current run has exited
	runs   int
	exited error // the current run's exit status, once done is closed
}

// startTimeout bounds how long a replica may take to answer /v1/ready after
// exec; three replicas and the tests' clients share two cores.
const startTimeout = time.Minute

// start execs the replica (again); it does not wait for it to be ready.
func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil && !isClosed(r.done) {
		return fmt.Errorf("%s is already running", r.name)
	}
	r.runs++
	fmt.Fprintf(&r.log, "=== %s run %d: %s serve %s\n", r.name, r.runs, binary, strings.Join(r.args, " "))
	cmd := exec.Command(binary, append([]string{"serve"}, r.args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &r.log, &r.log
	// A test binary killed by its timeout leaves no replica behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.name, err)
	}
	done := make(chan struct{})
	r.cmd, r.done = cmd, done
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.exited = err
		r.mu.Unlock()
		close(done)
	}()
	return nil
}

// pid is the current run's process id.
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd.Process.Pid
}

func (r *replica) current() (*exec.Cmd, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd, r.done
}

// kill sends SIGKILL and waits for the process to be gone: a crash, with no
// chance to finish a request or close a connection.
func (r *replica) kill() {
	cmd, done := r.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// freeze stops the process (SIGSTOP) without ending it or its connections,
// as a long pause would; thaw resumes it (SIGCONT).
func (r *replica) freeze() {
	cmd, _ := r.current()
	_ = cmd.Process.Signal(syscall.SIGSTOP)
}

func (r *replica) thaw() {
	cmd, _ := r.current()
	_ = cmd.Process.Signal(syscall.SIGCONT)
}

// stop sends SIGTERM (graceful shutdown) and SIGKILL after 15 s.
func (r *replica) stop() error {
	cmd, done := r.current()
	if cmd == nil || isClosed(done) {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT) // in case a failed test left it frozen
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within 15 s of SIGTERM; killed", r.name)
	}
}

// waitReady polls GET /v1/ready until it answers 200. The root is not known
// before a first start, so this poll checks no certificate: it learns
// readiness and nothing else (the tests' own clients verify the chain).
func (r *replica) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	_, done := r.current()
	last := "no answer"
	for {
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v", r.name, r.exitErr())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (last: %s)", r.name, timeout, last)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", r.url+"/v1/ready", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *replica) exitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exited
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// cleanEnv is the test's environment without CERTBOUND_ variables, so that
// only the flags configure the replicas.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTBOUND_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer several goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[%d lines omitted]\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}
