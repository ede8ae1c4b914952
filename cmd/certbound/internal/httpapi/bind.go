package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
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
