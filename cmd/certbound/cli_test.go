package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// binary is the certbound command built once for all CLI tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "certbound-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "certbound")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs certbound with args and returns stdout; it fails the test on a
// non-zero exit unless wantErr (then it returns stderr). A non-nil s adds the
// admin flags that point at it.
func cli(t *testing.T, s *servertest.Server, wantErr bool, args ...string) string {
	t.Helper()
	if s != nil {
		args = append(args, "--server", s.URL, "--data-dir", s.DataDir)
	}
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "CERTBOUND_ADMIN_KEY=")
	err := cmd.Run()
	if (err != nil) != wantErr {
		t.Fatalf("certbound %s: err=%v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if wantErr {
		return stderr.String()
	}
	return stdout.String()
}

func TestClientLifecycle(t *testing.T) {
	s := servertest.Start(t)
	var created struct {
		ClientID string   `json:"client_id"`
		SANURI   string   `json:"tls_client_auth_san_uri"`
		Audience []string `json:"audience"`
		Secret   string   `json:"client_secret"`
	}
	out := cli(t, s, false, "client", "create", "task-service", "--scope", "event.create event.read", "--audience", "event", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if created.ClientID != "task-service" || created.SANURI != "spiffe://certbound.local/task-service" || created.Audience[0] != "event" || created.Secret != "" {
		t.Fatalf("created %+v", created)
	}
	human := cli(t, s, false, "client", "create", "batch", "--scope", "report.read", "--audience", "reports", "--auth", "client_secret_basic")
	if !strings.Contains(human, "client secret (shown once") || !strings.Contains(human, "cbs_") {
		t.Fatalf("secret client output: %s", human)
	}
	if list := cli(t, s, false, "client", "list"); !strings.Contains(list, "task-service") || !strings.Contains(list, "batch") {
		t.Fatalf("list: %s", list)
	}
	if got := cli(t, s, false, "client", "disable", "task-service"); !strings.Contains(got, "disabled") {
		t.Fatalf("disable: %s", got)
	}
	if got := cli(t, s, false, "client", "get", "task-service"); !strings.Contains(got, "status:     disabled") {
		t.Fatalf("get after disable: %s", got)
	}
	cli(t, s, false, "client", "enable", "task-service")
	cli(t, s, false, "client", "delete", "batch")
	if msg := cli(t, s, true, "client", "get", "batch"); !strings.Contains(msg, "404") {
		t.Fatalf("get deleted client: %s", msg)
	}
	if msg := cli(t, s, true, "client", "create", "Bad Id", "--scope", "x", "--audience", "y"); !strings.Contains(msg, "400") {
		t.Fatalf("invalid client id: %s", msg)
	}
}

func TestEnrollPinsTheRootAndRenewRekeys(t *testing.T) {
	s := servertest.Start(t)
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
	dir := filepath.Join(t.TempDir(), "id")

	wrong := strings.Repeat("ab", 32)
	msg := cli(t, nil, true, "enroll", "--server", s.URL, "--fingerprint", wrong, "--token", token, "--out", dir)
	if !strings.Contains(strings.ToLower(msg), "fingerprint") {
		t.Fatalf("wrong fingerprint message: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem")); err == nil {
		t.Fatal("files written despite a wrong fingerprint")
	}
	// The token was never sent, so it still works.
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)
	for name, mode := range map[string]os.FileMode{"key.pem": 0o600, "cert.pem": 0o644, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "key.pem" && fi.Mode().Perm() != mode {
			t.Fatalf("key.pem mode %o", fi.Mode().Perm())
		}
		if name != "key.pem" && fi.Mode().Perm()&0o077 == 0o077 {
			t.Fatalf("%s mode %o", name, fi.Mode().Perm())
		}
	}
	var in []struct {
		SPIFFEID string `json:"spiffe_id"`
		Serial   string `json:"serial"`
	}
	if err := json.Unmarshal([]byte(cli(t, nil, false, "cert", "inspect", filepath.Join(dir, "cert.pem"), "--json")), &in); err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 || in[0].SPIFFEID != "spiffe://certbound.local/svc" {
		t.Fatalf("inspect: %+v", in)
	}
	oldKey, _ := os.ReadFile(filepath.Join(dir, "key.pem"))

	// A bound token for the certificate in dir.
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(cli(t, nil, false, "token", "--server", s.URL, "--dir", dir, "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Scope != "a" || strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("token: %+v", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	chain, _ := certs.ParseCertificates(leafPEM)
	if !strings.Contains(string(payload), `"x5t#S256":"`+certs.X5tS256(chain[0].Raw)+`"`) {
		t.Fatalf("token not bound to the certificate in dir: %s", payload)
	}

	out := cli(t, nil, false, "renew", "--server", s.URL, "--dir", dir, "--json")
	var renewed struct {
		Serial string `json:"serial"`
	}
	if err := json.Unmarshal([]byte(out), &renewed); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	if renewed.Serial == in[0].Serial || bytes.Equal(oldKey, newKey) {
		t.Fatal("renew did not produce a new certificate on a new key")
	}
	list := cli(t, s, false, "cert", "list", "--client", "svc")
	if !strings.Contains(list, "superseded") || !strings.Contains(list, renewed.Serial) {
		t.Fatalf("cert list: %s", list)
	}
	cli(t, s, false, "cert", "revoke", renewed.Serial, "--reason", "test")
	if msg := cli(t, nil, true, "renew", "--server", s.URL, "--dir", dir); !strings.Contains(msg, "401") {
		t.Fatalf("a revoked certificate renewed: %s", msg)
	}
}

func TestRenewWatchKeepsAShortLivedCertificateFresh(t *testing.T) {
	// 8-second certificates: renewal at about 5 s, two renewals in about 11 s,
	// with room for a slow, loaded machine before a certificate expires.
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.CertLifetime = 8 * time.Second }))
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
	dir := filepath.Join(t.TempDir(), "id")
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)
	first, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))

	hookLog := filepath.Join(t.TempDir(), "hook.log")
	cmd := exec.Command(binary, "renew", "--server", s.URL, "--dir", dir, "--watch", "--exec", "echo renewed >> "+hookLog)
	var out bytes.Buffer // written by the process until Wait returns; read only after
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	defer stop()

	deadline := time.Now().Add(45 * time.Second)
	for {
		b, _ := os.ReadFile(hookLog)
		if strings.Count(string(b), "renewed") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no two renewals within 45s; output:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	now, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	chain, err := certs.ParseCertificates(now)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, now) || time.Until(chain[0].NotAfter) <= 0 {
		t.Fatalf("cert.pem not fresh after renewals (not after %s)", chain[0].NotAfter)
	}
}

