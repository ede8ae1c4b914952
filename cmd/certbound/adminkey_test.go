package main_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// cliWithKey runs certbound against s with the admin key in
// CERTBOUND_ADMIN_KEY and returns stdout and stderr.
func cliWithKey(t *testing.T, s *servertest.Server, key string, wantErr bool, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--server", s.URL, "--data-dir", s.DataDir)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "CERTBOUND_ADMIN_KEY="+key)
	err := cmd.Run()
	if (err != nil) != wantErr {
		t.Fatalf("certbound %s: err=%v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestAdminKeyCommands(t *testing.T) {
	s := servertest.Start(t)

	// create: the key alone on stdout, the line about it on stderr.
	stdout, stderr := cliWithKey(t, s, "", false, "admin-key", "create", "ci", "--ttl", "90d")
	ciKey := strings.TrimSpace(stdout)
	if !strings.HasPrefix(ciKey, "cba_") || strings.Contains(ciKey, "\n") {
		t.Fatalf("create stdout: %q", stdout)
	}
	if !strings.Contains(stderr, "admin key ci, valid until ") || !strings.Contains(stderr, "shown once") || strings.Contains(stderr, ciKey) {
		t.Fatalf("create stderr: %q", stderr)
	}
	var created struct {
		Name      string     `json:"name"`
		Key       string     `json:"key"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	out := cli(t, s, false, "admin-key", "create", "laptop", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Name != "laptop" || !strings.HasPrefix(created.Key, "cba_") || created.ExpiresAt != nil {
		t.Fatalf("create --json: %v %s", err, out)
	}

	// The new key drives the CLI (CERTBOUND_ADMIN_KEY) and the audit trail names it.
	cliWithKey(t, s, ciKey, false, "client", "create", "by-ci", "--scope", "a", "--audience", "b")

	// list: names, dates, states; never a key.
	list := cli(t, s, false, "admin-key", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "LAST USED") || !strings.Contains(lines[0], "EXPIRES") {
		t.Fatalf("list:\n%s", list)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch f[0] {
		case "bootstrap":
			if f[3] != "never" || f[4] != "active" {
				t.Fatalf("bootstrap row: %q", l)
			}
		case "ci":
			if f[2] == "-" || f[3] == "never" || f[4] != "active" {
				t.Fatalf("ci row (used, expiring): %q", l)
			}
		case "laptop":
			if f[2] != "-" || f[3] != "never" {
				t.Fatalf("laptop row (never used): %q", l)
			}
		default:
			t.Fatalf("unexpected row %q", l)
		}
	}
	listJSON := cli(t, s, false, "admin-key", "list", "--json")
	var listed []map[string]any
	if err := json.Unmarshal([]byte(listJSON), &listed); err != nil || len(listed) != 3 {
		t.Fatalf("list --json: %v %s", err, listJSON)
	}
	for _, out := range []string{list, listJSON} {
		for _, key := range []string{s.AdminKey, ciKey, created.Key} {
			if strings.Contains(out, key) || strings.Contains(out, strings.TrimPrefix(key, "cba_")) ||
				strings.Contains(out, hex.EncodeToString(secret.FromString(key).Hash())) {
				t.Fatalf("key material in the list:\n%s", out)
			}
		}
	}
	for _, k := range listed {
		for field := range k {
			if field == "key" || field == "hash" {
				t.Fatalf("list --json has a %q field: %v", field, k)
			}
		}
	}

	// revoke: the key is refused by the next command; the last valid key is not revocable.
	if got := cli(t, s, false, "admin-key", "revoke", "ci"); strings.TrimSpace(got) != "revoked admin key ci" {
		t.Fatalf("revoke: %q", got)
	}
	if _, msg := cliWithKey(t, s, ciKey, true, "client", "list"); !strings.Contains(msg, "401") {
		t.Fatalf("revoked key: %s", msg)
	}
	if msg := cli(t, s, true, "admin-key", "revoke", "nope"); !strings.Contains(msg, "404") || !strings.Contains(msg, "admin key not found") {
		t.Fatalf("revoke unknown: %s", msg)
	}
	if msg := cli(t, s, true, "admin-key", "create", "laptop"); !strings.Contains(msg, "409") {
		t.Fatalf("duplicate: %s", msg)
	}
	if msg := cli(t, s, true, "admin-key", "create", "x", "--ttl", "soon"); !strings.Contains(msg, "400") || !strings.Contains(msg, "ttl") {
		t.Fatalf("bad ttl: %s", msg)
	}
	var revoked map[string]any
	if err := json.Unmarshal([]byte(cli(t, s, false, "admin-key", "revoke", "laptop", "--json")), &revoked); err != nil || revoked["name"] != "laptop" || revoked["revoked"] != true {
		t.Fatalf("revoke --json: %v %v", err, revoked)
	}
	if msg := cli(t, s, true, "admin-key", "revoke", "bootstrap"); !strings.Contains(msg, "409") || !strings.Contains(msg, "last valid admin key") {
		t.Fatalf("revoke the last valid key: %s", msg)
	}
	if got := cli(t, s, false, "admin-key", "list"); !strings.Contains(got, "revoked") {
		t.Fatalf("list after revocations:\n%s", got)
	}

	// audit list shows which key acted, in the table and in JSON.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = cli(t, s, false, "audit", "list", "--json")
		if strings.Contains(out, "admin_key.revoked") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var events []struct {
		Type      string `json:"type"`
		ClientID  string `json:"client_id"`
		AdminKey  string `json:"admin_key"`
		TargetKey string `json:"target_key"`
	}
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatal(err)
	}
	var byCI, createdCI, revokedCI bool
	for _, e := range events {
		byCI = byCI || e.Type == "client.created" && e.ClientID == "by-ci" && e.AdminKey == "ci"
		createdCI = createdCI || e.Type == "admin_key.created" && e.TargetKey == "ci" && e.AdminKey == "bootstrap"
		revokedCI = revokedCI || e.Type == "admin_key.revoked" && e.TargetKey == "ci" && e.AdminKey == "bootstrap"
	}
	if !byCI || !createdCI || !revokedCI {
		t.Fatalf("audit JSON: client by ci %v, ci created %v, ci revoked %v\n%s", byCI, createdCI, revokedCI, out)
	}
	table := cli(t, s, false, "audit", "list", "--client", "by-ci")
	if !strings.Contains(table, "ADMIN KEY") || !strings.Contains(table, "client.created") {
		t.Fatalf("audit table:\n%s", table)
	}
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, "client.created") && !strings.HasSuffix(strings.TrimSpace(l), " ci") {
			t.Fatalf("audit table row does not name ci: %q", l)
		}
	}
}
