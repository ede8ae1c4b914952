package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Decoding is most of what Verify costs besides the signature check, so the
// JOSE header and the claims set certbound issues are read by a small
// scanner, and anything else by encoding/json.
//
// The scanner accepts only valid JSON whose meaning it knows to be the same
// as encoding/json's: strings of printable ASCII without escapes, integers,
// arrays of such strings, a "cnf" object of such strings, and other members
// of any type that json.Valid accepts, which it skips. On anything else
// (escapes, non-ASCII, fractions, null, a member whose name matches a claim
// only case-insensitively, a type mismatch, invalid JSON) it gives up and
// encoding/json decides. FuzzDecodeClaims and FuzzDecodeHeader check that the
// two agree.

// b64 is base64url without padding and with zero trailing bits (RFC 7515 §2,
// §7.1), so one token has one encoding.
var b64 = base64.RawURLEncoding.Strict()

var errMalformedJWS = errors.New("not a compact JWS of three base64url segments")

// compactJWS is a JWS in compact serialization (RFC 7515 §7.1), split.
type compactJWS struct {
	header       []byte // decoded JOSE header
	payload      string // the encoded payload segment
	signingInput string // header "." payload, what the signature covers
	signature    string // the encoded signature segment
}

func splitJWS(raw string) (compactJWS, error) {
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return compactJWS{}, errMalformedJWS
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return compactJWS{}, errMalformedJWS
	}
	header, err := b64.DecodeString(h)
	if err != nil {
		return compactJWS{}, errMalformedJWS
	}
	return compactJWS{header: header, payload: p, signingInput: raw[:len(h)+1+len(p)], signature: sig}, nil
}

// header is the part of the JOSE header the verifier reads. Members are
// matched exactly, as JOSE names are case-sensitive; a member that is not a
// string reads as "".
type header struct {
	alg, typ, kid string
	crit          bool // a "crit" member is present (RFC 7515 §4.1.11)
}

var errHeader = errors.New("the JOSE header is not a JSON object")

func decodeHeader(b []byte) (header, error) {
	if h, ok := decodeHeaderFast(b); ok {
		return h, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return header{}, errHeader
	}
	var h header
	h.alg, _ = m["alg"].(string)
	h.typ, _ = m["typ"].(string)
	h.kid, _ = m["kid"].(string)
	_, h.crit = m["crit"]
	return h, nil
}

func decodeHeaderFast(b []byte) (header, bool) {
	var h header
	s := scanner{b: b}
	ok := s.object(func(name []byte) bool {
		var ok bool
		switch string(name) {
		case "alg":
			h.alg, ok = s.str()
		case "typ":
			h.typ, ok = s.str()
		case "kid":
			h.kid, ok = s.str()
		case "crit":
			h.crit = true
			ok = s.skip()
		default:
			ok = s.skip()
		}
		return ok
	})
	return h, ok
}

// decodeClaims decodes the claims set b into w.
func decodeClaims(b []byte, w *wireClaims) error {
	if decodeClaimsFast(b, w) {
		return nil
	}
	*w = wireClaims{}
	return json.Unmarshal(b, w)
}

// claimNames are the members wireClaims decodes.
var claimNames = [...]string{"iss", "sub", "client_id", "aud", "scope", "scp", "iat", "nbf", "exp", "jti", "cnf"}

