package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
)

func newTokenCommand() *cobra.Command {
	var (
		server   string
		dir      string
		clientID string
		scope    []string
		audience string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "token --server URL --dir <dir> --client <id> [--scope s] [--audience a]",
		Short: "Get an access token bound to the certificate in <dir> (OAuth client credentials over mTLS)",
		Long: `token authenticates to /oauth2/token with the certificate in <dir> (tls_client_auth) and
prints an access token bound to that certificate (RFC 8705): only a caller holding the
certificate's key can use it. With --json it prints the whole token response.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "dir"); err != nil {
				return err
			}
			server, err := serverURL(server)
			if err != nil {
				return err
			}
			if strings.ContainsAny(audience, ", ") {
				return fmt.Errorf("--audience %q: a token has one audience; ask for one", audience)
			}
			id, err := enrollclient.Load(dir)
			if err != nil {
				return err
			}
			if clientID == "" {
				clientID = id.ID.ClientID
			}
			src, err := tokenclient.New(tokenclient.Config{
				TokenURL:    server + "/oauth2/token",
				ClientID:    clientID,
				Scopes:      scope,
				Audience:    audience,
				HTTPClient:  id.HTTPClient(),
				Certificate: id.Leaf,
			})
			if err != nil {
				return err
			}
			tok, err := src.TokenContext(cmd.Context())
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
				return nil
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{
				"access_token": tok.AccessToken,
				"token_type":   tok.TokenType,
				"expires_in":   int64(time.Until(tok.Expiry).Round(time.Second) / time.Second),
				"scope":        tok.Extra("scope"),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "https://localhost:8443", "certbound server URL (https only)")
	f.StringVar(&dir, "dir", "", "identity directory written by certbound enroll (required)")
	f.StringVar(&clientID, "client", "", "client id (default: the one in the certificate)")
	f.Var(newListValue(&scope), "scope", "scopes to request: a list separated by spaces or commas, or repeat the flag (default: all the client's)")
	f.StringVar(&audience, "audience", "", "the one audience to request (default: the client's first)")
	f.BoolVar(&asJSON, "json", false, "print the token response as JSON")
	return cmd
}
