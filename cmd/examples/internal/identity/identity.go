package identity

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// ErrNoToken: the directory holds no usable identity and no enrollment
// token was given.
var ErrNoToken = errors.New("identity: no identity in the directory and no enrollment token (set --token or CERTBOUND_TOKEN)")

// Config says where a service keeps its identity and how to get one.
type Config struct {
	// Server is the certbound base URL, e.g. "https://localhost:8443".
	Server string
	// Dir is the identity directory (key.pem, cert.pem, ca.pem).
	Dir string
	// Fingerprint pins certbound's root (hex SHA-256, as `certbound serve`
	// logs it). Needed only to enroll.
	Fingerprint string
	// Token is the one-time enrollment token. Needed only to enroll; zero
	// when the directory already holds an identity.
	Token secret.Secret
	// DNSNames are requested in the certificate at enrollment (the token
	// must allow them). A service that serves HTTPS needs its host name here.
	DNSNames []string
	// OnRenew and OnError are passed to the Renewer. Nil: ignored.
	OnRenew func(*enrollclient.Identity)
	OnError func(error)
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Open returns a Renewer for the identity in cfg.Dir. If the directory holds
// no certificate yet, or only an expired one, it first enrolls with
// cfg.Token; enrolled reports whether it did. The Renewer is not running:
// call its Run to keep the certificate renewed.
func Open(ctx context.Context, cfg Config) (r *enrollclient.Renewer, enrolled bool, err error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	need, overwrite, err := needsEnrollment(cfg.Dir, now())
	if err != nil {
		return nil, false, err
	}
	if need {
		if cfg.Token.IsZero() {
			return nil, false, fmt.Errorf("%w: %s", ErrNoToken, cfg.Dir)
		}
		_, err := enrollclient.Enroll(ctx, enrollclient.Options{
			Server:      cfg.Server,
			Fingerprint: cfg.Fingerprint,
			Token:       cfg.Token,
			Dir:         cfg.Dir,
			DNSNames:    cfg.DNSNames,
			Overwrite:   overwrite,
			Now:         cfg.Now,
		})
		if err != nil {
			return nil, false, fmt.Errorf("identity: enroll: %w", err)
		}
	}
	r, err = enrollclient.NewRenewer(enrollclient.RenewerConfig{
		Dir:     cfg.Dir,
		Server:  cfg.Server,
		OnRenew: cfg.OnRenew,
		OnError: cfg.OnError,
		Now:     cfg.Now,
	})
	if err != nil {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	return r, need, nil
}

// needsEnrollment reports whether dir lacks a usable identity, and whether
// enrolling may overwrite what is there (an expired certificate, which can
// no longer renew itself). A directory whose identity does not load is an
// error: a person should look at it before anything replaces it.
func needsEnrollment(dir string, now time.Time) (need, overwrite bool, err error) {
	if dir == "" {
		return false, false, errors.New("identity: no identity directory")
	}
	_, err = os.Stat(filepath.Join(dir, enrollclient.CertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return true, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("identity: %w", err)
	}
	id, err := enrollclient.Load(dir)
	if err != nil {
		return false, false, fmt.Errorf("identity: %w", err)
	}
	if !now.Before(id.NotAfter) {
		return true, true, nil
	}
	return false, false, nil
}

// Flags are the command-line flags both example services take to find their
// identity. Each falls back to an environment variable, so that the token
// need not appear in the process list.
type Flags struct {
	Server      string
	Fingerprint string
	Token       string
	Dir         string
}

// Register defines --server, --fingerprint, --token and --identity-dir on fs.
func (f *Flags) Register(fs *flag.FlagSet, defaultDir string) {
	fs.StringVar(&f.Server, "server", envOr("CERTBOUND_SERVER", "https://localhost:8443"), "certbound server URL (env CERTBOUND_SERVER)")
	fs.StringVar(&f.Fingerprint, "fingerprint", os.Getenv("CERTBOUND_FINGERPRINT"), "SHA-256 fingerprint of certbound's root, root_fingerprint_sha256 in certbound serve's start log; needed to enroll (env CERTBOUND_FINGERPRINT)")
	fs.StringVar(&f.Token, "token", "", "one-time enrollment token; needed only the first time (env CERTBOUND_TOKEN, preferred: flags show in the process list)")
	fs.StringVar(&f.Dir, "identity-dir", defaultDir, "directory holding this service's key.pem, cert.pem and ca.pem")
}

// Config turns the flags into a Config.
func (f *Flags) Config() Config {
	tok := strings.TrimSpace(f.Token)
	if tok == "" {
		tok = strings.TrimSpace(os.Getenv("CERTBOUND_TOKEN"))
	}
	cfg := Config{Server: f.Server, Fingerprint: f.Fingerprint, Dir: f.Dir}
	if tok != "" {
		cfg.Token = secret.FromString(tok)
	}
	return cfg
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
