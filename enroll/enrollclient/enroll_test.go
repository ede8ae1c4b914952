package enrollclient_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
)

func TestEnroll(t *testing.T) {
	t.Parallel()
	const tok = "cbe_test-token-never-to-be-sent"
	tests := []struct {
		name    string
		setup   func(t *testing.T, ws *wireServer, o *enrollclient.Options)
		wantErr error                     // errors.Is target, or nil
		wantSrv *enrollclient.ServerError // expected *ServerError (Status, Code, RetryAfter), or nil
		sent    bool                      // whether the token must have reached the server
		check   func(*testing.T, *enrollclient.Identity)
	}{
		{name: "accept/writes-identity", sent: true},
		{
			name: "accept/fingerprint-upper-case-with-colons", sent: true,
			setup: func(_ *testing.T, _ *wireServer, o *enrollclient.Options) {
				o.Fingerprint = colonize(strings.ToUpper(o.Fingerprint))
			},
		},
		{
			name: "accept/allowed-dns-names", sent: true,
			setup: func(_ *testing.T, ws *wireServer, o *enrollclient.Options) {
				ws.addToken(tok, "svc-a", "svc-a.internal", "localhost")
				o.DNSNames = []string{"svc-a.internal"}
			},
			check: func(t *testing.T, id *enrollclient.Identity) {
				if got := id.Leaf().DNSNames; !slices.Equal(got, []string{"svc-a.internal"}) {
					t.Errorf("DNSNames = %v, want [svc-a.internal]", got)
				}
			},
		},
		{
			name: "accept/overwrite-existing", sent: true,
			setup: func(t *testing.T, ws *wireServer, o *enrollclient.Options) {
				ws.ca.writeIdentity(t, o.Dir, time.Now(), time.Now().Add(time.Hour))
				o.Overwrite = true
			},
		},
		{
			name: "reject/wrong-fingerprint",
			setup: func(t *testing.T, _ *wireServer, o *enrollclient.Options) {
				o.Fingerprint = newTestCA(t).fingerprint()
			},
			wantErr: enrollclient.ErrFingerprintMismatch,
		},
		{
			name: "reject/server-serves-another-root",
			setup: func(t *testing.T, ws *wireServer, _ *enrollclient.Options) {
				ws.setRoots(newTestCA(t).root)
			},
			wantErr: enrollclient.ErrFingerprintMismatch,
		},
		{
			name: "reject/malformed-fingerprint",
			setup: func(_ *testing.T, _ *wireServer, o *enrollclient.Options) {
				o.Fingerprint = o.Fingerprint[:62]
			},
			wantErr: enrollclient.ErrInvalidFingerprint,
		},
		{
			name: "reject/plain-http-server",
			setup: func(_ *testing.T, _ *wireServer, o *enrollclient.Options) {
				o.Server = strings.Replace(o.Server, "https://", "http://", 1)
			},
			wantErr: enrollclient.ErrInvalidServerURL,
		},
		{
			name: "reject/existing-identity",
			setup: func(t *testing.T, ws *wireServer, o *enrollclient.Options) {
				ws.ca.writeIdentity(t, o.Dir, time.Now(), time.Now().Add(time.Hour))
			},
			wantErr: enrollclient.ErrExists,
		},
		{
			name: "reject/unknown-token", sent: true,
			setup: func(_ *testing.T, ws *wireServer, _ *enrollclient.Options) {
				ws.removeToken(tok)
			},
			wantSrv: &enrollclient.ServerError{Status: http.StatusUnauthorized, Code: "invalid_token"},
		},
		{
			name: "reject/dns-name-not-allowed", sent: true,
			setup: func(_ *testing.T, _ *wireServer, o *enrollclient.Options) {
				o.DNSNames = []string{"evil.example"}
			},
			wantSrv: &enrollclient.ServerError{Status: http.StatusForbidden, Code: "access_denied"},
		},
		{
			name: "reject/rate-limited", sent: false,
			setup: func(_ *testing.T, ws *wireServer, _ *enrollclient.Options) {
				ws.failNext("/v1/enroll", wireFailure{status: 429, code: "rate_limited", desc: "slow down", retryAfter: "7"})
			},
			wantSrv: &enrollclient.ServerError{Status: http.StatusTooManyRequests, Code: "rate_limited", RetryAfter: 7 * time.Second},
		},
		{
			name: "reject/server-error",
			setup: func(_ *testing.T, ws *wireServer, _ *enrollclient.Options) {
				ws.failNext("/v1/enroll", wireFailure{status: 500, code: "server_error", desc: "internal error"})
			},
			wantSrv: &enrollclient.ServerError{Status: http.StatusInternalServerError, Code: "server_error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ca := newTestCA(t)
			ws := newWireServer(t, ca)
			ws.addToken(tok, "svc-a")
			opts := enrollclient.Options{
				Server:      ws.URL,
				Fingerprint: ca.fingerprint(),
				Token:       secret.FromString(tok),
				Dir:         filepath.Join(t.TempDir(), "identity"),
			}
			if tt.setup != nil {
				tt.setup(t, ws, &opts)
			}
			id, err := enrollclient.Enroll(t.Context(), opts)

			if got := slices.Contains(ws.tokensSeen(), tok); got != tt.sent {
				t.Errorf("server received the token: %v, want %v", got, tt.sent)
			}
			switch {
			case tt.wantSrv != nil:
				var se *enrollclient.ServerError
				if !errors.As(err, &se) {
					t.Fatalf("Enroll error = %v, want a *ServerError", err)
				}
				if se.Status != tt.wantSrv.Status || se.Code != tt.wantSrv.Code || se.RetryAfter != tt.wantSrv.RetryAfter {
					t.Fatalf("ServerError = %+v, want %+v", se, tt.wantSrv)
				}
				assertNoIdentity(t, opts.Dir, tt.name)
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Enroll error = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tok) {
					t.Errorf("error message contains the token: %v", err)
				}
				assertNoIdentity(t, opts.Dir, tt.name)
				return
			case err != nil:
				t.Fatalf("Enroll: %v", err)
			}
			assertWritten(t, opts.Dir, ca, id)
			if tt.check != nil {
				tt.check(t, id)
			}
		})
	}
}

