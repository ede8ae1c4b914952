package enrollclient_test

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// enrollFixture enrolls svc-a against a fresh wire server and returns both.
func enrollFixture(t *testing.T, ws *wireServer) *enrollclient.Identity {
	t.Helper()
	ws.addToken("tok-"+t.Name(), "svc-a", "localhost")
	id, err := enrollclient.Enroll(t.Context(), enrollclient.Options{
		Server:      ws.URL,
		Fingerprint: ws.ca.fingerprint(),
		Token:       secret.FromString("tok-" + t.Name()),
		Dir:         filepath.Join(t.TempDir(), "id"),
		DNSNames:    []string{"localhost"},
	})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return id
}

func TestRenew(t *testing.T) {
	t.Parallel()
	ws := newWireServer(t, newTestCA(t))
	old := enrollFixture(t, ws)
	oldKey := readFile(t, filepath.Join(old.Dir, "key.pem"))

	id, err := enrollclient.Renew(t.Context(), old.Dir, ws.URL)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if id.Serial == old.Serial {
		t.Errorf("renewed serial %s equals the old one", id.Serial)
	}
	if id.Leaf().PublicKey.(*ecdsa.PublicKey).Equal(old.Leaf().PublicKey) {
		t.Errorf("renewal kept the old key; it must re-key")
	}
	if id.ID != old.ID {
		t.Errorf("ID = %s, want %s", id.ID, old.ID)
	}
	if bytes.Equal(readFile(t, filepath.Join(old.Dir, "key.pem")), oldKey) {
		t.Errorf("key.pem was not rewritten")
	}
	assertWritten(t, old.Dir, ws.ca, id)
	if n := len(ws.times("/v1/renew")); n != 1 {
		t.Errorf("server saw %d renewals, want 1", n)
	}
}

func TestRenewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, ws *wireServer) (dir string)
		wantErr error
		status  int // expected ServerError status, if wantErr is nil
	}{
		{
			name: "reject/expired-certificate",
			setup: func(t *testing.T, ws *wireServer) string {
				dir := t.TempDir()
				ws.ca.writeIdentity(t, dir, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
				return dir
			},
			wantErr: enrollclient.ErrExpired,
		},
		{
			name: "reject/revoked",
			setup: func(t *testing.T, ws *wireServer) string {
				ws.failNext("/v1/renew", wireFailure{status: http.StatusUnauthorized, code: "unauthorized", desc: "certificate revoked"})
				return enrollFixture(t, ws).Dir
			},
			status: http.StatusUnauthorized,
		},
		{
			name: "reject/certificate-from-another-ca",
			setup: func(t *testing.T, ws *wireServer) string {
				dir := t.TempDir()
				newTestCA(t).writeIdentity(t, dir, time.Now(), time.Now().Add(time.Hour))
				return dir
			},
			status: http.StatusUnauthorized, // our ca.pem is foreign too, so the TLS handshake fails first
		},
		{
			name: "reject/no-identity",
			setup: func(t *testing.T, _ *wireServer) string {
				return t.TempDir()
			},
			wantErr: fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := newWireServer(t, newTestCA(t))
			dir := tt.setup(t, ws)
			before, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
			_, err := enrollclient.Renew(t.Context(), dir, ws.URL)
			if err == nil {
				t.Fatal("Renew succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Renew error = %v, want %v", err, tt.wantErr)
			}
			if tt.status != 0 {
				var se *enrollclient.ServerError
				if errors.As(err, &se) {
					if se.Status != tt.status {
						t.Fatalf("ServerError.Status = %d, want %d", se.Status, tt.status)
					}
				} else if !errors.Is(err, enrollclient.ErrUntrustedChain) && !isTLSVerifyError(err) {
					t.Fatalf("Renew error = %v, want a refusal", err)
				}
			}
			after, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
			if !bytes.Equal(before, after) {
				t.Errorf("cert.pem changed after a failed renewal")
			}
		})
	}
}

