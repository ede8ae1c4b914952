package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// walk calls fn for root and every command under it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// TestEveryCommandGroupRefusesAnUnknownSubcommand: `certbound client lsit`
// is an error with a suggestion, for every group, not help and success.
func TestEveryCommandGroupRefusesAnUnknownSubcommand(t *testing.T) {
	var groups []string
	walk(newRootCommand(), func(c *cobra.Command) {
		if c.HasParent() && c.HasSubCommands() {
			groups = append(groups, strings.TrimPrefix(c.CommandPath(), "certbound "))
		}
	})
	if len(groups) < 5 {
		t.Fatalf("found only the groups %v", groups)
	}
	for _, g := range groups {
		t.Run("reject/"+g, func(t *testing.T) {
			root := newRootCommand()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			first := ""
			for _, sub := range mustFind(t, root, g).Commands() {
				if sub.IsAvailableCommand() {
					first = sub.Name()
					break
				}
			}
			typo := first[1:] + first[:1] // "list" → "istl"
			root.SetArgs(append(strings.Fields(g), typo))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), `unknown command "`+typo+`"`) {
				t.Fatalf("certbound %s %s: err = %v, output %q", g, typo, err, out.String())
			}
			if !strings.Contains(err.Error(), first) {
				t.Fatalf("no suggestion of %q in %q", first, err)
			}
		})
		t.Run("accept/"+g+" bare prints help", func(t *testing.T) {
			root := newRootCommand()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(strings.Fields(g))
			if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands") {
				t.Fatalf("err = %v, output %q", err, out.String())
			}
		})
	}
}

func mustFind(t *testing.T, root *cobra.Command, path string) *cobra.Command {
	t.Helper()
	c, _, err := root.Find(strings.Fields(path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNoUsageStringHasABackquotedPhrase: pflag takes the first `quoted`
// phrase of a usage string as the flag's value name, so "as `certbound
// serve` logs it" printed as "--fingerprint certbound serve". Help must read
// cleanly for every flag of every command.
func TestNoUsageStringHasABackquotedPhrase(t *testing.T) {
	n := 0
	walk(newRootCommand(), func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			n++
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: usage %q has a backquote", c.CommandPath(), f.Name, f.Usage)
			}
		}
		c.LocalFlags().VisitAll(check)
		c.PersistentFlags().VisitAll(check)
	})
	if n < 50 {
		t.Fatalf("checked only %d flags", n)
	}
}

// TestEveryCommandThatPrintsTakesJSON: the README promises --json for
// programs everywhere. serve logs (--log-format json) and prints nothing else.
func TestEveryCommandThatPrintsTakesJSON(t *testing.T) {
	walk(newRootCommand(), func(c *cobra.Command) {
		if !c.Runnable() || c.HasSubCommands() || c.Name() == "serve" || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Flags().Lookup("json") == nil {
			t.Errorf("%s has no --json", c.CommandPath())
		}
	})
}