func TestEnvironmentVariablesSetFlags(t *testing.T) {
	s := servertest.Start(t)
	cmd := exec.Command(binary, "client", "create", "from-env", "--scope", "a", "--audience", "b", "--json")
	cmd.Env = append(os.Environ(), "CERTBOUND_SERVER="+s.URL, "CERTBOUND_DATA_DIR="+s.DataDir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"from-env"`) {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestConfigFileSetsFlagsAndLosesToEnvAndFlags(t *testing.T) {
	s := servertest.Start(t)
	cfg := filepath.Join(t.TempDir(), "certbound.yaml")
	body := "server: " + s.URL + "\ndata-dir: " + s.DataDir + "\nscope: from-file\naudience: [a, b]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(nil, "client", "create", "c1", "--config", cfg, "--json")
	if err != nil || !strings.Contains(out, `"scope": "from-file"`) || !strings.Contains(out, `"b"`) {
		t.Fatalf("config file values not used: %v %s", err, out)
	}
	out, err = run([]string{"CERTBOUND_SCOPE=from-env"}, "client", "create", "c2", "--config", cfg, "--json")
	if err != nil || !strings.Contains(out, `"scope": "from-env"`) {
		t.Fatalf("env should win over the file: %v %s", err, out)
	}
	out, err = run([]string{"CERTBOUND_SCOPE=from-env"}, "client", "create", "c3", "--config", cfg, "--scope", "from-flag", "--json")
	if err != nil || !strings.Contains(out, `"scope": "from-flag"`) {
		t.Fatalf("flag should win: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("sevrer: x\n"), 0o600)
	if out, err := run(nil, "client", "list", "--config", bad); err == nil || !strings.Contains(out, "sevrer") {
		t.Fatalf("a misspelt key passed: %v %s", err, out)
	}
}

func TestServeHelpDocumentsEveryFlagWithItsDefault(t *testing.T) {
	out, err := exec.Command(binary, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`--data-dir string`, `(default "./certbound-data")`, `(default "127.0.0.1:8443")`,
		`https://<first --dns name>:<--listen port>`, `(default "certbound.local")`, `--rate-limit-enroll`, `--config`,
		`--database string`, `--database-pool-size int32`, `(default 10)`, `--migrate`, `(default true)`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

func TestAuditListAndCertificateExport(t *testing.T) {
	s := servertest.Start(t)
	cli(t, s, false, "client", "create", "svc", "--scope", "a", "--audience", "aud")
	token := strings.TrimSpace(cli(t, s, false, "enroll-token", "create", "--client", "svc"))
	dir := filepath.Join(t.TempDir(), "id")
	cli(t, nil, false, "enroll", "--server", s.URL, "--fingerprint", s.Fingerprint, "--token", token, "--out", dir)

	deadline := time.Now().Add(10 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out = cli(t, s, false, "audit", "list", "--client", "svc", "--since", "1h")
		if strings.Contains(out, "certificate.issued") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"client.created", "enrollment_token.minted", "certificate.issued"} {
		if !strings.Contains(out, want) {
			t.Fatalf("audit list lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Fatal("the enrollment token is in the audit trail")
	}
	csvOut := cli(t, s, false, "cert", "list", "--state", "active", "--expiring-within", "48h", "-o", "csv")
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "serial,client_id,status") || !strings.Contains(lines[1], ",svc,active,") {
		t.Fatalf("csv export:\n%s", csvOut)
	}
	if got := cli(t, s, false, "cert", "list", "--state", "revoked", "--json"); strings.TrimSpace(got) != "[]" {
		t.Fatalf("revoked filter: %s", got)
	}
	if got := cli(t, s, false, "cert", "list", "--expiring-within", "1h", "--json"); strings.TrimSpace(got) != "[]" {
		t.Fatalf("expiry window filter: %s", got)
	}
}

func TestMistypedSubcommandExitsNonZeroWithASuggestion(t *testing.T) {
	msg := cli(t, nil, true, "client", "lsit", "--server", "https://localhost:8443", "--json")
	if !strings.Contains(msg, `unknown command "lsit" for "certbound client"`) || !strings.Contains(msg, "list") {
		t.Fatalf("stderr: %s", msg)
	}
}

func TestVersionJSON(t *testing.T) {
	var v struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	out := cli(t, nil, false, "version", "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestRestoreErrorsSayRestore(t *testing.T) {
	dir := t.TempDir()
	notABackup := filepath.Join(dir, "x.tgz")
	if err := os.WriteFile(notABackup, []byte("not a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"not a backup": notABackup, "missing file": filepath.Join(dir, "missing.tgz")} {
		msg := cli(t, nil, true, "restore", file, "--data-dir", filepath.Join(dir, "restored"))
		if !strings.HasPrefix(msg, "certbound: restore: ") {
			t.Errorf("%s: %q", name, msg)
		}
	}
}