// decodeClaimsFast decodes b into w and reports true, or reports false
// (leaving w in any state) if b is outside what the scanner handles.
func decodeClaimsFast(b []byte, w *wireClaims) bool {
	*w = wireClaims{}
	s := scanner{b: b}
	return s.object(func(name []byte) bool {
		var ok bool
		switch string(name) { // no allocation: the compiler compares in place
		case "iss":
			w.Iss, ok = s.str()
		case "sub":
			w.Sub, ok = s.str()
		case "client_id":
			w.ClientID, ok = s.str()
		case "jti":
			w.Jti, ok = s.str()
		case "scope":
			var v string
			v, ok = s.str()
			w.Scope = &v
		case "scp":
			w.Scp, ok = s.strs()
		case "aud":
			if s.peek() == '"' {
				var v string
				v, ok = s.str()
				w.Aud = audience{v}
			} else {
				w.Aud, ok = s.strs()
			}
		case "iat":
			w.Iat, ok = s.date()
		case "nbf":
			w.Nbf, ok = s.date()
		case "exp":
			w.Exp, ok = s.date()
		case "cnf":
			w.Cnf, ok = s.confirmation()
		default:
			for _, n := range claimNames {
				if bytes.EqualFold(name, []byte(n)) {
					return false // encoding/json would decode it into claim n
				}
			}
			ok = s.skip()
		}
		return ok
	})
}

// scanner reads JSON for the fast paths. Its methods skip leading whitespace
// and report false for anything the fast path does not handle, including
// anything that is not valid JSON.
type scanner struct {
	b []byte
	i int
}

// object reads a whole input that is one JSON object, calling member with
// each member name, positioned at its value, which member must consume.
func (s *scanner) object(member func(name []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if !s.consume('}') {
		for {
			name, ok := s.raw()
			if !ok || !s.consume(':') || !member(name) {
				return false
			}
			if s.consume('}') {
				break
			}
			if !s.consume(',') {
				return false
			}
		}
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (s *scanner) str() (string, bool) {
	v, ok := s.raw()
	return string(v), ok
}

// raw is str without the copy.
func (s *scanner) raw() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// strs reads an array of such strings; [] gives an empty, non-nil slice, as
// encoding/json does.
func (s *scanner) strs() ([]string, bool) {
	if !s.consume('[') {
		return nil, false
	}
	out := make([]string, 0, 2)
	if s.consume(']') {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.consume(']') {
			return out, true
		}
		if !s.consume(',') {
			return nil, false
		}
	}
}

// date reads a NumericDate written as a JSON integer (no leading zeros, no
// fraction or exponent) of at most 15 digits, within ±maxNumericDate.
func (s *scanner) date() (numericDate, bool) {
	s.ws()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start := s.i
	var v int64
	for ; s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9'; s.i++ {
		v = v*10 + int64(s.b[s.i]-'0')
	}
	digits := s.i - start
	switch {
	case digits == 0 || digits > 15:
		return numericDate{}, false
	case digits > 1 && s.b[start] == '0':
		return numericDate{}, false // not JSON
	case s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return numericDate{}, false
	}
	if neg {
		v = -v
	}
	return numericDate{set: true, sec: v}, true
}

// confirmation reads a "cnf" object whose members are all such strings.
func (s *scanner) confirmation() (confirmation, bool) {
	c := confirmation{present: true}
	if !s.consume('{') {
		return c, false
	}
	if s.consume('}') {
		return c, true
	}
	for {
		name, ok := s.raw()
		if !ok || !s.consume(':') {
			return c, false
		}
		v, ok := s.raw()
		if !ok {
			return c, false
		}
		if string(name) == "x5t#S256" {
			c.x5tS256 = string(v)
		} else {
			c.other = true
		}
		if s.consume('}') {
			return c, true
		}
		if !s.consume(',') {
			return c, false
		}
	}
}

// skip passes over one value of any type: it finds where the value ends by
// matching quotes and brackets, then lets json.Valid judge it.
func (s *scanner) skip() bool {
	s.ws()
	start, depth := s.i, 0
scan:
	for ; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '"':
			for s.i++; s.i < len(s.b) && s.b[s.i] != '"'; s.i++ {
				if s.b[s.i] == '\\' {
					s.i++
				}
			}
			if depth == 0 {
				s.i++
				break scan
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				break scan // the end of the enclosing object
			}
			if depth--; depth == 0 {
				s.i++
				break scan
			}
		case ',':
			if depth == 0 {
				break scan
			}
		}
	}
	if depth != 0 || s.i > len(s.b) {
		return false
	}
	return json.Valid(s.b[start:s.i])
}
