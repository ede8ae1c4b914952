package tokenclient_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the SDK embeddable: besides the standard library it may
// depend on certs and certs/secret from certbound and on golang.org/x/oauth2
// (SPEC §11, STYLE layering).
func TestImports(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const self = "github.com/certbound/certbound/"
	allowed := map[string]bool{
		self + "certs":               true,
		self + "certs/secret":        true,
		self + "tokenex/tokenclient": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, self) && !allowed[pkg] {
			t.Errorf("tokenclient depends on %s", pkg)
		}
		if !strings.HasPrefix(pkg, self) && !strings.HasPrefix(pkg, "golang.org/x/oauth2") {
			t.Errorf("tokenclient depends on third-party %s", pkg)
		}
	}
}
