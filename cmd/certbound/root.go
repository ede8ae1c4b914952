package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

func newRootCommand() *cobra.Command {
	var configFile string
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
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return bindConfigFile(cmd, configFile)
		},
	}
	root.PersistentFlags().StringVar(&configFile, "config", "",
		"YAML file of flag values (flag name: value); command-line flags and CERTBOUND_* variables win")
	root.AddCommand(
		newServeCommand(),
		newMigrateCommand(),
		newClientCommand(),
		newKeysCommand(),
		newEnrollTokenCommand(),
		newEnrollCommand(),
		newRenewCommand(),
		newTokenCommand(),
		newCertCommand(),
		newAuditCommand(),
		newAdminKeyCommand(),
		newBackupCommand(),
		newRestoreCommand(),
		newDBCommand(),
		newCACommand(),
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

// bindConfigFile sets every flag that neither the command line nor the
// environment set from the YAML file at path (if any). The file is a flat
// map from long flag names to values, so one file can serve `serve` and the
// admin commands; keys that the running command does not have are ignored,
// keys no command has are an error (a typo should not pass silently).
func bindConfigFile(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	known := allFlagNames(cmd.Root())
	for name, raw := range values {
		if !known[name] {
			return fmt.Errorf("--config %s: no command has a flag %q", path, name)
		}
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Changed || name == "config" {
			continue
		}
		if _, fromEnv := os.LookupEnv(envName(name)); fromEnv {
			continue
		}
		var vals []string
		switch v := raw.(type) {
		case []any:
			for _, e := range v {
				vals = append(vals, fmt.Sprint(e))
			}
		default:
			vals = []string{fmt.Sprint(v)}
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			err = sv.Replace(vals)
		} else {
			err = f.Value.Set(strings.Join(vals, ","))
		}
		if err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, name, err)
		}
	}
	return nil
}

func allFlagNames(c *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(c)
	return names
}

// versionInfo is what `certbound version --json` prints.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Commit    string `json:"commit,omitempty"`   // the VCS revision the binary was built from, if Go recorded it
	Modified  bool   `json:"modified,omitempty"` // the working tree had uncommitted changes
}

func currentVersion() versionInfo {
	v := versionInfo{Version: version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			if asJSON {
				return printJSON(cmd.OutOrStdout(), v)
			}
			line := "certbound " + v.Version + " (" + v.GoVersion
			if v.Commit != "" {
				line += ", commit " + v.Commit
				if v.Modified {
					line += "+modified"
				}
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), line+")")
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}
