//go:build unix

package readme

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tools are the programs the README's commands use besides certbound's own.
var tools = []string{"bash", "curl", "openssl", "jq"}

// TestReadme runs README.md's marked blocks, one subtest per section (see
// the package doc for the convention). `go test -run 'TestReadme/seed'`
// runs one section.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and starts certbound; skipped with -short")
	}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not found on PATH: README.md's commands were NOT checked (they need %s)",
			strings.Join(missing, ", "), strings.Join(tools, ", "))
		if os.Getenv("CERTBOUND_README_CHECK") == "require" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "*** SKIPPED TestReadme: "+msg+" ***")
		t.Skip("SKIPPED: " + msg)
	}

	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections, err := parseReadme(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(sections) == 0 {
		t.Fatal("README.md has no <!-- readme-check: SECTION --> marker: nothing would be checked")
	}
	pkgs, err := buildPackages(sections)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, root, bin, pkgs)
	for _, s := range sections {
		t.Run(s.name, func(t *testing.T) { runSection(t, root, bin, s) })
	}
}

// build compiles pkgs (paths relative to root) into bin, the way
// cmd/examples/internal/e2e does: `make test` has vetted, so compiled, every
// package before, so this is mostly linking.
func build(t *testing.T, root, bin string, pkgs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"build", "-o", bin + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The README's fixed ports, and what the test puts in their place.
const (
	serverPort   = ":8443"
	calendarPort = ":9444"
)

// runSection runs one section's blocks in a fresh directory against a fresh
// server, and compares every console command's output with the README's.
func runSection(t *testing.T, root, bin string, s section) {
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "bin")); err != nil {
		t.Fatal(err)
	}
	port, calPort := freePort(t), freePort(t)
	subst := strings.NewReplacer(serverPort, ":"+port, calendarPort, ":"+calPort)
	server := "https://localhost:" + port

	var steps []step
	for _, b := range s.blocks {
		st, err := b.steps()
		if err != nil {
			t.Fatal(err)
		}
		for i := range st {
			st[i].text = subst.Replace(st[i].text)
			for j := range st[i].want {
				st[i].want[j] = subst.Replace(st[i].want[j])
			}
		}
		steps = append(steps, st...)
	}

	serve(t, dir, "127.0.0.1:"+port, server)

	script := filepath.Join(dir, ".readme-check.sh")
	if err := os.WriteFile(script, []byte(scriptText(steps)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = dir
	cmd.Env = env(dir, server)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that the background commands (the calendar
	// service) stop with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Start()
	if runErr == nil {
		pgid := cmd.Process.Pid
		runErr = cmd.Wait()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
	}

	outputs, last := splitOutput(out.String())
	for i, st := range steps {
		got, ran := outputs[i]
		if !ran || (runErr != nil && i == last) {
			continue
		}
		if st.console && !sameShape(st.want, trimLines(got)) {
			t.Errorf("README.md:%d: the output of\n\t%s\nhas drifted; the README shows\n%s\nit printed\n%s",
				st.line, st.text, indent(st.want), indent(trimLines(got)))
		}
	}
	if runErr != nil {
		if last < 0 || last >= len(steps) {
			t.Fatalf("bash: %v before the first step:\n%s", runErr, out.String())
		}
		st := steps[last]
		t.Fatalf("README.md:%d: this failed (%v):\n\t%s\nits output:\n%s", st.line, runErr, st.text, indent(trimLines(outputs[last])))
	}
	if last != len(steps) {
		t.Fatalf("the script stopped after step %d of %d:\n%s", last+1, len(steps), out.String())
	}
	checkIgnored(t, root, dir)
}

// checkIgnored checks that everything the section's commands left in dir
// would be git-ignored in the repository root, where the README runs them:
// they include private keys and the data dir's copies.
func checkIgnored(t *testing.T, root, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if n == "bin" || strings.HasPrefix(n, ".readme-check") {
			continue // the test's own
		}
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Logf("no git on PATH: not checking that .gitignore covers %q", names)
		return
	}
	cmd := exec.Command("git", append([]string{"check-ignore", "--no-index", "--"}, names...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: none is ignored
		t.Fatalf("git check-ignore: %v", err)
	}
	ignored := map[string]bool{}
	for _, l := range trimLines(string(out)) {
		ignored[l] = true
	}
	for _, n := range names {
		if !ignored[n] {
			t.Errorf("the README's commands leave %s in the repository root, and .gitignore does not ignore it", n)
		}
	}
}

// stepMarker separates the steps' outputs in the script's output.
const stepMarker = "@@readme-check step "

// waitLines is the script's helper for background commands: wait until the
// file has $2 lines, at most 30 s, or until the process $3 has exited.
const waitLines = `readme_check_wait() {
	for _ in $(seq 300); do
		[ "$(wc -l < "$1")" -ge "$2" ] && return 0
		kill -0 "$3" 2>/dev/null || return 0
		sleep 0.1
	done
}
`

// scriptText is the bash script that runs steps in order: errexit and
// pipefail, as a careful reader would notice any failure.
func scriptText(steps []step) string {
	var b strings.Builder
	b.WriteString("set -eo pipefail\n")
	b.WriteString(waitLines)
	for i, st := range steps {
		fmt.Fprintf(&b, "printf '\\n%s%d\\n'\n", stepMarker, i)
		switch {
		case !st.console:
			b.WriteString(st.text + "\n")
		case st.background:
			log := fmt.Sprintf(".readme-check-bg-%d.log", i)
			fmt.Fprintf(&b, "{ %s\n} > %s 2>&1\n", st.text, log)
			fmt.Fprintf(&b, "readme_check_wait %s %d $!\n", log, countLines(st.want))
			fmt.Fprintf(&b, "head -n %d %s\n", countLines(st.want), log)
		default:
			fmt.Fprintf(&b, "{ %s\n} 2>&1\n", st.text)
		}
	}
	fmt.Fprintf(&b, "printf '\\n%s%d\\n'\n", stepMarker, len(steps))
	return b.String()
}

// countLines is how many lines a background command must print before the
// README's next command: those it shows, "…" lines aside.
func countLines(want []string) int {
	n := 0
	for _, w := range want {
		if squash(w) != "…" {
			n++
		}
	}
	return n
}

// splitOutput splits the script's output at the step markers. last is the
// last step that started (len(steps) once all ran), or -1.
func splitOutput(s string) (map[int]string, int) {
	out := map[int]string{}
	last := -1
	var cur strings.Builder
	flush := func() {
		if last >= 0 {
			out[last] = strings.TrimSuffix(cur.String(), "\n")
		}
		cur.Reset()
	}
	for _, l := range strings.SplitAfter(s, "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSuffix(l, "\n"), stepMarker); ok {
			if i, err := strconv.Atoi(n); err == nil {
				flush()
				last = i
				continue
			}
		}
		cur.WriteString(l)
	}
	flush()
	return out, last
}

// env is the environment the README's commands run in: the test's own,
// without certbound's variables, with HOME in the section's directory (no
// ~/.curlrc), and CERTBOUND_SERVER pointing the default server at the test's.
func env(dir, server string) []string {
	var e []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CERTBOUND_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		e = append(e, kv)
	}
	return append(e, "HOME="+dir, "CERTBOUND_SERVER="+server)
}

// serve starts `bin/certbound serve` in dir as `make run` does (data in
// ./certbound-data), on listen instead of the README's port, and waits until
// it serves. It is stopped when the test ends.
func serve(t *testing.T, dir, listen, issuer string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "bin", "certbound"), "serve",
		"--data-dir", "./certbound-data", "--listen", listen, "--issuer", issuer)
	cmd.Dir = dir
	cmd.Env = env(dir, issuer)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "msg=serving") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		err := cmd.Wait()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Errorf("certbound serve: %v", err)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("certbound serve's log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("certbound serve exited before serving:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatal("certbound serve did not log msg=serving within 30 s")
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

var blank = regexp.MustCompile(`^\s*$`)

func indent(lines []string) string {
	if len(lines) == 0 {
		return "\t(nothing)"
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if !blank.MatchString(l) {
			b.WriteString("\t" + l)
		}
	}
	return b.String()
}
