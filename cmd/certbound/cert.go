package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/cmd/certbound/internal/adminapi"
)

func newCertCommand() *cobra.Command {
	cmd := newGroupCommand("cert", "List, revoke and inspect certificates")
	cmd.AddCommand(newCertListCommand(), newCertRevokeCommand(), newCertInspectCommand())
	return cmd
}

func newCertListCommand() *cobra.Command {
	var (
		af       adminFlags
		clientID string
		active   bool
		state    string
		expiring time.Duration
		output   string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List issued certificates (filter by client, state, expiry; table, JSON or CSV)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			q := url.Values{}
			if clientID != "" {
				q.Set("client_id", clientID)
			}
			if active {
				q.Set("active", "true")
			}
			if state != "" {
				q.Set("state", state)
			}
			if expiring > 0 {
				q.Set("expiring_within", expiring.String())
			}
			if af.json {
				output = "json"
			}
			var all []adminapi.Certificate
			for {
				var page adminapi.Certificates
				if err := c.do(cmd.Context(), "GET", "/v1/certificates?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				all = append(all, page.Certificates...)
				if len(page.Certificates) < 1000 {
					break
				}
				q.Set("after", page.Certificates[len(page.Certificates)-1].Serial)
			}
			switch output {
			case "json":
				if all == nil {
					all = []adminapi.Certificate{}
				}
				return printJSON(cmd.OutOrStdout(), all)
			case "csv":
				return writeCertificatesCSV(cmd.OutOrStdout(), all)
			case "table":
			default:
				return fmt.Errorf("--output must be table, json or csv")
			}
			t := newTable(cmd.OutOrStdout(), "SERIAL", "CLIENT", "STATUS", "NOT AFTER")
			for _, v := range all {
				t.row(v.Serial, v.ClientID, v.Status, v.NotAfter.Local().Format(time.RFC3339))
			}
			return t.flush()
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&clientID, "client", "", "only this client's certificates")
	cmd.Flags().BoolVar(&active, "active", false, "only each client's current certificate: unexpired, not revoked, not superseded (same as --state active)")
	cmd.Flags().StringVar(&state, "state", "", "only certificates in this state: active, superseded, expired or revoked (a certificate is in one: revoked beats expired beats superseded)")
	cmd.Flags().DurationVar(&expiring, "expiring-within", 0, "only certificates that expire within this long (e.g. 24h)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or csv")
	return cmd
}

// writeCertificatesCSV exports the inventory for spreadsheets and audits.
func writeCertificatesCSV(w io.Writer, list []adminapi.Certificate) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"serial", "client_id", "status", "not_before", "not_after", "fingerprint_sha256",
		"renewed_from", "superseded_by", "revoked_at", "revocation_reason"})
	for _, v := range list {
		revoked := ""
		if v.RevokedAt != nil {
			revoked = v.RevokedAt.UTC().Format(time.RFC3339)
		}
		_ = cw.Write([]string{v.Serial, v.ClientID, v.Status, v.NotBefore.UTC().Format(time.RFC3339),
			v.NotAfter.UTC().Format(time.RFC3339), v.Fingerprint, v.RenewedFrom, v.SupersededBy, revoked, csvSafe(v.RevocationReason)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection in free text (OWASP).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func newCertRevokeCommand() *cobra.Command {
	var (
		af     adminFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "revoke <serial>",
		Short: "Revoke a certificate: it can no longer renew or get tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(cmd.Context())
			if err != nil {
				return err
			}
			var out adminapi.Certificate
			serial := strings.ToLower(strings.ReplaceAll(args[0], ":", ""))
			if err := c.do(cmd.Context(), "POST", "/v1/certificates/"+url.PathEscape(serial)+"/revoke",
				map[string]string{"reason": reason}, &out); err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			if out.AlreadyRevoked {
				fmt.Fprintf(cmd.OutOrStdout(), "%s (client %s) was already revoked at %s; nothing changed\n",
					out.Serial, out.ClientID, out.RevokedAt.Local().Format(time.RFC3339))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (client %s)\n", out.Serial, out.ClientID)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the record)")
	return cmd
}

// inspection is what `cert inspect` shows of a certificate file.
type inspection struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	SPIFFEID    string    `json:"spiffe_id,omitempty"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	IsCA        bool      `json:"is_ca"`
	Fingerprint string    `json:"fingerprint_sha256"`
	X5tS256     string    `json:"x5t#S256"`
}

func newCertInspectCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect <file>",
		Short: "Show a PEM certificate (or chain): identity, validity, fingerprints",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			chain, err := certs.ParseCertificates(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var out []inspection
			for _, c := range chain {
				in := inspection{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: certs.SerialString(c.SerialNumber),
					DNSNames: c.DNSNames, NotBefore: c.NotBefore, NotAfter: c.NotAfter, IsCA: c.IsCA,
					Fingerprint: certs.Fingerprint(c.Raw), X5tS256: certs.X5tS256(c.Raw)}
				if id, err := certs.IDFromCertificate(c); err == nil {
					in.SPIFFEID = id.String()
				}
				out = append(out, in)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			for i, in := range out {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "Subject:      %s\nIssuer:       %s\nSerial:       %s\n", in.Subject, in.Issuer, in.Serial)
				if in.SPIFFEID != "" {
					fmt.Fprintf(w, "SPIFFE ID:    %s\n", in.SPIFFEID)
				}
				if len(in.DNSNames) > 0 {
					fmt.Fprintf(w, "DNS names:    %s\n", strings.Join(in.DNSNames, ", "))
				}
				left := time.Until(in.NotAfter).Round(time.Second)
				fmt.Fprintf(w, "Valid:        %s to %s (%s left)\nCA:           %t\nSHA-256:      %s\nx5t#S256:     %s\n",
					in.NotBefore.Local().Format(time.RFC3339), in.NotAfter.Local().Format(time.RFC3339), left, in.IsCA, in.Fingerprint, in.X5tS256)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for programs")
	return cmd
}
