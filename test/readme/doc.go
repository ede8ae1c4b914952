// Package readme holds the test that runs README.md's commands as written
// (`make readme-check`; `make test` runs it too), so that the README cannot
// drift from the binaries it describes.
//
// The convention, in README.md itself: an HTML comment
//
//	<!-- readme-check: SECTION -->
//
// on the line before a fenced ```sh or ```console block selects that block
// for SECTION. Each section is one subtest (TestReadme/SECTION), run on its
// own: a temporary directory holding bin/ (the binaries, built from this
// tree), a fresh `certbound serve --data-dir ./certbound-data` started by the
// test (the README's "make run in another terminal"), and one bash process
// that runs the section's blocks in README order with errexit and pipefail.
//
//   - A ```sh block runs line by line as written; its output is not compared.
//   - In a ```console block, a line starting with "$ " is a command (a line
//     ending in "\" continues it) and the lines up to the next command are
//     its output, stdout and stderr together, as a terminal shows them. The
//     output must have the same shape: the same lines, with whitespace runs
//     taken as one space, and with the values that differ on every run
//     matched by their form (RFC 3339 times, openssl's dates, hex of 16
//     characters or more such as serials and fingerprints, base64url of 16
//     characters or more such as tokens and thumbprints). "…" stands for any
//     text; a line that is only "…" for any number of lines.
//   - A command that ends in "&" runs in the background, as the README's
//     reader runs it; the test waits (at most 30 s) until it has printed as
//     many lines as the README shows, compares those, and stops it at the
//     end of the section.
//   - "<!-- readme-check: SECTION (build) -->" marks a block whose
//     `make build` and `go build -o bin/ PKG…` lines the test does not run:
//     it builds bin/certbound and the named packages into the temporary bin/
//     itself, from the repository root, before any section runs. The other
//     lines of the block (export PATH=…) run as written.
//
// One substitution keeps the README copy-pasteable while the test runs next
// to a developer's own server: the README's fixed ports, ":8443" (certbound)
// and ":9444" (the calendar service), become free ports in commands and
// expected output alike, and CERTBOUND_SERVER points the CLI's and the
// example services' default server at the test's. Nothing else is changed.
//
// The test needs bash, curl, openssl and jq. When one is missing it skips
// and says so (the Makefile's test target says so too), unless
// CERTBOUND_README_CHECK=require is set, as .ci/run does: then it fails.
// The package has no code outside its tests.
package readme
