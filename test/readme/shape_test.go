package readme

import (
	"regexp"
	"strings"
)

// token finds, in a line the README shows, the parts whose value differs
// from run to run, and "…".
var token = regexp.MustCompile(
	`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z` + // RFC 3339 times
		`|[A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} \d{4} GMT` + // openssl's dates
		`|[A-Za-z0-9_-]+…?` + // words: serials, fingerprints, tokens, thumbprints, or plain words
		`|…`)

const (
	timePattern = `\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z`
	datePattern = `[A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} \d{4} GMT`
	wordPattern = `[A-Za-z0-9_-]+`
)

var (
	timeRE = regexp.MustCompile(`^` + timePattern + `$`)
	dateRE = regexp.MustCompile(`^` + datePattern + `$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{16,}$`)
	upper  = regexp.MustCompile(`[A-Z]`)
	digit  = regexp.MustCompile(`[0-9]`)
)

// squash takes runs of whitespace as one space and trims the line: column
// widths follow the values in them.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// variable reports whether a word of the README's output is a value that
// differs on every run: hex of 16 characters or more (serials,
// fingerprints) or base64url of 16 or more with capitals and digits in it
// (tokens, thumbprints). Names such as root_fingerprint_sha256 are not.
func variable(w string) bool {
	return hexRE.MatchString(w) || (len(w) >= 16 && upper.MatchString(w) && digit.MatchString(w))
}

// shape turns a line the README shows into the pattern the real line must
// match.
func shape(line string) *regexp.Regexp {
	line = squash(line)
	var b strings.Builder
	b.WriteString(`^`)
	last := 0
	for _, m := range token.FindAllStringIndex(line, -1) {
		b.WriteString(regexp.QuoteMeta(line[last:m[0]]))
		last = m[1]
		t := line[m[0]:m[1]]
		word, cut := strings.CutSuffix(t, "…")
		switch {
		case timeRE.MatchString(t):
			b.WriteString(timePattern)
		case dateRE.MatchString(t):
			b.WriteString(datePattern)
		case cut && (word == "" || variable(word)):
			b.WriteString(`.*`)
		case cut:
			b.WriteString(regexp.QuoteMeta(word) + `.*`)
		case variable(t):
			b.WriteString(wordPattern)
		default:
			b.WriteString(regexp.QuoteMeta(t))
		}
	}
	b.WriteString(regexp.QuoteMeta(line[last:]))
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// sameShape reports whether got (a command's real output lines) has the
// shape of want (the lines the README shows). A line of want that is only
// "…" stands for any number of lines.
func sameShape(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if squash(want[0]) == "…" {
		for i := 0; i <= len(got); i++ {
			if sameShape(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && shape(want[0]).MatchString(squash(got[0])) && sameShape(want[1:], got[1:])
}

// trimLines splits output into lines, without the trailing empty ones.
func trimLines(s string) []string {
	s = strings.TrimRight(s, " \t\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
