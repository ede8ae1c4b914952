package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newGroupCommand is a command that only holds subcommands. Run bare, it
// prints its help; run with a word that is not one of its subcommands
// (`certbound client lsit`), it fails with a suggestion, as the top level
// does, so that a script never takes a typo for success.
func newGroupCommand(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownSubcommand(cmd, args[0])
		},
	}
	// `certbound client lsit --server X` fails on the flag, which the group
	// does not have; the mistyped word is the better message. (Subcommands
	// inherit this function: their flag errors pass through.)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if args := c.Flags().Args(); c == cmd && len(args) > 0 {
			return unknownSubcommand(c, args[0])
		}
		return err
	})
	cmd.AddCommand(subs...)
	return cmd
}

// unknownSubcommand is the error for a word that names no subcommand of
// cmd, worded like cobra's own at the top level.
func unknownSubcommand(cmd *cobra.Command, word string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on the top level's path
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		b.WriteString("\n\nDid you mean this?\n")
		for _, name := range s {
			fmt.Fprintf(&b, "\t%s\n", name)
		}
	} else {
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		fmt.Fprintf(&b, " (its commands: %s)", strings.Join(names, ", "))
	}
	return fmt.Errorf("%s", strings.TrimRight(b.String(), "\n"))
}
