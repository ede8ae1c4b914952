package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// run runs certbound in dir with env added to a clean CERTBOUND_* environment.
func run(t *testing.T, dir string, env []string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	// A bound, so that a command that should have refused but runs on (a
	// server) fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTBOUND_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func adminKey(t *testing.T, s *servertest.Server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestServerURLMustBeHTTPS(t *testing.T) {
	s := servertest.Start(t)
	plain := strings.Replace(s.URL, "https://", "http://", 1)
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"client list":         {"client", "list", "--data-dir", s.DataDir},
		"enroll-token create": {"enroll-token", "create", "--client", "x", "--data-dir", s.DataDir},
		"enroll":              {"enroll", "--fingerprint", s.Fingerprint, "--token-file", "-", "--out", filepath.Join(dir, "id")},
		"renew":               {"renew", "--dir", filepath.Join(dir, "id")},
		"token":               {"token", "--dir", filepath.Join(dir, "id")},
	} {
		t.Run("reject/"+name, func(t *testing.T) {
			_, stderr, err := run(t, dir, nil, "cbe_x\n", append(args, "--server", plain)...)
			if err == nil || !strings.Contains(stderr, "HTTPS only") || !strings.Contains(stderr, s.URL) {
				t.Fatalf("err=%v stderr=%q", err, stderr)
			}
		})
	}
}

func TestAdminCommandsFromAnotherDirectory(t *testing.T) {
	s := servertest.Start(t)
	elsewhere := t.TempDir()

	t.Run("reject/no key says what to pass", func(t *testing.T) {
		_, stderr, err := run(t, elsewhere, nil, "", "client", "list", "--server", s.URL)
		for _, want := range []string{"--data-dir", "--admin-key-file", "CERTBOUND_ADMIN_KEY"} {
			if err == nil || !strings.Contains(stderr, want) {
				t.Fatalf("err=%v stderr lacks %s: %q", err, want, stderr)
			}
		}
	})
	key := []string{"CERTBOUND_ADMIN_KEY=" + adminKey(t, s)}
	t.Run("reject/key but no root says what to pass", func(t *testing.T) {
		_, stderr, err := run(t, elsewhere, key, "", "client", "list", "--server", s.URL)
		for _, want := range []string{"--fingerprint", "--root", "--data-dir"} {
			if err == nil || !strings.Contains(stderr, want) {
				t.Fatalf("err=%v stderr lacks %s: %q", err, want, stderr)
			}
		}
	})
	t.Run("accept/key and pinned fingerprint fetch the root", func(t *testing.T) {
		out, stderr, err := run(t, elsewhere, append(key, "CERTBOUND_FINGERPRINT="+s.Fingerprint), "",
			"client", "create", "remote", "--scope", "a", "--audience", "b", "--server", s.URL)
		if err != nil || !strings.Contains(out, "created client remote") {
			t.Fatalf("err=%v out=%q stderr=%q", err, out, stderr)
		}
		out, _, err = run(t, elsewhere, key, "", "client", "list", "--server", s.URL, "--fingerprint", strings.ToUpper(s.Fingerprint))
		if err != nil || !strings.Contains(out, "remote") {
			t.Fatalf("err=%v out=%q", err, out)
		}
	})
	t.Run("reject/a root that does not match the pin gets no key", func(t *testing.T) {
		// Another TLS server (a certbound root of its own would do the same)
		// that records every Authorization header it is sent.
		var mu sync.Mutex
		var auth []string
		var rootPEM []byte
		impostor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			root := rootPEM
			mu.Unlock()
			if r.URL.Path == "/v1/roots" {
				w.Write(root)
				return
			}
			w.Write([]byte(`{"clients":[]}`))
		}))
		impostor.StartTLS()
		mu.Lock()
		rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: impostor.Certificate().Raw})
		mu.Unlock()
		defer impostor.Close()
		_, stderr, err := run(t, elsewhere, key, "", "client", "list", "--server", impostor.URL, "--fingerprint", s.Fingerprint)
		if err == nil || !strings.Contains(stderr, "start log") || !strings.Contains(stderr, "certbound ca fingerprint") {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range auth {
			if a != "" {
				t.Fatalf("the admin key reached a server whose root does not match the pin: %q", a)
			}
		}
		if len(auth) != 1 {
			t.Fatalf("requests to the impostor: %d, want the one GET /v1/roots", len(auth))
		}
	})
}

