package verify

import (
	"encoding/json"
	"reflect"
	"testing"
)

// certboundClaims is a claims set as certbound issues it.
const certboundClaims = `{"aud":"event","client_id":"svc-a","cnf":{"x5t#S256":"A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0"},` +
	`"exp":1700003600,"iat":1700000000,"iss":"https://localhost:8443","jti":"d9kJ3vQ2mX8pL5nR7tY1wA",` +
	`"nbf":1700000000,"scope":"event.create event.read","scp":["event.create","event.read"],"stt":1,"sub":"svc-a"}`

// TestDecodeFastPath: what certbound issues takes the fast path (the cost
// target depends on it) and decodes as encoding/json does.
func TestDecodeFastPath(t *testing.T) {
	var fast, std wireClaims
	if !decodeClaimsFast([]byte(certboundClaims), &fast) {
		t.Fatal("certbound's claims set missed the fast path")
	}
	if err := json.Unmarshal([]byte(certboundClaims), &std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("fast = %+v\nstd  = %+v", fast, std)
	}
	if _, ok := decodeHeaderFast([]byte(`{"alg":"ES256","kid":"k","typ":"at+jwt"}`)); !ok {
		t.Fatal("certbound's header missed the fast path")
	}
}

func TestDecodeFallback(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantSub string
		wantErr bool
	}{
		{"accept/escaped", `{"sub":"svc\u002da"}`, "svc-a", false},
		{"accept/case-folded-name", `{"SUB":"svc-a"}`, "svc-a", false}, // encoding/json semantics
		{"accept/kelvin-fold", `{"sub":"x","ſub":"svc-a"}`, "svc-a", false},
		{"accept/unknown-nested", `{"x":{"y":[1,{"z":"}"}]},"sub":"svc-a"}`, "svc-a", false},
		{"reject/trailing-garbage", `{"sub":"svc-a"}x`, "", true},
		{"reject/trailing-comma", `{"sub":"svc-a",}`, "", true},
		{"reject/leading-zero-date", `{"exp":0123}`, "", true},
		{"reject/sub-number", `{"sub":5}`, "", true},
		{"reject/not-object", `["sub"]`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wireClaims
			err := decodeClaims([]byte(tt.in), &w)
			if (err != nil) != tt.wantErr || w.Sub != tt.wantSub {
				t.Fatalf("decodeClaims(%s) = sub %q, err %v; want sub %q, error %v", tt.in, w.Sub, err, tt.wantSub, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeClaims: whatever the fast claims scanner accepts is valid JSON
// that encoding/json decodes to the same value.
func FuzzDecodeClaims(f *testing.F) {
	f.Add([]byte(certboundClaims))
	f.Add([]byte(`{"aud":["a","b"],"ISS":"x","stt":{"a":[1,"}",{"b":null}]},"cnf":{}}`))
	f.Add([]byte(`{"iss":"a","iss":"b","exp":-0,"cnf":{"jkt":"x","x5t#S256":"y"}}`))
	f.Add([]byte(`{"sub":"\u0041","exp":1.5,"aud":[],"scp":[]}`))
	f.Add([]byte(` { "x" : "\"}" , "jti" : "j" } `))
	f.Add([]byte(`{"x":tru,"jti":"j"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast wireClaims
		if !decodeClaimsFast(b, &fast) {
			return
		}
		var std wireClaims
		if err := json.Unmarshal(b, &std); err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("fast path = %+v\nencoding/json = %+v\ninput %q", fast, std, b)
		}
	})
}

// FuzzDecodeHeader: the fast header scanner agrees with decoding into a map,
// which is how JOSE libraries read headers.
func FuzzDecodeHeader(f *testing.F) {
	f.Add([]byte(`{"alg":"ES256","kid":"k","typ":"at+jwt"}`))
	f.Add([]byte(`{"alg":"none","crit":["exp"],"kid":7,"typ":"JWT","x":{"a":"}"}}`))
	f.Add([]byte(`{"ALG":"ES256","alg":"RS256","alg":"ES256"}`))
	f.Add([]byte(`{"crit":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeHeaderFast(b)
		if !ok {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, b)
		}
		var want header
		want.alg, _ = m["alg"].(string)
		want.typ, _ = m["typ"].(string)
		want.kid, _ = m["kid"].(string)
		_, want.crit = m["crit"]
		if fast != want {
			t.Fatalf("fast path = %+v, map = %+v, input %q", fast, want, b)
		}
	})
}