// TestLoad covers the states a crash can leave between the steps of a
// renewal (see the package doc) and the checks Load makes.
func TestLoad(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	now := time.Now()
	// renewed writes a second identity and returns its key and cert PEM,
	// leaving the first identity's files in place.
	renewed := func(t *testing.T) (keyPEM, certPEM []byte) {
		other := t.TempDir()
		ca.writeIdentity(t, other, now, now.Add(time.Hour))
		return readFile(t, filepath.Join(other, "key.pem")), readFile(t, filepath.Join(other, "cert.pem"))
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) (wantCert []byte)
		wantErr error
		files   []string // directory listing after Load
	}{
		{
			name: "accept/plain",
			setup: func(t *testing.T, dir string) []byte {
				return readFile(t, filepath.Join(dir, "cert.pem"))
			},
			files: []string{"ca.pem", "cert.pem", "key.pem"},
		},
		{
			name: "accept/crash-after-new-key-before-cert",
			setup: func(t *testing.T, dir string) []byte {
				k, _ := renewed(t)
				writeFile(t, filepath.Join(dir, "key.pem.next"), k, 0o600)
				return readFile(t, filepath.Join(dir, "cert.pem")) // old pair still matches
			},
			files: []string{"ca.pem", "cert.pem", "key.pem", "key.pem.next"},
		},
		{
			name: "accept/crash-after-cert-before-key-promotion",
			setup: func(t *testing.T, dir string) []byte {
				k, c := renewed(t)
				writeFile(t, filepath.Join(dir, "key.pem.next"), k, 0o600)
				writeFile(t, filepath.Join(dir, "cert.pem"), c, 0o644)
				return c
			},
			files: []string{"ca.pem", "cert.pem", "key.pem"}, // key.pem.next promoted
		},
		{
			name: "reject/key-does-not-match",
			setup: func(t *testing.T, dir string) []byte {
				_, c := renewed(t)
				writeFile(t, filepath.Join(dir, "cert.pem"), c, 0o644)
				return nil
			},
			wantErr: enrollclient.ErrKeyMismatch,
		},
		{
			name: "reject/next-key-does-not-match-either",
			setup: func(t *testing.T, dir string) []byte {
				_, c := renewed(t)
				k, _ := renewed(t)
				writeFile(t, filepath.Join(dir, "cert.pem"), c, 0o644)
				writeFile(t, filepath.Join(dir, "key.pem.next"), k, 0o600)
				return nil
			},
			wantErr: enrollclient.ErrKeyMismatch,
		},
		{
			name: "reject/key-readable-by-group",
			setup: func(t *testing.T, dir string) []byte {
				if err := os.Chmod(filepath.Join(dir, "key.pem"), 0o640); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			wantErr: enrollclient.ErrInsecureKeyFile,
		},
		{
			name: "reject/key-not-pem",
			setup: func(t *testing.T, dir string) []byte {
				writeFile(t, filepath.Join(dir, "key.pem"), []byte("not a key"), 0o600)
				return nil
			},
			wantErr: enrollclient.ErrMalformedKey,
		},
		{
			name: "reject/ca-of-another-authority",
			setup: func(t *testing.T, dir string) []byte {
				writeFile(t, filepath.Join(dir, "ca.pem"), certs.EncodeCertificates(newTestCA(t).root), 0o644)
				return nil
			},
			wantErr: enrollclient.ErrUntrustedChain,
		},
		{
			name: "reject/missing-cert",
			setup: func(t *testing.T, dir string) []byte {
				if err := os.Remove(filepath.Join(dir, "cert.pem")); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			wantErr: fs.ErrNotExist,
		},
		{
			name: "reject/cert-pem-garbage",
			setup: func(t *testing.T, dir string) []byte {
				writeFile(t, filepath.Join(dir, "cert.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
				return nil
			},
			wantErr: certs.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ca.writeIdentity(t, dir, now, now.Add(time.Hour))
			wantCert := tt.setup(t, dir)
			id, err := enrollclient.Load(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			chain, _ := certs.ParseCertificates(wantCert)
			if !id.Leaf().Equal(chain[0]) {
				t.Errorf("Load returned serial %s, want %s", id.Serial, certs.SerialString(chain[0].SerialNumber))
			}
			assertOnlyFiles(t, dir, tt.files...)
			assertMode(t, filepath.Join(dir, "key.pem"), 0o600)
			// The pair on disk must now match without any recovery.
			again, err := enrollclient.Load(dir)
			if err != nil || again.Serial != id.Serial {
				t.Fatalf("second Load = %v, %v; want serial %s", again, err, id.Serial)
			}
		})
	}
}
