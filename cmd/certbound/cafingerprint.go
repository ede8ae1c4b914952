package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/backend"
)

func newCACommand() *cobra.Command {
	var (
		dataDir  string
		database string
		asJSON   bool
	)
	fp := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print the SHA-256 fingerprint of the root in the data dir: the value services and remote admins pin",
		Long: `fingerprint reads <data-dir>/ca/root.crt on this host, with no server involved, and
prints its SHA-256 (hex), the value to pass as --fingerprint. Run it where the data
dir is, and carry the value to the enrolling host by a channel you trust.

With a PostgreSQL --database (replicas), the CA is in the database: fingerprint
reads the root from there instead (no CA password needed: the root certificate
is public).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dataDir, server.CADir, ca.RootCertFile)
			data, err := readRoot(cmd.Context(), database, path)
			if err != nil {
				return err
			}
			if database != "" {
				path = backend.Redacted(database)
			}
			roots, err := certs.ParseCertificates(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			sum := certs.Fingerprint(roots[0].Raw)
			if asJSON {
				key := "file"
				if database != "" {
					key = "database"
				}
				return printJSON(cmd.OutOrStdout(), map[string]string{"root_fingerprint_sha256": sum, key: path})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), sum)
			return err
		},
	}
	fp.Flags().StringVar(&dataDir, "data-dir", "./certbound-data", "the server's data dir")
	fp.Flags().StringVar(&database, "database", "", "the server's --database: with PostgreSQL the root is read from the database")
	fp.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return newGroupCommand("ca", "Inspect certbound's own CA", fp)
}

// readRoot returns the root certificate's PEM: the file at path, or the
// stored CA's when database names PostgreSQL.
func readRoot(ctx context.Context, database, path string) ([]byte, error) {
	kind, err := backend.Parse(database)
	if err != nil {
		return nil, err
	}
	if kind == backend.SQLite {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("root certificate: %w (pass --data-dir <the server's data dir>)", err)
		}
		return data, nil
	}
	db, err := backend.Open(ctx, backend.Config{Database: database, PoolSize: 1})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	shared, ok := db.(storage.SharedCA)
	if !ok {
		return nil, errors.New("this database keeps no CA")
	}
	m, err := shared.LoadCA(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errors.New("the database holds no CA yet: start a server on it first")
	}
	if err != nil {
		return nil, err
	}
	return m.RootCertPEM, nil
}
