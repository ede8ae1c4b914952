package tokenex

import (
	"slices"
	"strings"
)

// Limits on scope values. They bound the work hostile input can cause; real
// clients are far below them.
const (
	maxScopeTokens   = 64
	maxScopeTokenLen = 128
)

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), that is printable ASCII without space,
// '"' and '\'.
func validScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// parseScope splits a space-delimited scope string (RFC 6749 §3.3) into its
// tokens, in order, without duplicates. Runs of spaces are tolerated; any
// other byte outside the scope-token syntax is not. An empty or all-space
// string gives no tokens. ok is false for bad syntax or too many tokens.
func parseScope(s string) (tokens []string, ok bool) {
	if len(s) > maxScopeTokens*(maxScopeTokenLen+1) {
		return nil, false
	}
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return nil, false
		}
		if !slices.Contains(tokens, tok) {
			if len(tokens) == maxScopeTokens {
				return nil, false
			}
			tokens = append(tokens, tok)
		}
	}
	return tokens, true
}
