package readme

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestSameShape keeps the output comparison as strict as the package doc
// says: values that change on every run match by their form, nothing else
// does.
func TestSameShape(t *testing.T) {
	for _, tc := range []struct {
		name      string
		want, got []string
		match     bool
	}{
		{"accept/serial time and table columns", []string{
			"SERIAL                            CLIENT            STATUS      NOT AFTER",
			"01a2162eb30d3ef094e2c87beb155aa4  calendar-service  superseded  2026-11-27T04:48:08Z",
		}, []string{
			"SERIAL                            CLIENT        STATUS      NOT AFTER",
			"01a246becb37c4ceb66b29c8f5ddfc98  calendar-service      superseded  2026-12-06T15:07:18Z",
		}, true},
		{"accept/openssl dates with a padded day", []string{"notBefore=Nov 26 01:57:10 2026 GMT"}, []string{"notBefore=Dec  5 15:05:57 2026 GMT"}, true},
		{"accept/thumbprint", []string{`{"x5t#S256":"EO_s_Rp7weK25xwMRVmUkOLeidoDaEeYkekzcBo5F88"}`}, []string{`{"x5t#S256":"J4_GADygo2Kwr013ZJpl49KgdyKz5gwaC8aDttByPZw"}`}, true},
		{"accept/ellipsis in a line", []string{`{"access_token":"eyJhbGciOiJFUzI1NiIs…","token_type":"Bearer"}`}, []string{`{"access_token":"eyJhbGciOiJFUzI1NiIsImtpZCI6.eyJ.sig","token_type":"Bearer"}`}, true},
		{"accept/log line with fractional seconds", []string{"time=2026-11-26T02:09:43.047Z level=INFO msg=enrolled serial=5cb2d2c4338a7096e56e601868ecc24e"}, []string{"time=2026-12-05T15:08:32.6Z level=INFO msg=enrolled serial=01a246bfebffea0d2dd17fd537f05a91"}, true},
		{"accept/trailing spaces", []string{"X509v3 Extended Key Usage:"}, []string{"X509v3 Extended Key Usage: "}, true},
		{"accept/a line of … stands for lines", []string{"a", "…", "z"}, []string{"a", "b", "c", "z"}, true},
		{"accept/a line of … stands for no line", []string{"a", "…", "z"}, []string{"a", "z"}, true},
		{"accept/no output", nil, nil, true},
		{"reject/other words", []string{"created client task-service (tls_client_auth)"}, []string{"created client task-service (client_secret_post)"}, false},
		{"reject/other status", []string{"01a2162eb30d3ef094e2c87beb155aa4  calendar-service  superseded"}, []string{"01a2162eb30d3ef094e2c87beb155aa4  calendar-service  active"}, false},
		{"reject/a line more", []string{"svc.crt: OK"}, []string{"svc.crt: OK", "warning"}, false},
		{"reject/a line less", []string{"a", "b"}, []string{"a"}, false},
		{"reject/output where the README shows none", nil, []string{"certbound: unknown flag"}, false},
		{"reject/a time where a serial was", []string{"serial 01a2162eb30d3ef094e2c87beb155aa4"}, []string{"serial 2026-11-27T04:48:08Z"}, false},
		{"reject/a name is not a value", []string{"root_fingerprint_sha256=c5a7db1c5f8a2c50a97e21dd5993bb00"}, []string{"root_sha256=c5a7db1c5f8a2c50a97e21dd5993bb00"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameShape(tc.want, tc.got); got != tc.match {
				t.Errorf("sameShape(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.match)
			}
		})
	}
}

// TestParseReadme checks the marker convention: marked blocks only, in
// order, commands split from their output, and a marker the test cannot use
// is an error rather than a block nobody runs.
func TestParseReadme(t *testing.T) {
	const text = "# x\n" +
		"```sh\nnot marked\n```\n" +
		"<!-- readme-check: one (build) -->\n```sh\nmake build\ngo build -o bin/ ./cmd/examples/a ./cmd/examples/b\nexport PATH=$PWD/bin:$PATH\n```\n" +
		"<!-- readme-check: two -->\n```console\n$ echo a \\\n    b\na b\n$ sleep 9 &\n$ true\n\n```\n" +
		"<!-- readme-check: one -->\n```console\n$ echo c\nc\n```\n"
	sections, err := parseReadme(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(sections) != 2 || sections[0].name != "one" || sections[1].name != "two" || len(sections[0].blocks) != 2 {
		t.Fatalf("sections = %+v", sections)
	}
	build, err := sections[0].blocks[0].steps()
	if err != nil {
		t.Fatal(err)
	}
	if len(build) != 1 || build[0].text != "export PATH=$PWD/bin:$PATH" {
		t.Errorf("build block steps = %+v, want only the export line", build)
	}
	pkgs, err := buildPackages(sections)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./cmd/certbound", "./cmd/examples/a", "./cmd/examples/b"}; !reflect.DeepEqual(pkgs, want) {
		t.Errorf("buildPackages = %q, want %q", pkgs, want)
	}
	steps, err := sections[1].blocks[0].steps()
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 || steps[0].text != "echo a \\\n    b" || !reflect.DeepEqual(steps[0].want, []string{"a b"}) ||
		!steps[1].background || steps[2].background || len(steps[2].want) != 0 {
		t.Errorf("console steps = %+v", steps)
	}

	for _, bad := range []struct{ name, text string }{
		{"reject/misspelt marker", "<!-- readme-check:one -->\n```sh\ntrue\n```\n"},
		{"reject/marker before prose", "<!-- readme-check: one -->\nsome text\n```sh\ntrue\n```\n"},
		{"reject/marker before another language", "<!-- readme-check: one -->\n```go\nx := 1\n```\n"},
		{"reject/unclosed block", "<!-- readme-check: one -->\n```sh\ntrue\n"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := parseReadme(bad.text); !errors.Is(err, errMarker) {
				t.Errorf("parseReadme = %v, want errMarker", err)
			}
		})
	}
	t.Run("reject/a build line the test cannot build", func(t *testing.T) {
		s, err := parseReadme("<!-- readme-check: one (build) -->\n```sh\nmake demo\n```\n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := buildPackages(s); err == nil || !strings.Contains(err.Error(), "make demo") {
			t.Errorf("buildPackages = %v, want an error naming the line", err)
		}
	})
}
