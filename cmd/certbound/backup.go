package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/backup"
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
		dataDir string
		asJSON  bool
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
