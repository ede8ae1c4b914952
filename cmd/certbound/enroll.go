package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
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
		overwrite bool
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "enroll --server URL --fingerprint <root-sha256> --token <T> --out <dir>",
		Short: "Get a first certificate with a one-time enrollment token",
		Long: `enroll generates a P-256 key, checks that the server's root has the pinned
fingerprint (before the token is sent), redeems the token and writes
<out>/key.pem (0600), <out>/cert.pem (leaf + intermediate) and <out>/ca.pem (root).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Token = secret.FromString(token)
			opts.Overwrite = overwrite
			id, err := enrollclient.Enroll(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printIdentity(cmd.OutOrStdout(), asJSON, "enrolled", id)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Server, "server", "https://localhost:8443", "certbound server URL")
	f.StringVar(&opts.Fingerprint, "fingerprint", "", "SHA-256 fingerprint (hex) of the root to trust: root_fingerprint_sha256 in the server's start log")
	f.StringVar(&token, "token", "", "one-time enrollment token (or CERTBOUND_TOKEN)")
	f.StringVar(&opts.Dir, "out", "", "directory for key.pem, cert.pem and ca.pem")
	f.StringSliceVar(&opts.DNSNames, "dns", nil, "DNS name to request (the token must allow it; repeatable)")
	f.BoolVar(&overwrite, "overwrite", false, "replace an identity already in --out")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	for _, name := range []string{"fingerprint", "token", "out"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
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
	f.StringVar(&server, "server", "https://localhost:8443", "certbound server URL")
	f.StringVar(&dir, "dir", "", "identity directory written by certbound enroll")
	f.BoolVar(&watch, "watch", false, "keep running and renew before each certificate expires")
	f.StringVar(&execLine, "exec", "", "command to run (via /bin/sh -c) after each renewal")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs")
	_ = cmd.MarkFlagRequired("dir")
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
