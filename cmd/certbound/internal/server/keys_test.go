package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// open runs server.Open on dir and closes what it opened.
func open(t *testing.T, dir string, password []byte) error {
	t.Helper()
	srv, err := server.Open(context.Background(), server.Config{DataDir: dir, CAPassword: password, Issuer: "https://127.0.0.1:1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		srv.Close()
	}
	return err
}

func TestCAKeysAreEncryptedWithThePassword(t *testing.T) {
	pw := []byte("correct horse battery staple")
	s := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.CAPassword = pw }))
	for _, name := range []string{ca.RootKeyFile, ca.IntermediateKeyFile} {
		data, err := os.ReadFile(filepath.Join(s.DataDir, server.CADir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
			t.Fatalf("%s is not an encrypted PKCS #8 key", name)
		}
	}
	s.Stop(t)
	for _, tc := range []struct {
		name string
		pw   []byte
	}{{"reject/no password", nil}, {"reject/wrong password", []byte("Tr0ub4dor&3")}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := open(t, s.DataDir, tc.pw); !errors.Is(err, ca.ErrPassword) {
				t.Fatalf("Open: %v, want ca.ErrPassword", err)
			}
		})
	}
	t.Run("accept/right password", func(t *testing.T) {
		s2 := s.Restart(t, servertest.WithConfig(func(c *server.Config) { c.CAPassword = pw }))
		s2.CreateClient(t, "svc", "a", "aud")
		s2.Enroll(t, s2.MintToken(t, "svc"))
	})
}

func TestServerRunsWithTheRootKeyOffline(t *testing.T) {
	s := servertest.Start(t)
	s.Stop(t)
	root := filepath.Join(s.DataDir, server.CADir, ca.RootKeyFile)
	offline := filepath.Join(t.TempDir(), "root.key") // "moved to the safe"
	if err := os.Rename(root, offline); err != nil {
		t.Fatal(err)
	}
	s = s.Restart(t)
	s.CreateClient(t, "svc", "a", "aud")
	cert, _ := s.Enroll(t, s.MintToken(t, "svc"))
	if r := s.Do(t, s.HTTPClient(cert), "POST", "/oauth2/token", "grant_type=client_credentials&client_id=svc", formCT); r.Status != 200 {
		t.Fatalf("token without the root key: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, s.HTTPClient(cert), "POST", "/v1/renew", map[string]string{"csr": servertest.CSR(t, servertest.NewKey(t))}); r.Status != 201 {
		t.Fatalf("renewal without the root key: %d %s", r.Status, r.Body)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatal("the server put a root key back")
	}
}

func TestServerRefusesKeyFilesOthersCanRead(t *testing.T) {
	s := servertest.Start(t)
	s.Stop(t)
	for _, tc := range []struct {
		path string
		mode os.FileMode
		fix  string
	}{
		{s.DataDir, 0o750, "chmod 0700 "},
		{filepath.Join(s.DataDir, server.CADir, ca.RootKeyFile), 0o644, "chmod 0600 "},
		{filepath.Join(s.DataDir, server.CADir, ca.IntermediateKeyFile), 0o640, "chmod 0600 "},
		{filepath.Join(s.DataDir, server.AdminKeyFile), 0o604, "chmod 0600 "},
		{filepath.Join(s.DataDir, server.DatabaseFile), 0o644, "chmod 0600 "},
	} {
		t.Run("reject/"+filepath.Base(tc.path), func(t *testing.T) {
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer func() {
				want := os.FileMode(0o600)
				if tc.path == s.DataDir {
					want = 0o700
				}
				os.Chmod(tc.path, want)
			}()
			err := open(t, s.DataDir, nil)
			if !errors.Is(err, server.ErrInsecurePermissions) {
				t.Fatalf("Open with %s mode %o: %v, want ErrInsecurePermissions", tc.path, tc.mode, err)
			}
			// The message tells the operator what to run.
			if !strings.Contains(err.Error(), tc.fix+tc.path) {
				t.Fatalf("the error does not say %q: %v", tc.fix+tc.path, err)
			}
		})
	}
	t.Run("accept/all private again", func(t *testing.T) {
		if err := open(t, s.DataDir, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNoSecretInTheDatabase greps the database and its WAL for every secret
// the server handed out: a client secret, enrollment tokens (used and
// unused), the admin key and access tokens. Only their hashes may be there.
func TestNoSecretInTheDatabase(t *testing.T) {
	s := servertest.Start(t)
	s.CreateClient(t, "svc", "a", "aud")
	r := s.Admin(t, "POST", "/v1/clients", map[string]any{"client_id": "secret-holder", "scope": "a", "audience": []string{"aud"},
		"token_endpoint_auth_method": "client_secret_post"})
	var created struct {
		Secret string `json:"client_secret"`
	}
	r.JSON(t, &created)
	unused := s.MintToken(t, "svc")
	used := s.MintToken(t, "svc")
	cert, _ := s.Enroll(t, used)
	var tokens []string
	for _, r := range []*servertest.Response{
		s.Do(t, s.HTTPClient(cert), "POST", "/oauth2/token", "grant_type=client_credentials&client_id=svc", formCT),
		s.Do(t, nil, "POST", "/oauth2/token", "grant_type=client_credentials&client_id=secret-holder&client_secret="+created.Secret, formCT),
		s.Do(t, nil, "POST", "/auth/oauth/token", map[string]any{"clientId": "secret-holder", "clientSecret": created.Secret, "grantType": "client_credentials"}),
	} {
		var tok struct {
			AccessToken  string `json:"access_token"`
			AccessToken2 string `json:"accessToken"`
		}
		r.JSON(t, &tok)
		tokens = append(tokens, tok.AccessToken+tok.AccessToken2)
	}
	// Introspection reads a token; it must not store it either.
	if r := s.Do(t, nil, "POST", "/oauth2/introspect", "token="+tokens[0], formCT, "Authorization: Bearer "+s.AdminKey); r.Status != 200 {
		t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}

	var files bytes.Buffer
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(s.DBPath() + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files.Write(data)
	}
	db := files.Bytes()
	// The grep can see: what was written is there, in plain and hashed form.
	if !bytes.Contains(db, []byte("secret-holder")) || !bytes.Contains(db, secret.FromString(unused).Hash()) {
		t.Fatal("the client id or the token hash is not in the files: the grep looks at the wrong bytes")
	}
	secrets := map[string]string{"client secret": created.Secret, "unused enrollment token": unused,
		"used enrollment token": used, "admin key": s.AdminKey}
	for i, tok := range tokens {
		secrets["access token "+string(rune('1'+i))] = tok
		// A JWT's signature alone is as good as a secret for this test.
		secrets["access token signature "+string(rune('1'+i))] = tok[strings.LastIndexByte(tok, '.')+1:]
	}
	for name, v := range secrets {
		if len(v) < 20 {
			t.Fatalf("%s is suspiciously short: %q", name, v)
		}
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if bytes.Contains(db, []byte(form)) {
				t.Errorf("the database holds the %s", name)
			}
		}
	}
}
