package readme

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A section is the blocks of README.md marked with one section name, in
// README order: one subtest.
type section struct {
	name   string
	blocks []block
}

// A block is one fenced code block a readme-check marker selected.
type block struct {
	lang  string   // "sh" or "console"
	build bool     // marked "(build)": its make/go build lines are done by the test
	line  int      // README line of the opening fence, for messages
	lines []string // the lines between the fences
}

// A step is one unit of the generated script: a whole ```sh block, or one
// command of a ```console block with the output the README shows for it.
type step struct {
	line       int    // README line where the step starts
	text       string // the shell text, as written (continuation lines joined by "\n")
	console    bool   // a console command: its output is compared with want
	background bool   // the command ends in "&"
	want       []string
}

var (
	markerRE = regexp.MustCompile(`^<!-- readme-check: ([a-z0-9-]+)( \(build\))? -->$`)
	fenceRE  = regexp.MustCompile("^```([a-z]*)$")
)

// errMarker is returned for a marker the test cannot use: a misspelt one,
// or one not followed by a ```sh or ```console block. A typo must not
// silently leave commands unchecked.
var errMarker = errors.New("readme-check marker")

// parseReadme returns the sections of a README, in order of their first
// block.
func parseReadme(text string) ([]section, error) {
	lines := strings.Split(text, "\n")
	var out []section
	index := map[string]int{}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "<!--") || !strings.Contains(l, "readme-check") {
			continue
		}
		m := markerRE.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("README.md:%d: %w: %q does not read <!-- readme-check: SECTION --> or <!-- readme-check: SECTION (build) -->", i+1, errMarker, l)
		}
		if i+1 >= len(lines) {
			return nil, fmt.Errorf("README.md:%d: %w: no block follows", i+1, errMarker)
		}
		f := fenceRE.FindStringSubmatch(lines[i+1])
		if f == nil || (f[1] != "sh" && f[1] != "console") {
			return nil, fmt.Errorf("README.md:%d: %w: the next line must open a ```sh or ```console block, not %q", i+1, errMarker, lines[i+1])
		}
		b := block{lang: f[1], build: m[2] != "", line: i + 2}
		j := i + 2
		for ; j < len(lines) && lines[j] != "```"; j++ {
			b.lines = append(b.lines, lines[j])
		}
		if j == len(lines) {
			return nil, fmt.Errorf("README.md:%d: %w: the block is never closed", b.line, errMarker)
		}
		k, ok := index[m[1]]
		if !ok {
			k = len(out)
			index[m[1]] = k
			out = append(out, section{name: m[1]})
		}
		out[k].blocks = append(out[k].blocks, b)
		i = j
	}
	return out, nil
}

// steps turns a block into the steps of the script. Build lines of a
// (build) block are left out: the test built their binaries.
func (b block) steps() ([]step, error) {
	if b.lang == "sh" {
		var keep []string
		for _, l := range b.lines {
			if b.build && isBuildLine(l) {
				continue
			}
			keep = append(keep, l)
		}
		return []step{{line: b.line + 1, text: strings.Join(keep, "\n")}}, nil
	}
	var out []step
	for i := 0; i < len(b.lines); i++ {
		l := b.lines[i]
		if !strings.HasPrefix(l, "$ ") {
			if len(out) == 0 {
				return nil, fmt.Errorf("README.md:%d: output before the first command of a console block", b.line+1+i)
			}
			out[len(out)-1].want = append(out[len(out)-1].want, l)
			continue
		}
		s := step{line: b.line + 1 + i, console: true}
		cmd := []string{strings.TrimPrefix(l, "$ ")}
		for strings.HasSuffix(cmd[len(cmd)-1], `\`) && i+1 < len(b.lines) {
			i++
			cmd = append(cmd, b.lines[i])
		}
		s.text = strings.Join(cmd, "\n")
		s.background = strings.HasSuffix(strings.TrimSpace(s.text), "&") && !strings.HasSuffix(strings.TrimSpace(s.text), "&&")
		if b.build && isBuildLine(s.text) {
			continue
		}
		out = append(out, s)
	}
	for i := range out {
		for len(out[i].want) > 0 && strings.TrimSpace(out[i].want[len(out[i].want)-1]) == "" {
			out[i].want = out[i].want[:len(out[i].want)-1]
		}
	}
	return out, nil
}

// isBuildLine reports whether a line of a (build) block builds binaries.
func isBuildLine(l string) bool {
	l = strings.TrimSpace(l)
	return strings.HasPrefix(l, "make ") || strings.HasPrefix(l, "go build ")
}

// buildPackages returns the packages the (build) blocks build, as paths
// relative to the repository root: `make build` is ./cmd/certbound, and a
// `go build -o bin/ PKG…` line names its own. Any other build line is an
// error, so that a new one cannot go unbuilt.
func buildPackages(sections []section) ([]string, error) {
	pkgs := []string{"./cmd/certbound"}
	seen := map[string]bool{"./cmd/certbound": true}
	for _, s := range sections {
		for _, b := range s.blocks {
			if !b.build {
				continue
			}
			for i, l := range b.lines {
				l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
				if !isBuildLine(l) {
					continue
				}
				f := strings.Fields(l)
				switch {
				case len(f) == 2 && f[0] == "make" && f[1] == "build":
				case len(f) > 4 && f[0] == "go" && f[1] == "build" && f[2] == "-o" && f[3] == "bin/":
					for _, p := range f[4:] {
						if !seen[p] {
							seen[p] = true
							pkgs = append(pkgs, p)
						}
					}
				default:
					return nil, fmt.Errorf("README.md:%d: the test cannot build %q: only `make build` and `go build -o bin/ PKG…`", b.line+1+i, l)
				}
			}
		}
	}
	return pkgs, nil
}
