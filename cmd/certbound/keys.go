package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newKeysCommand() *cobra.Command {
	cmd := newGroupCommand("keys", "Manage the token-signing keys")
	var af adminFlags
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Start signing tokens with a new key; the old one stays published until its last token expires",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var out struct {
				KID string `json:"kid"`
			}
			if err := c.do(cmd.Context(), "POST", "/v1/keys/rotate", nil, &out); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new signing key %s; tokens signed before stay valid until they expire\n", out.KID)
			return nil
		},
	}
	af.register(rotate)
	cmd.AddCommand(rotate)
	return cmd
}
