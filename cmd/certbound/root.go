package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "certbound",
		Short: "mTLS certificate authority and machine-identity service",
		Long: `certbound issues short-lived X.509 certificates to services that enroll with a
one-time token, renews them over mTLS, and trades an mTLS handshake for OAuth 2.0
access tokens bound to the certificate (RFC 8705).

Every flag can also be set through an environment variable: CERTBOUND_ followed by
the flag name in upper case with dashes as underscores (--data-dir → CERTBOUND_DATA_DIR).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd)
		},
	}
	root.AddCommand(
		newServeCommand(),
		newClientCommand(),
		newKeysCommand(),
		newEnrollTokenCommand(),
		newEnrollCommand(),
		newRenewCommand(),
		newTokenCommand(),
		newCertCommand(),
		newBackupCommand(),
		newRestoreCommand(),
		newVersionCommand(),
	)
	return root
}

// envName maps a flag to its environment variable (SPEC §1).
func envName(flag string) string {
	return "CERTBOUND_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv sets every flag not given on the command line from its
// CERTBOUND_* variable, if set. Command-line flags win.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			err = sv.Replace(strings.Split(v, ","))
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", envName(f.Name), err)
		}
	})
	return err
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "certbound", version)
		},
	}
}
