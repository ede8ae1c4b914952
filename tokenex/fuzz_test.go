package tokenex_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/tokenex"
)

// FuzzRegisterClientSpec registers clients with fuzzed id, name, scope and
// audience: either a registry error, or a client whose stored values obey
// the rules and round-trip through GetClient.
func FuzzRegisterClientSpec(f *testing.F) {
	fx := newFixture(f)
	f.Add("svc-a", "", "event.read event.create", "event")
	f.Add("", "Task Service", "a  b", "https://rs.example/")
	f.Add("", "!!!", `a"b`, "")
	f.Add("UPPER", "x", "a\\b", "my api")
	f.Add("", "ÜberDienst", "é", issuer)
	pattern := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	f.Fuzz(func(t *testing.T, id, name, scope, aud string) {
		var auds []string
		if aud != "" {
			auds = strings.Split(aud, ",")
		}
		c, _, err := fx.svc.RegisterClient(t.Context(), tokenex.ClientSpec{ClientID: id, ClientName: name, Scope: scope, Audience: auds,
			TokenEndpointAuthMethod: tokenex.MethodClientSecretPost})
		if err != nil {
			if !errors.Is(err, tokenex.ErrInvalidClientMetadata) && !errors.Is(err, tokenex.ErrConflict) {
				t.Fatalf("RegisterClient: %v", err)
			}
			return
		}
		if !pattern.MatchString(c.ID) || (id != "" && c.ID != id) {
			t.Fatalf("client id %q from (%q, %q)", c.ID, id, name)
		}
		for _, s := range c.Scopes {
			if s == "" || strings.ContainsAny(s, " \"\\") {
				t.Fatalf("scope token %q stored", s)
			}
		}
		got, err := fx.svc.GetClient(t.Context(), c.ID)
		if err != nil || got.Scope() != c.Scope() || strings.Join(got.Audience, ",") != strings.Join(c.Audience, ",") {
			t.Fatalf("GetClient = %+v, %v; registered %+v", got, err, c)
		}
	})
}

// FuzzIntrospect: any string is either inactive or a token this service
// signed; never a panic or an error.
func FuzzIntrospect(f *testing.F) {
	fx := newFixture(f)
	_, sec := fx.register(f, tokenex.ClientSpec{ClientID: "svc-p", Scope: "x", Audience: []string{"event"},
		TokenEndpointAuthMethod: tokenex.MethodClientSecretBasic})
	tok, err := fx.svc.IssueToken(f.Context(), cc(basic("svc-p", sec)))
	if err != nil {
		f.Fatal(err)
	}
	real := tok.AccessToken.Reveal()
	f.Add(real)
	f.Add(real[:len(real)-2])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		in, err := fx.svc.Introspect(t.Context(), secret.FromString(s))
		if err != nil {
			t.Fatalf("Introspect error: %v", err)
		}
		if in.Active && s != real {
			// A different string can only be active if it is the same JWS
			// (base64 variants are refused by strict decoding).
			t.Fatalf("%q is active", s)
		}
	})
}
