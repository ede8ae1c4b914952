package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/enroll"
)

func newServeCommand() *cobra.Command {
	var (
		cfg          server.Config
		logLevel     string
		logFormat    string
		passwordFile string
		rateEnroll   float64
		rateToken    float64
		rateFailures float64
		onClone      string
		migrate      bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the certbound server (creates the CA and data dir on first start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC()
			level := new(slog.LevelVar)
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger, err := newLogger(cmd, level, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = logger
			cfg.RateLimitEnroll = rateEnroll
			cfg.RateLimitToken = rateToken
			cfg.RateLimitAuthFailures = rateFailures
			action, err := enroll.ParseCloneAction(onClone)
			if err != nil {
				return fmt.Errorf("--on-clone: %w", err)
			}
			cfg.CloneAction = action
			cfg.SkipMigrations = !migrate
			if passwordFile != "" {
				pw, err := readPassphrase(passwordFile)
				if err != nil {
					return err
				}
				cfg.CAPassword = pw
			}
			srv, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			stop := reloadOnSIGHUP(cmd, srv, level, logger)
			defer stop()
			return srv.ListenAndServe(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./certbound-data", "directory for the CA, the database and the admin key (created 0700); with a PostgreSQL --database only this replica's lock and admin key file")
	f.StringVar(&cfg.Database, "database", "", "database: empty = SQLite in --data-dir; postgres://… or postgresql://… or libpq key=value = PostgreSQL, shared by any number of replicas (needs --password-file)")
	f.Int32Var(&cfg.DatabasePoolSize, "database-pool-size", 10, "PostgreSQL connections this replica may open (plus one for change notifications); replicas × (pool + 1) must stay below max_connections")
	f.BoolVar(&migrate, "migrate", true, "apply pending PostgreSQL schema migrations at start (under a database lock); false never migrates and refuses a schema behind (run certbound migrate first)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "HTTPS listen address")
	f.StringSliceVar(&cfg.DNS, "dns", []string{"localhost", "127.0.0.1"}, "names and IPs in the server's own certificate")
	f.StringVar(&cfg.TrustDomain, "trust-domain", "certbound.local", "SPIFFE trust domain of issued identities")
	f.StringVar(&cfg.Issuer, "issuer", "", "OAuth issuer identifier, the iss of every token (default: https://<first --dns name>:<--listen port>, without the port when it is 443)")
	f.DurationVar(&cfg.CertLifetime, "cert-lifetime", 24*time.Hour, "lifetime of issued certificates (at most 168h)")
	f.StringVar(&passwordFile, "password-file", "", "file holding the passphrase that encrypts the CA keys (required with PostgreSQL, where the keys are stored in the database)")
	f.Float64Var(&rateEnroll, "rate-limit-enroll", 100, "enrollment and renewal requests per second per source address (0: off)")
	f.Float64Var(&rateToken, "rate-limit-token", 100, "token requests per second per authenticated client (0: off)")
	f.Float64Var(&rateFailures, "rate-limit-auth-failures", 10, "failed authentications per second per source address, burst twice that; then 429 (0: off)")
	f.StringVar(&onClone, "on-clone", string(enroll.CloneDisableIfUsed), "when an already renewed certificate is presented again: refuse, disable-if-used (disable the client if the newer certificate is in use) or disable")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus metrics on this address, plain HTTP (off unless set; keep it private)")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", 90*24*time.Hour, "how long audit events are kept (0: forever)")
	f.DurationVar(&cfg.CertRetention, "cert-retention", 30*24*time.Hour, "how long records of expired certificates are kept (0: forever)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text (for people) or json")
	return cmd
}

// readPassphrase reads the passphrase that encrypts the CA keys. The file
// must be private (no access for group or others, like a key file), and the
// passphrase must not be empty or only white space: either would leave the
// CA keys as good as unencrypted. Trailing line breaks are not part of it.
func readPassphrase(path string) ([]byte, error) {
	if err := certs.CheckPrivate(path); err != nil {
		return nil, fmt.Errorf("--password-file: %w", err)
	}
	pw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--password-file: %w", err)
	}
	pw = []byte(strings.TrimRight(string(pw), "\r\n"))
	if strings.TrimSpace(string(pw)) == "" {
		return nil, fmt.Errorf("--password-file %s holds no passphrase (it is empty or only white space)", path)
	}
	return pw, nil
}

func newLogger(cmd *cobra.Command, level slog.Leveler, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
