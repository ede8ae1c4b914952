package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Claims are the verified claims of an access token (RFC 9068 §2.2). Verify
// returns them only after every check passed.
type Claims struct {
	Issuer   string   // "iss", equal to Config.Issuer
	Subject  string   // "sub"; for client credentials, the client
	ClientID string   // "client_id"
	Audience []string // "aud", always holding Config.Audience
	// Scopes are the space-separated "scope" claim split into tokens (RFC
	// 8693 §4.2), or the "scp" array when "scope" is absent; possibly empty.
	Scopes    []string
	IssuedAt  time.Time // "iat"
	NotBefore time.Time // "nbf"; zero when absent
	Expiry    time.Time // "exp"
	ID        string    // "jti"
	// Thumbprint is the "cnf" "x5t#S256" the token is bound to, which equals
	// certs.X5tS256 of the client certificate; "" for an unbound token.
	Thumbprint string
}

// HasScope reports whether the token grants scope s. Scopes are compared
// exactly (RFC 6749 §3.3: case-sensitive).
func (c *Claims) HasScope(s string) bool {
	return slices.Contains(c.Scopes, s)
}

// wireClaims is the JSON claims set as the token carries it; decodeClaims
// fills it. The decoders of its field types serve the encoding/json path:
// they are strict about types and quote nothing from the input in errors.
type wireClaims struct {
	Iss      string       `json:"iss"`
	Sub      string       `json:"sub"`
	ClientID string       `json:"client_id"`
	Aud      audience     `json:"aud"`
	Scope    *string      `json:"scope"`
	Scp      []string     `json:"scp"`
	Iat      numericDate  `json:"iat"`
	Nbf      numericDate  `json:"nbf"`
	Exp      numericDate  `json:"exp"`
	Jti      string       `json:"jti"`
	Cnf      confirmation `json:"cnf"`
}

// scopes returns the granted scopes: "scope" split on spaces, or "scp" when
// "scope" is absent. When both are present they must name the same set, so a
// token cannot mean one thing to this verifier and another to the next.
func (w *wireClaims) scopes() ([]string, error) {
	if w.Scope == nil {
		return w.Scp, nil
	}
	s := strings.Fields(*w.Scope)
	if w.Scp != nil && !sameSet(s, w.Scp) {
		return nil, errors.New(`"scope" and "scp" disagree`)
	}
	return s, nil
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// errClaimType is the one decoding error of the custom types; it quotes no
// input.
var errClaimType = errors.New("a claim has the wrong JSON type")

// numericDate is an RFC 7519 NumericDate: seconds since the epoch, a JSON
// number (fractions are truncated). null means absent.
type numericDate struct {
	set bool
	sec int64
}

// maxNumericDate keeps seconds exactly representable in a float64 and far
// from int64 overflow (it is about 285 million years away).
const maxNumericDate = 1 << 53

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = numericDate{}
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errClaimType
	}
	sec, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f != f {
			return errClaimType
		}
		if f >= maxNumericDate || f <= -maxNumericDate {
			return errClaimType
		}
		sec = int64(f)
	}
	if sec >= maxNumericDate || sec <= -maxNumericDate {
		return errClaimType
	}
	*d = numericDate{set: true, sec: sec}
	return nil
}

func (d numericDate) time() time.Time {
	if !d.set {
		return time.Time{}
	}
	return time.Unix(d.sec, 0)
}

// audience is "aud": a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errClaimType
		}
		*a = audience{s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var s []string
		if err := json.Unmarshal(b, &s); err != nil {
			return errClaimType
		}
		*a = s
		return nil
	}
	return errClaimType
}

// confirmation is "cnf" (RFC 7800). Only the x5t#S256 method of RFC 8705
// §3.1 is understood; a "cnf" that holds anything else is recorded as
// other, so the verifier can refuse a binding it cannot check instead of
// treating the token as unbound.
type confirmation struct {
	present bool
	x5tS256 string
	other   bool
}

func (c *confirmation) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*c = confirmation{}
		return nil
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errClaimType
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return errClaimType
	}
	*c = confirmation{present: true}
	for k, v := range m {
		if k != "x5t#S256" {
			c.other = true
			continue
		}
		if err := json.Unmarshal(v, &c.x5tS256); err != nil {
			return errClaimType
		}
	}
	return nil
}
