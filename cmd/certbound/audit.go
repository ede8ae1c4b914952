package main

import (
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
)

func newAuditCommand() *cobra.Command {
	cmd := newGroupCommand("audit", "Read the security audit trail")
	var (
		af       adminFlags
		since    string
		clientID string
		typ      string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events (certificates issued/renewed/revoked, tokens issued/refused, client and admin key changes, failed admin logins), each with the admin key that acted",
		Example: `  certbound audit list --since 24h
  certbound audit list --client task-service --type token. --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"1000"}}
			for k, v := range map[string]string{"since": since, "client_id": clientID, "type": typ} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var all []adminapi.AuditEvent
			for {
				var page adminapi.AuditEvents
				if err := c.do(cmd.Context(), "GET", "/v1/audit?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				all = append(all, page.Events...)
				if len(page.Events) < 1000 {
					break
				}
				q.Set("after", strconv.FormatInt(page.Events[len(page.Events)-1].ID, 10))
			}
			if af.json {
				if all == nil {
					all = []adminapi.AuditEvent{}
				}
				return printJSON(cmd.OutOrStdout(), all)
			}
			// ADMIN KEY: the key that acted; TARGET KEY: the key an admin_key.* event is about.
			t := newTable(cmd.OutOrStdout(), "TIME", "EVENT", "COUNT", "CLIENT", "SERIAL", "REASON", "FROM", "ADMIN KEY", "TARGET KEY")
			for _, e := range all {
				t.row(e.At.Local().Format(time.RFC3339), e.Type, e.Count, e.ClientID, e.Serial, e.Reason, e.Remote, e.AdminKey, e.TargetKey)
			}
			return t.flush()
		},
	}
	af.register(list)
	list.Flags().StringVar(&since, "since", "", `only events newer than this: a duration ("24h") or an RFC 3339 time`)
	list.Flags().StringVar(&clientID, "client", "", "only this client's events")
	list.Flags().StringVar(&typ, "type", "", `only this event type, or a prefix ending in "." ("token.")`)
	cmd.AddCommand(list)
	return cmd
}
