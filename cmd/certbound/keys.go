package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newKeysCommand() *cobra.Command {
	cmd := newGroupCommand("keys", "Manage the token-signing keys")
	var af adminFlags
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Start signing tokens with a new key; the old one stays published until its last token expires",
		Long: `rotate stores a new signing key. It is published in the JWKS at once and starts
signing at active_at: at once on SQLite; on PostgreSQL 90 s later (the longest a
replica takes to see the rotation, plus the clock skew), so that every replica
publishes the new key before any signs with it. The old key signs until then and
stays published until every token it signed has expired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var out struct {
				KID      string    `json:"kid"`
				ActiveAt time.Time `json:"active_at"`
			}
			if err := c.do(cmd.Context(), "POST", "/v1/keys/rotate", nil, &out); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			when := "now"
			if wait := time.Until(out.ActiveAt).Round(time.Second); wait > 0 {
				when = fmt.Sprintf("%s (in %s)", out.ActiveAt.Local().Format(time.RFC3339), wait)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new signing key %s, published now, signs from %s; tokens signed before stay valid until they expire\n", out.KID, when)
			return nil
		},
	}
	af.register(rotate)
	cmd.AddCommand(rotate)
	return cmd
}