// TestEnrollImpostor: a server that hands out the genuine root bundle (it is
// public) but cannot prove it holds a certificate from that root must not
// receive the token.
func TestEnrollImpostor(t *testing.T) {
	t.Parallel()
	genuine := newTestCA(t)
	impostor := newWireServer(t, newTestCA(t))
	impostor.setRoots(genuine.root)
	impostor.addToken("tok", "svc-a")
	_, err := enrollclient.Enroll(t.Context(), enrollclient.Options{
		Server:      impostor.URL,
		Fingerprint: genuine.fingerprint(),
		Token:       secret.FromString("tok"),
		Dir:         t.TempDir(),
	})
	if !errors.Is(err, enrollclient.ErrUntrustedChain) {
		t.Fatalf("Enroll error = %v, want ErrUntrustedChain", err)
	}
	if n := len(impostor.times("/v1/enroll")); n != 0 {
		t.Fatalf("impostor received %d enrollment requests, want 0", n)
	}
}

// assertWritten checks the files Enroll wrote and that Load reads them back.
func assertWritten(t *testing.T, dir string, ca *testCA, id *enrollclient.Identity) {
	t.Helper()
	if got := id.ID.String(); got != "spiffe://certbound.local/svc-a" {
		t.Errorf("ID = %s", got)
	}
	if id.Dir != dir {
		t.Errorf("Dir = %q, want %q", id.Dir, dir)
	}
	if got, want := id.Serial, certs.SerialString(id.Leaf().SerialNumber); got != want {
		t.Errorf("Serial = %s, want %s", got, want)
	}
	if !id.NotAfter.Equal(id.Leaf().NotAfter) {
		t.Errorf("NotAfter = %v, want %v", id.NotAfter, id.Leaf().NotAfter)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, "key.pem"), 0o600)
	certPEM := readFile(t, filepath.Join(dir, "cert.pem"))
	chain, err := certs.ParseCertificates(certPEM)
	if err != nil || len(chain) != 2 || !chain[0].Equal(id.Leaf()) || !chain[1].Equal(ca.inter) {
		t.Errorf("cert.pem must hold leaf + intermediate (err %v, %d certs)", err, len(chain))
	}
	if got := readFile(t, filepath.Join(dir, "ca.pem")); !bytes.Equal(got, certs.EncodeCertificates(ca.root)) {
		t.Errorf("ca.pem does not hold exactly the root")
	}
	assertOnlyFiles(t, dir, "ca.pem", "cert.pem", "key.pem")
	loaded, err := enrollclient.Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.Serial != id.Serial || loaded.ID != id.ID {
		t.Errorf("Load = %s %s, want %s %s", loaded.ID, loaded.Serial, id.ID, id.Serial)
	}
}

func assertNoIdentity(t *testing.T, dir, name string) {
	t.Helper()
	if strings.Contains(name, "existing") {
		return // the pre-existing identity is the caller's
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("key.pem exists after a failed enrollment (stat: %v)", err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

// assertOnlyFiles fails if dir holds anything but names (no temporary files,
// no key.pem.next left over).
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// colonize writes a hex string as "AB:CD:…", the way openssl prints it.
func colonize(hex string) string {
	var parts []string
	for i := 0; i < len(hex); i += 2 {
		parts = append(parts, hex[i:i+2])
	}
	return strings.Join(parts, ":")
}
