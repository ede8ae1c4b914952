package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// listValue is the one rule for list flags (--scope, --audience): a value
// holds one or more items separated by commas or spaces, and the flag may be
// repeated, so --scope "a b", --scope a,b and --scope a --scope b all mean
// [a b]. A comma is therefore never part of an item given on the command
// line; RFC 6749 §3.3 allows one in a scope token, and such a scope can be
// registered through the admin API only.
type listValue struct {
	items   *[]string
	changed bool
}

func newListValue(p *[]string) *listValue { return &listValue{items: p} }

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func (v *listValue) Set(s string) error {
	if !v.changed {
		*v.items = nil // the first value replaces the default
		v.changed = true
	}
	*v.items = append(*v.items, splitList(s)...)
	return nil
}

func (v *listValue) String() string { return strings.Join(*v.items, " ") }
func (v *listValue) Type() string   { return "list" }

// pflag.SliceValue, so that CERTBOUND_* variables and --config lists work.
func (v *listValue) Append(s string) error { return v.Set(s) }
func (v *listValue) Replace(ss []string) error {
	var out []string
	for _, s := range ss {
		out = append(out, splitList(s)...)
	}
	*v.items, v.changed = out, true
	return nil
}
func (v *listValue) GetSlice() []string { return append([]string(nil), *v.items...) }

var _ pflag.SliceValue = (*listValue)(nil)
