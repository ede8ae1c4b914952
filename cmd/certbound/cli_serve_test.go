package main_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePortNumber returns a TCP port that was free a moment ago on 127.0.0.1.
func freePortNumber(t *testing.T) string {
	t.Helper()
	_, p, _ := net.SplitHostPort(freePort(t))
	return p
}

// serve starts `certbound serve args...` and returns its "serving" log line
// once it is up; the process is stopped at the end of the test.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--log-format", "text"}, args...)...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "msg=serving") {
				lines <- sc.Text()
			}
		}
		close(lines)
		io.Copy(io.Discard, stderr)
	}()
	line, ok := <-lines
	if !ok {
		t.Fatal("certbound serve ended before serving")
	}
	return line
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTBOUND_") {
			env = append(env, kv)
		}
	}
	return env
}

// metadataIssuer reads the issuer the server at addr advertises, trusting
// the root in dataDir.
func metadataIssuer(t *testing.T, addr, dataDir string) string {
	t.Helper()
	rootPEM, err := os.ReadFile(filepath.Join(dataDir, "ca", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	resp, err := hc.Get("https://" + addr + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.Issuer
}

func TestServeIssuerFollowsListen(t *testing.T) {
	t.Run("accept/derived from --listen and the first --dns", func(t *testing.T) {
		port, dir := freePortNumber(t), filepath.Join(t.TempDir(), "data")
		line := serve(t, "--data-dir", dir, "--listen", "127.0.0.1:"+port, "--dns", "ca.test,localhost")
		want := "https://ca.test:" + port
		if !strings.Contains(line, "issuer="+want) {
			t.Fatalf("serving line %q lacks issuer=%s", line, want)
		}
		if got := metadataIssuer(t, "127.0.0.1:"+port, dir); got != want {
			t.Fatalf("metadata issuer %q, want %q", got, want)
		}
	})
	t.Run("accept/an explicit --issuer wins", func(t *testing.T) {
		port, dir := freePortNumber(t), filepath.Join(t.TempDir(), "data")
		serve(t, "--data-dir", dir, "--listen", "127.0.0.1:"+port, "--issuer", "https://ca.example.internal")
		if got := metadataIssuer(t, "127.0.0.1:"+port, dir); got != "https://ca.example.internal" {
			t.Fatalf("metadata issuer %q", got)
		}
	})
}

func TestServeRefusesAWeakPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"reject/readable by others", "a good passphrase\n", 0o644, "0644"},
		{"reject/readable by group", "a good passphrase\n", 0o640, "0640"},
		{"reject/empty", "", 0o600, "no passphrase"},
		{"reject/white space only", " \t\n", 0o600, "no passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, "/", "-"))
			if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(f, tc.mode)
			data := filepath.Join(dir, "data-"+strings.ReplaceAll(tc.name, "/", "-"))
			_, stderr, err := run(t, dir, nil, "", "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--password-file", f)
			if err == nil || !strings.Contains(stderr, "--password-file") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err=%v stderr=%q", err, stderr)
			}
			if _, err := os.Stat(data); err == nil {
				t.Fatal("the data dir was created despite the refused passphrase")
			}
		})
	}
}
