package servererror

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds how much of an error response a caller should read.
const MaxBody = 16 << 10

// MaxRetryAfter caps the wait a server can ask for: a longer one is almost
// certainly a misconfiguration and would outlive a certificate or a token.
const MaxRetryAfter = time.Hour

// Limits of the decoded fields, in bytes.
const (
	maxCode        = 64
	maxDescription = 256
	maxURI         = 256
)

// Response is a decoded non-2xx response. Code, Description and URI are
// empty when the body was not the JSON SPEC §5 describes (a proxy's HTML
// page, say).
type Response struct {
	Status      int           // HTTP status, e.g. 401
	Code        string        // "error", e.g. "invalid_client"; at most 64 bytes
	Description string        // "error_description"; at most 256 bytes
	URI         string        // "error_uri" (RFC 6749 §5.2); at most 256 bytes
	RetryAfter  time.Duration // from Retry-After, zero when absent; at most MaxRetryAfter
}

// Decode builds the Response for status, header and body (what was read of
// it, at most MaxBody); now is used for an HTTP-date Retry-After.
func Decode(status int, header http.Header, body []byte, now time.Time) Response {
	r := Response{Status: status, RetryAfter: ParseRetryAfter(header.Get("Retry-After"), now)}
	var wire struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if json.Unmarshal(body, &wire) == nil {
		r.Code = Sanitize(wire.Code, maxCode)
		r.Description = Sanitize(wire.Description, maxDescription)
		r.URI = Sanitize(wire.URI, maxURI)
	}
	return r
}

// ParseRetryAfter reads RFC 9110 §10.2.3 Retry-After: delay-seconds or an
// HTTP-date. Anything unparsable, negative or in the past is zero; the
// result is at most MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// Sanitize keeps the printable ASCII of s, at most limit bytes of it, so that
// a hostile server cannot put control characters into a caller's terminal
// or log.
func Sanitize(s string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= limit {
			break
		}
		if r >= 0x20 && r <= 0x7e {
			b.WriteRune(r)
		}
	}
	return b.String()
}
