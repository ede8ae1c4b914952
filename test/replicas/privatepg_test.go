package replicas

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// privatePG is a PostgreSQL cluster of the test's own, in a temporary
// directory, on a free loopback port: the fault test restarts it, which the
// machine's shared cluster must never suffer.
type privatePG struct {
	bin  string // the directory holding initdb and pg_ctl
	dir  string // everything the cluster writes: data/, postgres.log, the socket
	cred *syscall.Credential
	port int
	url  string // postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable
}

// startPrivatePG initdb's a cluster (trust authentication, 127.0.0.1 only,
// fsync on) and starts it; t.Cleanup stops it and removes its files. initdb
// refuses to run as root, so under root every PostgreSQL program runs as the
// postgres user. Where none of this can work the test is skipped loudly
// (failed when CI=true).
func startPrivatePG(t testing.TB) *privatePG {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		skipLoudly(t, "no PostgreSQL server programs (initdb, pg_ctl): "+err.Error())
	}
	p := &privatePG{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipLoudly(t, "running as root and there is no postgres user for initdb: "+err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if p.dir, err = os.MkdirTemp("", "certbound-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.dir) })
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(p.dir, "data")
	if out, err := p.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		skipLoudly(t, fmt.Sprintf("initdb failed: %v\n%s", err, out))
	}
	p.port = freePort(t)
	conf := fmt.Sprintf("\n# certbound test/replicas\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"fsync = on\nmax_connections = 40\nshared_buffers = 16MB\n", p.port, p.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	p.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	if out, err := p.pgctl("start"); err != nil {
		skipLoudly(t, fmt.Sprintf("pg_ctl start failed: %v\n%s\n%s", err, out, p.serverLog()))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the private PostgreSQL:\n%s", tail(p.serverLog(), 100))
		}
		if out, err := p.pgctl("stop", "-m", "immediate"); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	p.waitAccepting(t)
	return p
}

// restart is `pg_ctl restart -m fast`: every connection is cut, the server
// comes back on the same port.
func (p *privatePG) restart(t testing.TB) {
	t.Helper()
	if out, err := p.pgctl("restart", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl restart: %v\n%s", err, out)
	}
	p.waitAccepting(t)
}

func (p *privatePG) pgctl(args ...string) ([]byte, error) {
	args = append([]string{"-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60"}, args...)
	return p.command("pg_ctl", args...).CombinedOutput()
}

func (p *privatePG) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(cleanEnv(), "LC_ALL=C.UTF-8")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// waitAccepting waits until a connection succeeds: pg_ctl -w returns when
// the postmaster says it is ready, which may precede the first accepted
// TCP connection by a moment.
func (p *privatePG) waitAccepting(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("private PostgreSQL does not accept connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *privatePG) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
	return string(b)
}

// postgresBinDir finds initdb and pg_ctl: on PATH, else the newest
// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// skipLoudly skips the test with a message nobody can miss, or fails it when
// CI=true: CI must run every test of this package.
func skipLoudly(t testing.TB, why string) {
	t.Helper()
	msg := "*** " + why + ": this test is SKIPPED ***"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
