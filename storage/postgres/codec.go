package postgres

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Values are stored as SQLite stores them (storage/sqlite), so that records
// copy and digest the same on both backends: times as Unix seconds (the
// audit trail's as Unix milliseconds), lists as JSON or space-separated text.

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// nullUnix is NULL for the zero time.
func nullUnix(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	s := t.Unix()
	return &s
}

func fromNullUnix(s *int64) time.Time {
	if s == nil {
		return time.Time{}
	}
	return fromUnix(*s)
}

// nullText is NULL for "".
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromNullText(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func fromJSONList(s string) []string {
	var v []string
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

func spaceList(v []string) string { return strings.Join(v, " ") }

func fromSpaceList(s string) []string { return strings.Fields(s) }

// qualify prefixes each column of a comma-separated list with alias, for
// joins: qualify("c", "id, name") is "c.id, c.name".
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// args collects the arguments of a query built piece by piece and names
// each one's placeholder ($1, $2, …).
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}
