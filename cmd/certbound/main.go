// Command certbound is a mutual-TLS certificate authority and
// machine-identity service: it enrolls services with one-time tokens, renews
// their certificates over mTLS, and trades an mTLS handshake for
// certificate-bound OAuth 2.0 access tokens. Run `certbound --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "certbound:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a code and no further message (the
// command already printed what happened).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
