package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
)

func newClientCommand() *cobra.Command {
	cmd := newGroupCommand("client", "Register and manage clients (services)")
	cmd.AddCommand(newClientCreateCommand(), newClientListCommand(), newClientGetCommand(),
		newClientSetDisabledCommand("disable", true), newClientSetDisabledCommand("enable", false),
		newClientDeleteCommand())
	return cmd
}

func newClientCreateCommand() *cobra.Command {
	var (
		af         adminFlags
		name       string
		scope      []string
		audience   []string
		auth       string
		sanURI     string
		selfSigned []string
		ttl        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create <client_id>",
		Short: "Register a client; secret methods print the client secret once",
		Example: `  certbound client create task-service --scope event.create --audience event
  certbound client create legacy-batch --scope report.read --audience reports --auth client_secret_basic`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			body := map[string]any{"client_id": args[0], "scope": strings.Join(scope, " "), "audience": audience}
			if name != "" {
				body["client_name"] = name
			}
			if auth != "" {
				body["token_endpoint_auth_method"] = auth
			}
			if sanURI != "" {
				body["tls_client_auth_san_uri"] = sanURI
			}
			if ttl != 0 {
				body["access_token_ttl"] = int64(ttl / time.Second)
			}
			for _, f := range selfSigned {
				pemBytes, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				body["self_signed_certificates"] = append(asStrings(body["self_signed_certificates"]), string(pemBytes))
			}
			var out adminapi.Client
			if err := c.do(cmd.Context(), "POST", "/v1/clients", body, &out); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "created client %s (%s)\n", out.ClientID, out.TokenEndpointAuthMethod)
			if out.TLSClientAuthSANURI != "" {
				fmt.Fprintf(w, "  certificate identity: %s\n", out.TLSClientAuthSANURI)
			}
			fmt.Fprintf(w, "  scope: %s\n  audience: %s\n", orNone(out.Scope), orNone(strings.Join(out.Audience, ", ")))
			if out.ClientSecret != "" {
				fmt.Fprintf(w, "  client secret (shown once, store it now): %s\n", out.ClientSecret)
			}
			return nil
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "human-readable name")
	f.Var(newListValue(&scope), "scope", `scopes the client may request: a list separated by spaces or commas ("event.create event.read"), or repeat the flag`)
	f.Var(newListValue(&audience), "audience", "audiences the client may request tokens for, the first the default: a list separated by spaces or commas, or repeat the flag")
	f.StringVar(&auth, "auth", "", "token endpoint auth method: tls_client_auth (default), self_signed_tls_client_auth, client_secret_basic, client_secret_post")
	f.StringVar(&sanURI, "san-uri", "", "tls_client_auth_san_uri (default: the client's SPIFFE ID)")
	f.StringSliceVar(&selfSigned, "self-signed-cert", nil, "PEM file of a self-signed certificate (self_signed_tls_client_auth; repeatable)")
	f.DurationVar(&ttl, "token-ttl", 0, "access token lifetime for this client (default 1h, at most 24h)")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func asStrings(v any) []string {
	s, _ := v.([]string)
	return s
}

func newClientListCommand() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var all []adminapi.Client
			after := ""
			for {
				var page adminapi.Clients
				q := url.Values{"limit": {"1000"}}
				if after != "" {
					q.Set("after", after)
				}
				if err := c.do(cmd.Context(), "GET", "/v1/clients?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				all = append(all, page.Clients...)
				if len(page.Clients) < 1000 {
					break
				}
				after = page.Clients[len(page.Clients)-1].ClientID
			}
			if af.json {
				if all == nil {
					all = []adminapi.Client{}
				}
				return printJSON(cmd.OutOrStdout(), all)
			}
			t := newTable(cmd.OutOrStdout(), "CLIENT", "AUTH", "SCOPE", "AUDIENCE", "STATUS")
			for _, v := range all {
				t.row(v.ClientID, v.TokenEndpointAuthMethod, v.Scope, strings.Join(v.Audience, ","), status(v.Disabled))
			}
			return t.flush()
		},
	}
	af.register(cmd)
	return cmd
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func printClient(cmd *cobra.Command, asJSON bool, v adminapi.Client) error {
	if asJSON {
		return printJSON(cmd.OutOrStdout(), v)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "client:     %s\nname:       %s\nstatus:     %s\nauth:       %s\n", v.ClientID, v.ClientName, status(v.Disabled), v.TokenEndpointAuthMethod)
	if v.TLSClientAuthSANURI != "" {
		fmt.Fprintf(w, "identity:   %s\n", v.TLSClientAuthSANURI)
	}
	for _, tp := range v.Thumbprints {
		fmt.Fprintf(w, "x5t#S256:   %s\n", tp)
	}
	fmt.Fprintf(w, "scope:      %s\naudience:   %s\n", orNone(v.Scope), orNone(strings.Join(v.Audience, ", ")))
	if v.AccessTokenTTL != 0 {
		fmt.Fprintf(w, "token ttl:  %s\n", time.Duration(v.AccessTokenTTL)*time.Second)
	}
	fmt.Fprintf(w, "created:    %s\n", v.CreatedAt.Local().Format(time.RFC3339))
	return nil
}

func newClientGetCommand() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "get <client_id>",
		Short: "Show a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var v adminapi.Client
			if err := c.do(cmd.Context(), "GET", "/v1/clients/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return printClient(cmd, af.json, v)
		},
	}
	af.register(cmd)
	return cmd
}

func newClientSetDisabledCommand(verb string, disabled bool) *cobra.Command {
	var af adminFlags
	short := "Disable a client: no tokens, renewals or enrollments until it is enabled again"
	if !disabled {
		short = "Enable a disabled client"
	}
	cmd := &cobra.Command{
		Use:   verb + " <client_id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var v adminapi.Client
			if err := c.do(cmd.Context(), "PATCH", "/v1/clients/"+url.PathEscape(args[0]), map[string]bool{"disabled": disabled}, &v); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s is %s\n", v.ClientID, status(v.Disabled))
			return nil
		},
	}
	af.register(cmd)
	return cmd
}

func newClientDeleteCommand() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "delete <client_id>",
		Short: "Delete a client and revoke its certificates",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "DELETE", "/v1/clients/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s and revoked its certificates\n", args[0])
			return nil
		},
	}
	af.register(cmd)
	return cmd
}
