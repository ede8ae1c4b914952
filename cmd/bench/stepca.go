package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/cmd/bench/internal/fixture"
	"github.com/certbound/certbound/cmd/bench/internal/load"
	"github.com/certbound/certbound/cmd/bench/internal/proc"
)

// stepCA is step-ca (smallstep) running as a child process for `make
// bench-compare`: a root and intermediate made by ca.Bootstrap (P-256, as
// certbound's), one JWK provisioner, the default badger database, and the
// same loopback loads as certbound's enrollment and renewal:
//   - enrollment: POST /1.0/sign {csr, ott} with a one-time token (JWT signed
//     by the provisioner key, minted before the window), keep-alive HTTPS;
//   - renewal: POST /1.0/renew over keep-alive mTLS. step-ca renews the same
//     certificate again and again, with the same key and no CSR, so each
//     worker keeps one connection: what the peer figure measured.
type stepCA struct {
	proc.Process
	addr    string
	version string
	leafDER []byte // the server certificate, pinned
	provKey *ecdsa.PrivateKey
	kid     string
	cmd     *exec.Cmd
	done    chan error
	ids     []tls.Certificate // enrolled identities for renewal
}

const (
	stepProvisioner = "bench"
	stepSubject     = "bench-enroll.local"
)

// badger is step-ca's default database, in dir.
func badger(dir string) map[string]string {
	return map[string]string{"type": "badgerv2", "dataSource": filepath.Join(dir, "db")}
}

// stepPostgres is step-ca's PostgreSQL database (smallstep/nosql's
// "postgresql" type, database/sql over pgx): the database named, on the
// server of dbURL.
func stepPostgres(dbURL, name string) map[string]string {
	return map[string]string{"type": "postgresql", "dataSource": dbURL, "database": name}
}

