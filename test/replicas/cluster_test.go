package replicas

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// issuer is the issuer every replica is given: behind a load balancer they
// all answer for one name, so a token from one verifies as coming from any.
const issuer = "https://certbound.test"

// cluster is N replicas on one database, sharing nothing else but the CA
// password file.
type cluster struct {
	t        testing.TB
	database string // the --database URL
	password string // the --password-file path
	replicas []*replica

	// Learnt from the running replicas by learnTrust.
	rootPEM     []byte
	roots       *x509.CertPool
	fingerprint string // hex SHA-256 of the root DER
	adminKey    string
}

// newCluster prepares n replicas on database (nothing runs yet). extra flags
// go to every replica.
func newCluster(t testing.TB, database string, n int, extra ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, database: database, password: filepath.Join(dir, "ca-password")}
	if err := os.WriteFile(c.password, []byte("correct horse battery staple, replicated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := string(rune('A' + i))
		addr := freeAddr(t)
		r := &replica{name: name, dataDir: filepath.Join(dir, "replica-"+name), addr: addr, url: "https://" + addr}
		r.args = append([]string{
			"--data-dir", r.dataDir,
			"--database", database,
			// Three or four clusters of three replicas may run at once on the
			// machine's PostgreSQL next to other packages' tests:
			// 3 × (4 + 1 listener) connections each.
			"--database-pool-size", "4",
			"--password-file", c.password,
			"--listen", addr,
			"--dns", "localhost", "--dns", "127.0.0.1",
			"--issuer", issuer,
			// The tests drive hundreds of requests from one source address;
			// rate limits are per replica and tested elsewhere.
			"--rate-limit-enroll", "0", "--rate-limit-token", "0", "--rate-limit-auth-failures", "0",
			"--log-format", "text",
		}, extra...)
		c.replicas = append(c.replicas, r)
	}
	t.Cleanup(c.stopAll)
	return c
}

// startCluster starts n replicas on database at the same moment, waits until
// every one is ready and learns the root and the admin key.
func startCluster(t testing.TB, database string, n int, extra ...string) *cluster {
	t.Helper()
	c := newCluster(t, database, n, extra...)
	c.startAll()
	c.learnTrust()
	return c
}

// startAll execs every replica at once (released together, so that they
// race for the empty database as replicas started by one deploy do) and
// waits for all of them to be ready.
func (c *cluster) startAll() {
	c.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.replicas))
	release := make(chan struct{})
	for i, r := range c.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			if errs[i] = r.start(); errs[i] == nil {
				errs[i] = r.waitReady(context.Background(), startTimeout)
			}
		}()
	}
	close(release)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatal(err)
	}
}

// restart starts a stopped or killed replica again and waits until it is
// ready.
func (c *cluster) restart(r *replica) {
	c.t.Helper()
	if err := r.start(); err != nil {
		c.t.Fatal(err)
	}
	if err := r.waitReady(context.Background(), startTimeout); err != nil {
		c.t.Fatal(err)
	}
}

// stopAll stops every replica (SIGTERM, then SIGKILL) and, when the test
// failed, copies their logs into the test log.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, r := range c.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.stop(); err != nil {
				c.t.Errorf("%v", err)
			}
		}()
	}
	wg.Wait()
	if c.t.Failed() || testing.Verbose() && os.Getenv("CERTBOUND_TEST_REPLICA_LOGS") != "" {
		for _, r := range c.replicas {
			c.t.Logf("log of replica %s (%s):\n%s", r.name, r.url, tail(r.log.String(), 200))
		}
	}
}

// learnTrust fetches the root from the first replica (trusting nothing),
// then requires every replica to prove over TLS that its server certificate
// chains to that root, and finds the bootstrap admin key in whichever data
// dir it was written to.
func (c *cluster) learnTrust() {
	c.t.Helper()
	pemBytes, err := fetchRootsUnverified(c.replicas[0].url)
	if err != nil {
		c.t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		c.t.Fatalf("GET /v1/roots on %s: no PEM", c.replicas[0].name)
	}
	sum := sha256.Sum256(block.Bytes)
	c.rootPEM, c.fingerprint = pemBytes, hex.EncodeToString(sum[:])
	c.roots = x509.NewCertPool()
	c.roots.AppendCertsFromPEM(pemBytes)
	for _, r := range c.replicas {
		conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: c.roots, ServerName: "127.0.0.1"})
		if err != nil {
			c.t.Fatalf("replica %s's server certificate does not chain to %s's root: %v", r.name, c.replicas[0].name, err)
		}
		conn.Close()
	}
	keys := c.adminKeyFiles()
	if len(keys) == 0 {
		c.t.Fatal("no replica wrote admin.key into its data dir")
	}
	for _, k := range keys {
		c.adminKey = k
	}
}

// adminKeyFiles maps each replica that has an admin.key in its data dir to
// the key.
func (c *cluster) adminKeyFiles() map[string]string {
	out := map[string]string{}
	for _, r := range c.replicas {
		b, err := os.ReadFile(filepath.Join(r.dataDir, "admin.key"))
		if err == nil {
			out[r.name] = strings.TrimSpace(string(b))
		}
	}
	return out
}

// fetchRootsUnverified is GET /v1/roots over a connection that verifies
// nothing: the trust-on-first-use step. Callers compare what it returns.
func fetchRootsUnverified(base string) ([]byte, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/v1/roots")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/v1/roots: %s", base, resp.Status)
	}
	return b, nil
}

// rootFingerprint is the hex SHA-256 of the first certificate in pemBytes.
func rootFingerprint(pemBytes []byte) string {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}
