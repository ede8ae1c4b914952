package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/dbcopy"
)

func newDBCommand() *cobra.Command {
	return newGroupCommand("db", "Move an install between SQLite and PostgreSQL", newDBCopyCommand())
}

func newDBCopyCommand() *cobra.Command {
	var (
		from, to, dataDir, passwordFile string
		asJSON                          bool
	)
	cmd := &cobra.Command{
		Use:   "copy --from <database> --to <database>",
		Short: "Copy every record and the CA from SQLite to PostgreSQL or back (server stopped)",
		Long: `copy moves an install between backends. A database is named as serve's
--database names it: empty (the default) is the SQLite install in --data-dir,
a postgres:// or postgresql:// URL or libpq key=value settings is PostgreSQL.
Exactly one side is SQLite.

SQLite to PostgreSQL: the data dir's lock is taken (a running server makes copy
refuse), the database's migrations are applied, and it must be empty. Every row
is copied in one transaction and the CA is stored in the database with its keys
encrypted with the --password-file passphrase (keys in the clear are encrypted).
PostgreSQL to SQLite: --data-dir must be empty or absent; the CA is written to
<data-dir>/ca.

Afterwards both sides are compared: rows per table, a digest of every row and
the CA's root fingerprint. Any difference is an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if passwordFile == "" {
				return errors.New("--password-file is required (the CA passphrase)")
			}
			pw, err := readPassphrase(passwordFile)
			if err != nil {
				return err
			}
			sum, err := dbcopy.Copy(cmd.Context(), dbcopy.Options{From: from, To: to, DataDir: dataDir, Password: pw})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), sum)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TABLE\tROWS\tDIGEST")
			for _, t := range sum.Tables {
				fmt.Fprintf(w, "%s\t%d\t%.16s\n", t.Table, t.Rows, t.TargetDigest)
			}
			w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "copied and verified: every table matches its source; CA root %s\n", sum.RootFingerprint)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the source database (empty: SQLite in --data-dir)")
	f.StringVar(&to, "to", "", "the target database (empty: SQLite in --data-dir)")
	f.StringVar(&dataDir, "data-dir", "./certbound-data", "the SQLite side's data dir")
	f.StringVar(&passwordFile, "password-file", "", "file holding the CA passphrase")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}
