package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/server"
)

func newCACommand() *cobra.Command {
	var (
		dataDir string
		asJSON  bool
	)
	fp := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print the SHA-256 fingerprint of the root in the data dir: the value services and remote admins pin",
		Long: `fingerprint reads <data-dir>/ca/root.crt on this host, with no server involved, and
prints its SHA-256 (hex), the value to pass as --fingerprint. Run it where the data
dir is, and carry the value to the enrolling host by a channel you trust.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dataDir, server.CADir, ca.RootCertFile)
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("root certificate: %w (pass --data-dir <the server's data dir>)", err)
			}
			roots, err := certs.ParseCertificates(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			sum := certs.Fingerprint(roots[0].Raw)
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]string{"root_fingerprint_sha256": sum, "file": path})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), sum)
			return err
		},
	}
	fp.Flags().StringVar(&dataDir, "data-dir", "./certbound-data", "the server's data dir")
	fp.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return newGroupCommand("ca", "Inspect certbound's own CA", fp)
}
