// Command lambdascope prints distributed traces and invocation reports that
// Lambdascope stored in ClickHouse. Run "lambdascope help" for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/query/cmd/lambdascope/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	terminal := false
	if fi, err := os.Stdout.Stat(); err == nil {
		terminal = fi.Mode()&os.ModeCharDevice != 0
	}
	code := cli.Run(ctx, os.Args[1:], cli.Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Getenv:   os.Getenv,
		Now:      time.Now,
		Location: time.Local,
		Terminal: terminal,
	})
	stop()
	os.Exit(code)
}
