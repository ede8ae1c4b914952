package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedDir holds the seed guide's JavaScript and its driver.
const seedDir = "../../../../test/seed"

// TestSeedJavaScript runs the seed guide's own snippets (Steps 2, 5 and 6,
// test/seed) with Node against a real certbound: client creation with the
// api-key header, the JSON token request (3600 s, no token for a wrong
// secret) and validateClientCredentialsToken with jose. It needs node and
// test/seed/node_modules (`make seed-js` installs them with npm ci); without
// them it is skipped, so `make test` never needs the npm registry.
func TestSeedJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH; install Node.js 18+ and run `make seed-js` to run the seed's JavaScript")
	}
	if _, err := os.Stat(filepath.Join(seedDir, "node_modules", "jose", "package.json")); err != nil {
		t.Skip("test/seed/node_modules is missing; run `make seed-js` (npm ci in test/seed) to run the seed's JavaScript")
	}
	srv := startServer(t, binaries(t))
	key, err := os.ReadFile(filepath.Join(srv.DataDir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "driver.mjs")
	cmd.Dir = seedDir
	cmd.Env = append(os.Environ(),
		"CERTBOUND_URL="+srv.URL,
		"CERTBOUND_API_KEY="+strings.TrimSpace(string(key)),
		"NODE_EXTRA_CA_CERTS="+srv.RootFile, // Node trusts certbound's root, and only for this run
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node driver.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the seed's JavaScript failed against certbound: %v", err)
	}
	if !strings.Contains(string(out), " 0 failed") {
		t.Fatal("the driver did not report 0 failed")
	}
}
