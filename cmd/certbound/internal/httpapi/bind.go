package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// bindJSON decodes the request body into v strictly: Content-Type must be
// application/json (415 otherwise), the body must be valid UTF-8 holding one
// JSON object with no unknown fields and nothing after it.
func bindJSON(c echo.Context, v any) error { return bindJSONStrictness(c, v, true) }

// bindJSONLenient is bindJSON that ignores unknown fields: the seed's routes
// take bodies written for another server, which may carry fields certbound
// does not use.
func bindJSONLenient(c echo.Context, v any) error { return bindJSONStrictness(c, v, false) }

func bindJSONStrictness(c echo.Context, v any, strict bool) error {
	if !isJSON(c.Request().Header.Get(echo.HeaderContentType)) {
		return echo.ErrUnsupportedMediaType
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return badRequest("could not read the request body")
	}
	return decodeJSON(body, v, strict)
}

// decodeJSON is bindJSON without the HTTP: strict decoding of one object.
func decodeJSON(body []byte, v any, strict bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty")
	}
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	if err := noDuplicateKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return badRequest(jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

// maxJSONDepth bounds the nesting noDuplicateKeys follows; certbound's
// bodies are two levels deep.
const maxJSONDepth = 32

// noDuplicateKeys refuses a JSON text in which an object has the same member
// twice (RFC 8259 §4 leaves the meaning open; encoding/json keeps the last,
// another parser in front of certbound might keep the first). It also bounds
// the nesting. Syntax errors are left to the decoder that follows.
func noDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token in this object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF or a syntax error: the decoder reports it
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
				if len(stack) >= maxJSONDepth {
					return badRequest("request body is nested too deeply")
				}
				stack = append(stack, frame{object: d == '{', keys: map[string]bool{}, key: true})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
			}
			continue
		}
		if len(stack) == 0 || !stack[len(stack)-1].object {
			continue
		}
		top := &stack[len(stack)-1]
		if top.key {
			// encoding/json matches member names case-insensitively, so
			// "token" and "TOKEN" are the same member to it: one of them
			// would silently win.
			k, _ := tok.(string)
			k = strings.ToLower(k)
			if top.keys[k] {
				return badRequest("a member appears twice in a JSON object")
			}
			top.keys[k] = true
			top.key = false
		} else {
			top.key = true
		}
	}
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "request body is not valid JSON"
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "field " + typ.Field + " has the wrong type"
		}
		return "request body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body is truncated"
	}
	// json: unknown field "x" — the field name is the client's own input,
	// short and harmless; keep the message.
	if msg := err.Error(); len(msg) < 120 {
		return msg
	}
	return "request body could not be decoded"
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == echo.MIMEApplicationJSON
}

func badRequest(desc string) *apiError {
	return &apiError{Status: 400, Code: codeInvalidRequest, Description: desc}
}
