package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/backup"
	"github.com/certbound/certbound/storage/backend"
)

// backupView is what backup and restore print with --json.
type backupView struct {
	File            string    `json:"file"`
	DataDir         string    `json:"data_dir"`
	CreatedAt       time.Time `json:"created_at"`
	RootFingerprint string    `json:"root_fingerprint_sha256"`
	Files           int       `json:"files"`
}

func newBackupCommand() *cobra.Command {
	var (
		dataDir  string
		database string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "backup <file>",
		Short: "Write a consistent backup of the data dir (safe while the server runs)",
		Long: `backup writes one tar.gz (mode 0600) with a snapshot of the database taken with
SQLite's VACUUM INTO — consistent even while the server is writing — the CA files
and the bootstrap admin key, plus a manifest of SHA-256 sums. It holds private keys:
store it like the data dir.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := backupSupported(database, dataDir); err != nil {
				return err
			}
			m, err := backup.Create(cmd.Context(), dataDir, args[0], time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), backupView{File: args[0], DataDir: dataDir, CreatedAt: m.CreatedAt.UTC(),
					RootFingerprint: m.RootFingerprint, Files: len(m.Files)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s (%d files, root %s)\n", dataDir, args[0], len(m.Files), m.RootFingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./certbound-data", "the data dir to back up")
	cmd.Flags().StringVar(&database, "database", "", "the server's --database: backup works on SQLite only (empty); on PostgreSQL it refuses and points at pg_dump")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}

func newRestoreCommand() *cobra.Command {
	var (
		dataDir string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "restore <file>",
		Short: "Check a backup and install it as a new data dir",
		Long: `restore checks the archive (checksums, database integrity, that the CA loads and
matches the manifest's root fingerprint) and only then installs it as --data-dir,
which must not exist or be empty. Start the server on it afterwards.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := backup.Restore(cmd.Context(), args[0], dataDir)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), backupView{File: args[0], DataDir: dataDir, CreatedAt: m.CreatedAt.UTC(),
					RootFingerprint: m.RootFingerprint, Files: len(m.Files)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored the backup of %s into %s (root %s)\n",
				m.CreatedAt.Local().Format(time.RFC3339), dataDir, m.RootFingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./certbound-data", "where to install the backup (must not exist or be empty)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}

// errBackupPostgreSQL: certbound backup snapshots a SQLite file; a
// PostgreSQL database is backed up with PostgreSQL's own tools, which take
// a consistent snapshot of a live database (and the CA with it: it is a
// table there).
var errBackupPostgreSQL = errors.New("certbound backup works on the SQLite database only; on PostgreSQL, back up the database " +
	"with pg_dump --format=custom and restore it with pg_restore into an empty database (the CA is in the database, " +
	"encrypted with the CA password: keep the password file too; see the README, \"Backup and restore on PostgreSQL\")")

// backupSupported refuses a backup of a PostgreSQL database, and of a data
// dir without a SQLite database (a PostgreSQL replica's).
func backupSupported(database, dataDir string) error {
	kind, err := backend.Parse(database)
	if err != nil {
		return err
	}
	if kind == backend.PostgreSQL {
		return errBackupPostgreSQL
	}
	if _, err := os.Stat(filepath.Join(dataDir, backend.SQLiteFile)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no SQLite database in %s (a replica on PostgreSQL keeps none): %w", dataDir, errBackupPostgreSQL)
	}
	return nil
}
