// Command demo plays the seed guide's scenario end to end for `make demo`:
// certbound, the calendar service and the task service as separate
// processes, a created event, and a copied token replayed three ways. It
// exits 0 only if every step behaved as it says. Run it through `make demo`,
// which builds the binaries first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/certbound/certbound/cmd/examples/internal/demo"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding the certbound, taskservice and calendarservice binaries")
	keep := flag.Bool("keep", false, "keep the temporary directory (data dir, identities, logs) for a look afterwards")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.Run(ctx, demo.Config{Bin: *bin, Keep: *keep})
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted:
		fmt.Fprintln(os.Stderr, "demo: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo FAILED:", err)
		os.Exit(1)
	}
}