func startStepCA(ctx context.Context, bin, dir string, db map[string]string) (*stepCA, error) {
	caDir := filepath.Join(dir, "ca")
	if err := ca.Bootstrap(caDir, ca.BootstrapOptions{Name: "step-bench"}); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pt, _ := key.PublicKey.Bytes() // 0x04 || X || Y
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pt[1:33]), b64(pt[33:65])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`)) // RFC 7638
	kid := b64(sum[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := map[string]any{
		"root":     filepath.Join(caDir, ca.RootCertFile),
		"crt":      filepath.Join(caDir, ca.IntermediateCertFile),
		"key":      filepath.Join(caDir, ca.IntermediateKeyFile),
		"address":  addr,
		"dnsNames": []string{"127.0.0.1", "localhost"},
		"logger":   map[string]string{"format": "text"},
		"db":       db,
		"authority": map[string]any{
			"provisioners": []any{map[string]any{
				"type": "JWK", "name": stepProvisioner,
				"key": map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"},
			}},
			"claims": map[string]string{"minTLSCertDuration": "5m", "maxTLSCertDuration": "24h", "defaultTLSCertDuration": "24h"},
		},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgPath := filepath.Join(dir, "ca.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "step-ca.log"))
	if err != nil {
		return nil, err
	}
	s := &stepCA{addr: addr, provKey: key, kid: kid, done: make(chan error, 1)}
	s.version = "step-ca"
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		s.version = "step-ca " + bi.Main.Version + ", " + bi.GoVersion
	}
	s.cmd = exec.Command(bin, cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s.Process = proc.Process{Pid: s.cmd.Process.Pid}
	go func() { s.done <- s.cmd.Wait(); logf.Close() }()
	roots := x509.NewCertPool()
	rootPEM, err := os.ReadFile(filepath.Join(caDir, ca.RootCertFile))
	if err != nil || !roots.AppendCertsFromPEM(rootPEM) {
		s.stop()
		return nil, errors.Join(errors.New("step-ca: read the root"), err)
	}
	for end := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("step-ca exited: %v (log: %s)", err, logf.Name())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		default:
		}
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err == nil {
			s.leafDER = c.ConnectionState().PeerCertificates[0].Raw
			c.Close()
			break
		}
		if time.Now().After(end) {
			s.stop()
			return nil, fmt.Errorf("step-ca did not listen within a minute: %v", err)
		}
	}
	return s, nil
}

func (s *stepCA) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// pinned is the client TLS config that accepts exactly step-ca's certificate.
func (s *stepCA) pinned(cert *tls.Certificate) *tls.Config {
	want := s.leafDER
	cfg := &tls.Config{ServerName: "127.0.0.1", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("bench: step-ca's certificate is not the pinned one")
			}
			return nil
		}}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// ott mints a one-time token for /1.0/sign.
func (s *stepCA) ott() (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": stepProvisioner, "sub": stepSubject, "aud": "https://127.0.0.1/1.0/sign", "sans": []string{stepSubject},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprintf("%x", jti),
	})
	t.Header["kid"] = s.kid
	return t.SignedString(s.provKey)
}

// stepKeys are keys and CSRs whose names the JWK provisioner accepts (the
// token's sans must be the CSR's SANs).
func stepKeys(n int) ([]fixture.Key, error) {
	out := make([]fixture.Key, n)
	for i := range out {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: stepSubject}, DNSNames: []string{stepSubject}}, k)
		if err != nil {
			return nil, err
		}
		out[i] = fixture.Key{Private: k, CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}
	}
	return out, nil
}

type stepIssued struct {
	CertChain []string `json:"certChain"`
}

func (si stepIssued) certificate(k fixture.Key) (tls.Certificate, error) {
	return k.Certificate([]byte(strings.Join(si.CertChain, "")))
}

// enroll is the enrollment load against step-ca.
func (s *stepCA) enroll(n, c int) (load.Result, error) {
	warm := 2 * c
	keys, err := stepKeys(min(n+warm, 256))
	if err != nil {
		return load.Result{}, err
	}
	reqs := make([][]byte, n+warm)
	for i := range reqs {
		ott, err := s.ott()
		if err != nil {
			return load.Result{}, err
		}
		body, _ := json.Marshal(map[string]string{"csr": string(keys[i%len(keys)].CSR), "ott": ott})
		reqs[i] = load.Request("POST", s.addr, "/1.0/sign", jsonType, body)
	}
	return runQueued(s, c, warm, n, reqs, "one-time tokens", func(int) (*load.Conn, error) {
		return load.Dial(s.addr, s.pinned(nil))
	})
}

// identities enrolls n certificates through /1.0/sign.
func (s *stepCA) identities(n int) error {
	keys, err := stepKeys(n)
	if err != nil {
		return err
	}
	cn, err := load.Dial(s.addr, s.pinned(nil))
	if err != nil {
		return err
	}
	defer cn.Close()
	for _, k := range keys {
		ott, err := s.ott()
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"csr": string(k.CSR), "ott": ott})
		st, resp, err := cn.Do(load.Request("POST", s.addr, "/1.0/sign", jsonType, body))
		if err != nil {
			return err
		}
		if err := expect(st, http.StatusCreated, resp); err != nil {
			return err
		}
		var si stepIssued
		if err := json.Unmarshal(resp, &si); err != nil {
			return err
		}
		cert, err := si.certificate(k)
		if err != nil {
			return err
		}
		s.ids = append(s.ids, cert)
	}
	return nil
}

// renew is the renewal load against step-ca: POST /1.0/renew on one
// keep-alive mTLS connection per worker, for the window's duration.
func (s *stepCA) renew(c int, d, warmup time.Duration) (load.Result, error) {
	if len(s.ids) < c {
		if err := s.identities(c - len(s.ids)); err != nil {
			return load.Result{}, err
		}
	}
	ops := make([]load.Op, c)
	var conns []*load.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	req := load.Request("POST", s.addr, "/1.0/renew", "", nil)
	for w := range c {
		cn, err := load.Dial(s.addr, s.pinned(&s.ids[w]))
		if err != nil {
			return load.Result{}, err
		}
		conns = append(conns, cn)
		ops[w] = func() error {
			st, body, err := cn.Do(req)
			if err != nil {
				return err
			}
			return expect(st, http.StatusCreated, body)
		}
	}
	if _, err := load.Run(nil, load.Plan{Concurrency: c, Duration: warmup}, ops); err != nil {
		return load.Result{}, err
	}
	return load.Run(s, load.Plan{Concurrency: c, Duration: d}, ops)
}

// rekey is POST /1.0/rekey on one keep-alive mTLS connection per worker:
// a new key from a CSR made before the window, as certbound's renewal
// requires, for n operations.
func (s *stepCA) rekey(n, c int) (load.Result, error) {
	if len(s.ids) < c {
		if err := s.identities(c - len(s.ids)); err != nil {
			return load.Result{}, err
		}
	}
	warm := 2 * c
	keys, err := stepKeys(n + warm)
	if err != nil {
		return load.Result{}, err
	}
	reqs := make([][]byte, len(keys))
	for i, k := range keys {
		reqs[i] = load.Request("POST", s.addr, "/1.0/rekey", jsonType, k.JSONCSR())
	}
	return runQueued(s, c, warm, n, reqs, "CSRs", func(w int) (*load.Conn, error) {
		return load.Dial(s.addr, s.pinned(&s.ids[w]))
	})
}

// compareStepCA runs certbound's enrollment and keep-alive renewal loads and
// step-ca's, alternating, best of scaleRounds rounds each.
func (b *bench) compareStepCA(ctx context.Context, cb *env) error {
	dir := filepath.Join(b.cfg.work, "step-ca")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s, err := startStepCA(ctx, b.cfg.stepCA, dir, badger(dir))
	if err != nil {
		return err
	}
	defer s.stop()
	b.rep.StepCA = s.version
	log.Printf("step-ca: %s (pid %d) listening on %s", s.version, s.Pid, s.addr)
	type side struct {
		section string
		run     func(c int) (load.Result, error)
	}
	for _, p := range []struct {
		path  string
		sides []side
	}{
		{pathEnroll, []side{
			{smallDB, func(c int) (load.Result, error) { return b.enroll(ctx, cb, c) }},
			{stepCASection, func(c int) (load.Result, error) { return s.enroll(b.cfg.enrollN[c], c) }}}},
		{pathRenew, []side{
			{smallDB, func(c int) (load.Result, error) { return b.renew(false)(ctx, cb, c) }},
			{stepCASection, func(c int) (load.Result, error) { return s.renew(c, b.cfg.window, b.cfg.warmup) }},
			{stepCARekey, func(c int) (load.Result, error) { return s.rekey(b.cfg.enrollN[c]*2/3, c) }}}},
	} {
		for _, c := range b.cfg.conc {
			best := map[string]row{}
			for round := range scaleRounds {
				for _, sd := range p.sides {
					if err := ctx.Err(); err != nil {
						return err
					}
					log.Printf("%s: %s, C=%d (round %d)", sd.section, p.path, c, round+1)
					res, err := sd.run(c)
					if err != nil {
						return fmt.Errorf("%s %s C=%d: %w", sd.section, p.path, c, err)
					}
					var fl time.Duration // step-ca's paths have no floor of certbound's
					if sd.section == smallDB {
						fl = b.floors.Sum(floorOf(p.path)...)
					}
					x := newRow(sd.section, p.path, c, res, fl)
					if prev, ok := best[sd.section]; ok {
						x = bestOf(prev, x)
					}
					best[sd.section] = x
				}
			}
			mine := best[smallDB]
			mine.Section = pairedStepCADB
			b.rep.Rows = append(b.rep.Rows, mine, best[stepCASection])
			if x, ok := best[stepCARekey]; ok {
				b.rep.Rows = append(b.rep.Rows, x)
			}
		}
	}
	return nil
}

const (
	stepCASection  = "step-ca"
	stepCARekey    = "step-ca /1.0/rekey"
	pairedStepCADB = "certbound, paired with step-ca"
)
