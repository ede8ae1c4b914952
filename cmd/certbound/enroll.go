package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
)

// identityView is what enroll and renew print.
type identityView struct {
	SPIFFEID string    `json:"spiffe_id"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	Dir      string    `json:"dir"`
}

func viewIdentity(id *enrollclient.Identity) identityView {
	return identityView{SPIFFEID: id.ID.String(), Serial: id.Serial, NotAfter: id.NotAfter.UTC(), Dir: id.Dir}
}

func printIdentity(w io.Writer, asJSON bool, verb string, id *enrollclient.Identity) error {
	if asJSON {
		return printJSON(w, viewIdentity(id))
	}
	_, err := fmt.Fprintf(w, "%s %s (serial %s, valid until %s) in %s\n", verb, id.ID, id.Serial,
		id.NotAfter.Local().Format(time.RFC3339), id.Dir)
	return err
}

func newEnrollCommand() *cobra.Command {
	var (
		opts      enrollclient.Options
		token     string
		tokenFile string
		overwrite bool
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "enroll --server URL --fingerprint <root-sha256> --token-file <file> --out <dir>",
		Short: "Get a first certificate with a one-time enrollment token",
		Long: `enroll generates a P-256 key, checks that the server's root has the pinned
fingerprint (before the token is sent), redeems the token and writes
<out>/key.pem (0600), <out>/cert.pem (leaf + intermediate) and <out>/ca.pem (root).

The token comes from --token-file (a file, or - for stdin), from the
CERTBOUND_TOKEN variable, or from --token; on the command line it can be read
by other local users from the process list, so enroll warns about it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "fingerprint", "out"); err != nil {
				return err
			}
			tok, err := enrollmentToken(cmd, token, tokenFile)
			if err != nil {
				return err
			}
			if opts.Server, err = serverURL(opts.Server); err != nil {
				return err
			}
			opts.Token = tok
			opts.Overwrite = overwrite
			id, err := enrollclient.Enroll(cmd.Context(), opts)
			switch {
			case errors.Is(err, enrollclient.ErrFingerprintMismatch):
				return fmt.Errorf("%w (the token was not sent)", errFingerprintMismatch)
			case errors.Is(err, enrollclient.ErrExists):
				return fmt.Errorf("%s already holds an identity (key.pem or cert.pem); pass --overwrite to replace it, or choose another --out", opts.Dir)
			case err != nil:
				return err
			}
			return printIdentity(cmd.OutOrStdout(), asJSON, "enrolled", id)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Server, "server", "https://localhost:8443", "certbound server URL (https only)")
	f.StringVar(&opts.Fingerprint, "fingerprint", "", "SHA-256 fingerprint (hex) of the root to trust: root_fingerprint_sha256 in the server's start log (required; or CERTBOUND_FINGERPRINT)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the one-time enrollment token, - for stdin")
	f.StringVar(&token, "token", "", "one-time enrollment token; prefer --token-file or CERTBOUND_TOKEN: other local users can read a command line")
	f.StringVar(&opts.Dir, "out", "", "directory for key.pem, cert.pem and ca.pem (required)")
	f.StringSliceVar(&opts.DNSNames, "dns", nil, "DNS name to request (the token must allow it; repeatable)")
	f.BoolVar(&overwrite, "overwrite", false, "replace an identity already in --out")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}

// enrollmentToken reads the token from --token-file, --token or
// CERTBOUND_TOKEN (which sets --token without the command line). A token
// typed on the command line is accepted with a warning: any local user can
// read another's command line from /proc or ps.
func enrollmentToken(cmd *cobra.Command, token, tokenFile string) (secret.Secret, error) {
	if tokenFile != "" && token != "" {
		return secret.Secret{}, errors.New("give the enrollment token once: --token-file, --token or CERTBOUND_TOKEN")
	}
	if tokenFile != "" {
		var data []byte
		var err error
		if tokenFile == "-" {
			data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
		} else {
			data, err = os.ReadFile(tokenFile)
		}
		if err != nil {
			return secret.Secret{}, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return secret.Secret{}, fmt.Errorf("--token-file %s is empty", tokenFile)
		}
		return secret.FromString(token), nil
	}
	if token == "" {
		return secret.Secret{}, errors.New("no enrollment token: pass --token-file <file> (or - for stdin) or set CERTBOUND_TOKEN")
	}
	if cmd.Flags().Changed("token") {
		fmt.Fprintln(cmd.ErrOrStderr(), "certbound: warning: a --token on the command line can be read by other local users "+
			"from the process list; pass --token-file <file> (or - for stdin) or set CERTBOUND_TOKEN instead")
	}
	return secret.FromString(strings.TrimSpace(token)), nil
}

// requireFlags fails when one of names has no value. cobra's own required
// flags count only the command line, so a value from CERTBOUND_* or
// --config would not satisfy them.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		if f.Value.String() == "" || f.Value.String() == "[]" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required: %s (or its CERTBOUND_* variable)", strings.Join(missing, ", "))
	}
	return nil
}

func newRenewCommand() *cobra.Command {
	var (
		server   string
		dir      string
		watch    bool
		execLine string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "renew --server URL --dir <dir> [--watch] [--exec \"<cmd>\"]",
		Short: "Renew the certificate in <dir> over mTLS (new key), once or continuously",
		Long: `renew presents the current certificate, gets one for a new key and rewrites
<dir> atomically. With --watch it keeps running and renews at two thirds of each
certificate's lifetime (with jitter), and runs --exec (through /bin/sh) after every
renewal, e.g. to reload a proxy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "dir"); err != nil {
				return err
			}
			server, err := serverURL(server)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !watch {
				id, err := enrollclient.Renew(cmd.Context(), dir, server)
				if err != nil {
					return err
				}
				if err := printIdentity(out, asJSON, "renewed", id); err != nil {
					return err
				}
				return runHook(cmd.Context(), execLine, cmd.ErrOrStderr())
			}
			r, err := enrollclient.NewRenewer(enrollclient.RenewerConfig{
				Dir:    dir,
				Server: server,
				OnRenew: func(id *enrollclient.Identity) {
					_ = printIdentity(out, asJSON, "renewed", id)
					if err := runHook(cmd.Context(), execLine, cmd.ErrOrStderr()); err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "certbound: --exec:", err)
					}
				},
				OnError: func(err error) { fmt.Fprintln(cmd.ErrOrStderr(), "certbound: renewal failed, will retry:", err) },
			})
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(out, "watching %s: %s, next renewal at %s\n", dir, r.Current().ID, r.NextRenewal().Local().Format(time.RFC3339))
			}
			err = r.Run(cmd.Context())
			if cmd.Context().Err() != nil {
				return nil // stopped by a signal
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "https://localhost:8443", "certbound server URL (https only)")
	f.StringVar(&dir, "dir", "", "identity directory written by certbound enroll (required)")
	f.BoolVar(&watch, "watch", false, "keep running and renew before each certificate expires")
	f.StringVar(&execLine, "exec", "", "command to run (via /bin/sh -c) after each renewal")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}

// runHook runs the --exec command, if any, with its output on stderr so
// that stdout stays machine-readable.
func runHook(ctx context.Context, line string, stderr io.Writer) error {
	if line == "" {
		return nil
	}
	c := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	c.Stdout, c.Stderr = stderr, stderr
	c.Env = os.Environ()
	return c.Run()
}
