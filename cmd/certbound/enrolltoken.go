package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
)

func newEnrollTokenCommand() *cobra.Command {
	cmd := newGroupCommand("enroll-token", "Mint one-time enrollment tokens")
	var (
		af       adminFlags
		clientID string
		ttl      time.Duration
		dns      []string
	)
	create := &cobra.Command{
		Use:   "create --client <id>",
		Short: "Mint a one-time enrollment token for a client (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "client"); err != nil {
				return err
			}
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			body := map[string]any{}
			if ttl != 0 {
				body["ttl"] = ttl.String()
			}
			if len(dns) > 0 {
				body["dns_names"] = dns
			}
			var out adminapi.EnrollmentToken
			if err := c.do(cmd.Context(), "POST", "/v1/clients/"+url.PathEscape(clientID)+"/enrollment-tokens", body, &out); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			// The token alone on stdout, so that `T=$(certbound enroll-token create ...)` works.
			fmt.Fprintln(cmd.OutOrStdout(), out.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "enrollment token for %s, valid until %s, single use\n", out.ClientID, out.ExpiresAt.Local().Format(time.RFC3339))
			return nil
		},
	}
	af.register(create)
	create.Flags().StringVar(&clientID, "client", "", "client id (required)")
	create.Flags().DurationVar(&ttl, "ttl", 0, "how long the token stays valid (default 15m, at most 24h)")
	create.Flags().StringSliceVar(&dns, "dns", nil, "DNS name the enrolling service may put in its certificate (repeatable)")
	cmd.AddCommand(create)
	return cmd
}