func TestEnrollmentTokenSources(t *testing.T) {
	s := servertest.Start(t)
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	base := t.TempDir()
	mint := func() string { return strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc")) }
	n := 0
	enroll := func(env []string, stdin string, extra ...string) (string, error) {
		n++
		args := append([]string{"enroll", "--server", s.URL, "--fingerprint", s.Fingerprint,
			"--out", filepath.Join(base, "id-"+strconv.Itoa(n))}, extra...)
		_, stderr, err := run(t, base, env, stdin, args...)
		return stderr, err
	}
	const warning = "can be read by other local users"

	t.Run("accept/--token-file", func(t *testing.T) {
		f := filepath.Join(base, "token")
		os.WriteFile(f, []byte(mint()+"\n"), 0o600)
		if stderr, err := enroll(nil, "", "--token-file", f); err != nil || strings.Contains(stderr, warning) {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
	t.Run("accept/--token-file - reads stdin", func(t *testing.T) {
		if stderr, err := enroll(nil, mint()+"\n", "--token-file", "-"); err != nil || strings.Contains(stderr, warning) {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
	t.Run("accept/CERTBOUND_TOKEN and CERTBOUND_FINGERPRINT", func(t *testing.T) {
		_, stderr, err := run(t, base, []string{"CERTBOUND_TOKEN=" + mint(), "CERTBOUND_FINGERPRINT=" + s.Fingerprint}, "",
			"enroll", "--server", s.URL, "--out", filepath.Join(base, "id-env"))
		if err != nil || strings.Contains(stderr, warning) {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
	t.Run("accept/--token works and warns", func(t *testing.T) {
		if stderr, err := enroll(nil, "", "--token", mint()); err != nil || !strings.Contains(stderr, warning) || !strings.Contains(stderr, "--token-file") {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
	t.Run("reject/empty --token-file", func(t *testing.T) {
		f := filepath.Join(base, "empty")
		os.WriteFile(f, []byte("\n"), 0o600)
		if stderr, err := enroll(nil, "", "--token-file", f); err == nil || !strings.Contains(stderr, "empty") {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
	t.Run("reject/no token says where to put it", func(t *testing.T) {
		if stderr, err := enroll(nil, ""); err == nil || !strings.Contains(stderr, "--token-file") || !strings.Contains(stderr, "CERTBOUND_TOKEN") {
			t.Fatalf("err=%v stderr=%q", err, stderr)
		}
	})
}

func TestEnrollMessagesSayWhatToDo(t *testing.T) {
	s := servertest.Start(t)
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
	dir := filepath.Join(t.TempDir(), "id")

	t.Run("reject/wrong fingerprint does not print the server's", func(t *testing.T) {
		msg := cli(t, nil, true, "enroll", "--server", s.URL, "--fingerprint", strings.Repeat("ab", 32), "--token", token, "--out", dir)
		if strings.Contains(msg, s.Fingerprint) || !strings.Contains(msg, "start log") || !strings.Contains(msg, "sha256sum") {
			t.Fatalf("message: %s", msg)
		}
	})
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)
	t.Run("reject/existing identity names --overwrite", func(t *testing.T) {
		token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
		msg := cli(t, nil, true, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)
		if !strings.Contains(msg, "--overwrite") {
			t.Fatalf("message: %s", msg)
		}
	})
}

func TestCAFingerprintPrintsTheRootsSHA256(t *testing.T) {
	s := servertest.Start(t)
	if got := strings.TrimSpace(cli(t, nil, false, "ca", "fingerprint", "--data-dir", s.DataDir)); got != s.Fingerprint {
		t.Fatalf("ca fingerprint = %q, want %q", got, s.Fingerprint)
	}
}

func TestCertListActiveAndRevokeTwice(t *testing.T) {
	s := servertest.Start(t)
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
	dir := filepath.Join(t.TempDir(), "id")
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)
	cli(t, nil, false, "renew", "--server", s.URL, "--dir", dir)

	lines := func(out string) []string { return strings.Split(strings.TrimSpace(out), "\n") }
	active := lines(cli(t, s, false, "cert", "list", "--active"))
	superseded := lines(cli(t, s, false, "cert", "list", "--state", "superseded"))
	if len(active) != 2 || !strings.Contains(active[1], " active ") || len(superseded) != 2 || !strings.Contains(superseded[1], " superseded ") {
		t.Fatalf("--active:\n%s\n--state superseded:\n%s", strings.Join(active, "\n"), strings.Join(superseded, "\n"))
	}
	serial := strings.Fields(superseded[1])[0]
	if out := cli(t, s, false, "cert", "revoke", serial); !strings.HasPrefix(out, "revoked "+serial) {
		t.Fatalf("first revoke: %s", out)
	}
	if out := cli(t, s, false, "cert", "revoke", serial); !strings.Contains(out, "already revoked") {
		t.Fatalf("second revoke: %s", out)
	}
}

// TestScopeAndAudienceFollowOneListRule: both flags take a list separated
// by spaces or commas, or repeated flags.
func TestScopeAndAudienceFollowOneListRule(t *testing.T) {
	s := servertest.Start(t)
	for i, tc := range []struct {
		args           []string
		scope, audence string
	}{
		{[]string{"--scope", "a,b", "--audience", "x,y"}, "a b", `["x","y"]`},
		{[]string{"--scope", "a b", "--audience", "x y"}, "a b", `["x","y"]`},
		{[]string{"--scope", "a", "--scope", "b", "--audience", "x", "--audience", "y"}, "a b", `["x","y"]`},
		{[]string{"--scope", "a, b", "--audience", "x"}, "a b", `["x"]`},
	} {
		id := "c" + strconv.Itoa(i)
		var got struct {
			Scope    string   `json:"scope"`
			Audience []string `json:"audience"`
		}
		out := cli(t, s, false, append([]string{"client", "create", id, "--json"}, tc.args...)...)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		aud, _ := json.Marshal(got.Audience)
		if got.Scope != tc.scope || string(aud) != tc.audence {
			t.Errorf("accept/%v: scope %q audience %s, want %q %s", tc.args, got.Scope, aud, tc.scope, tc.audence)
		}
	}
}
