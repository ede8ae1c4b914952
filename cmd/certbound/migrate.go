package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/datalock"
	"github.com/certbound/certbound/storage/backend"
)

func newMigrateCommand() *cobra.Command {
	var (
		cfg    backend.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date and exit",
		Long: `migrate applies the schema migrations this certbound knows and the database
lacks, then exits. A database migrated by a newer certbound is refused.

On PostgreSQL it takes the same database lock as a starting server (a second
migrate, or replicas starting meanwhile, wait and then find nothing to do). An
upgrade: run the new binary's migrate, then restart the replicas on the new
binary; with serve --migrate=false no replica ever changes the schema itself. A
replica of an older certbound refuses to start on a schema newer than it knows.

On SQLite (no --database) it opens <data-dir>/certbound.db, which applies the
pending migrations, and closes it; the server must be stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, err := backend.Parse(cfg.Database)
			if err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if kind == backend.SQLite {
				if _, err := os.Stat(cfg.DataDir); err != nil {
					return fmt.Errorf("--data-dir: %w (serve creates it)", err)
				}
				// One process per SQLite file: refuse while a server holds
				// the data dir.
				lock, err := datalock.Acquire(cfg.DataDir)
				if err != nil {
					return err
				}
				err = backend.Migrate(cmd.Context(), cfg)
				if err = errors.Join(err, lock.Release()); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), migrateView{Backend: kind.String(), DataDir: cfg.DataDir, UpToDate: true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "the SQLite database in %s is up to date\n", cfg.DataDir)
				return nil
			}
			if err := backend.Migrate(cmd.Context(), cfg); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), migrateView{Backend: kind.String(), Database: backend.Redacted(cfg.Database), UpToDate: true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "the PostgreSQL database %s is up to date\n", backend.Redacted(cfg.Database))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Database, "database", "", "database: empty = SQLite in --data-dir; postgres://… or postgresql://… or libpq key=value = PostgreSQL")
	f.StringVar(&cfg.DataDir, "data-dir", "./certbound-data", "the data dir of the SQLite database (unused with PostgreSQL)")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}

// migrateView is what migrate prints with --json.
type migrateView struct {
	Backend  string `json:"backend"`            // sqlite or postgresql
	Database string `json:"database,omitempty"` // PostgreSQL, without its password
	DataDir  string `json:"data_dir,omitempty"` // SQLite
	UpToDate bool   `json:"up_to_date"`
}
