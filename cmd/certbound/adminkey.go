package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
)

func newAdminKeyCommand() *cobra.Command {
	var createFlags adminFlags
	var ttl string
	create := &cobra.Command{
		Use:   "create <name>",
		Short: "Create an admin key (shown once)",
		Example: `  certbound admin-key create ci --ttl 90d
  K=$(certbound admin-key create laptop --ttl 720h)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := createFlags.client(cmd.Context())
			if err != nil {
				return err
			}
			body := map[string]string{"name": args[0]}
			if ttl != "" {
				body["ttl"] = ttl
			}
			var out adminapi.NewAdminKey
			if err := c.do(cmd.Context(), "POST", "/v1/admin-keys", body, &out); err != nil {
				return err
			}
			if createFlags.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			// The key alone on stdout, so that `K=$(certbound admin-key create ...)` works.
			fmt.Fprintln(cmd.OutOrStdout(), out.Key)
			fmt.Fprintf(cmd.ErrOrStderr(), "admin key %s, %s; shown once\n", out.Name, validity(out.ExpiresAt))
			return nil
		},
	}
	createFlags.register(create)
	create.Flags().StringVar(&ttl, "ttl", "", `how long the key stays valid, in days ("90d") or as a duration ("720h") (default: until revoked)`)

	var listFlags adminFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List admin keys: name, created, last used, expiry, state (never the keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(cmd.Context())
			if err != nil {
				return err
			}
			var out adminapi.AdminKeys
			if err := c.do(cmd.Context(), "GET", "/v1/admin-keys", nil, &out); err != nil {
				return err
			}
			if listFlags.json {
				if out.AdminKeys == nil {
					out.AdminKeys = []adminapi.AdminKey{}
				}
				return printJSON(cmd.OutOrStdout(), out.AdminKeys)
			}
			t := newTable(cmd.OutOrStdout(), "NAME", "CREATED", "LAST USED", "EXPIRES", "STATE")
			for _, k := range out.AdminKeys {
				t.row(k.Name, k.CreatedAt.Local().Format(time.RFC3339), orDash(k.LastUsedAt), orNever(k.ExpiresAt), k.State)
			}
			return t.flush()
		},
	}
	listFlags.register(list)

	var revokeFlags adminFlags
	revoke := &cobra.Command{
		Use:   "revoke <name>",
		Short: "Revoke an admin key; it is refused from the next request on (the last valid key cannot be revoked)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := revokeFlags.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "DELETE", "/v1/admin-keys/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			if revokeFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"name": args[0], "revoked": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked admin key %s\n", args[0])
			return nil
		},
	}
	revokeFlags.register(revoke)

	return newGroupCommand("admin-key", "Create, list and revoke admin API keys", create, list, revoke)
}

func validity(expires *time.Time) string {
	if expires == nil {
		return "valid until revoked"
	}
	return "valid until " + expires.Local().Format(time.RFC3339)
}

func orDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

func orNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(time.RFC3339)
}
