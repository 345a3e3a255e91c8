// Command demo runs Lambdascope end to end on this machine: a throwaway
// ClickHouse, the collector, and two sample functions with the real
// extension under the Lambda emulator. It sends a few dozen invocations
// (some cold, some failing), shuts the execution environments down so the
// extension flushes, then prints one cross-function trace and the latest
// invocation records read back out of ClickHouse with the lambdascope CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chserver"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if errors.Is(err, chserver.ErrUnavailable) {
			fmt.Fprintf(os.Stderr, "\nThe demo needs ClickHouse and it cannot be installed here: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		}
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "demo runs ClickHouse, the collector and two emulated Lambda functions with the\nLambdascope extension, then prints a trace, the invocation list and cost reports.\n\nFlags:")
		fs.PrintDefaults()
	}
	invocations := fs.Int("invocations", 30, "invocations of the orders function (each calls inventory)")
	concurrency := fs.Int("concurrency", 3, "invocations at once (more means more cold starts)")
	failEvery := fs.Int("fail-every", 5, "every n-th order makes inventory fail")
	workDir := fs.String("workdir", ".demo", "where binaries and logs go")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	abs, err := filepath.Abs(*workDir)
	if err != nil {
		return fmt.Errorf("resolve workdir: %w", err)
	}
	fmt.Println("Lambdascope demo")
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	stack, err := local.Start(ctx, local.Options{WorkDir: abs, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := stack.Stop(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "stopping: %v\n", err)
		}
	}()

	fmt.Printf("\nInvoking orders %d times, %d at a time; every %d-th order makes inventory fail ...\n", *invocations, *concurrency, *failEvery)
	calls, err := stack.RunWorkload(ctx, local.Workload{Invocations: *invocations, Concurrency: *concurrency, FailEvery: *failEvery},
		func(done, total int) {
			if done%10 == 0 || done == total {
				fmt.Printf("  %d/%d invocations done\n", done, total)
			}
		})
	if err != nil {
		return err
	}
	cold, failed := 0, 0
	for _, c := range calls {
		if c.ColdStart {
			cold++
		}
		if c.FailInventory {
			failed++
		}
	}
	fmt.Printf("  orders: %d invocations, %d cold starts, %d with a failing inventory call\n", len(calls), cold, failed)

	fmt.Println("\nShutting the execution environments down; the extension flushes what it holds ...")
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = stack.StopFunctions(sctx)
	cancel()
	if err != nil {
		return err
	}

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		return err
	}
	defer store.Close()
	var traceID [16]byte
	var pick local.Call
	for _, c := range calls {
		if !c.FailInventory || c.RequestID == "" {
			continue
		}
		recs, err := store.Invocations(ctx, storage.InvocationFilter{RequestIDs: []string{c.RequestID}})
		if err != nil {
			return fmt.Errorf("look up invocation %s: %w", c.RequestID, err)
		}
		if len(recs) == 1 && recs[0].TraceID != ([16]byte{}) {
			traceID, pick = recs[0].TraceID, c
			break
		}
	}
	if traceID == ([16]byte{}) {
		return fmt.Errorf("no invocation record with a trace ID reached ClickHouse; see %s and %s", stack.CollectorLog(), filepath.Join(abs, "functions.log"))
	}

	fmt.Printf("\nOne order (request %s) whose inventory call failed, as a trace across both functions:\n", pick.RequestID)
	if err := cli(ctx, stack, os.Stdout, "trace", fmt.Sprintf("%x", traceID)); err != nil {
		return err
	}
	fmt.Println("\nThe latest invocation records, from the platform's reports:")
	if err := cli(ctx, stack, os.Stdout, "invocations", "--limit", "10"); err != nil {
		return err
	}
	fmt.Println("\nWhat that one business transaction cost, every invocation in the trace summed:")
	if err := cli(ctx, stack, os.Stdout, "cost", fmt.Sprintf("%x", traceID)); err != nil {
		return err
	}
	fmt.Println("\nWhat each function cost over the last hour, at AWS's us-east-1 prices:")
	if err := cli(ctx, stack, os.Stdout, "cost", "--since", "1h"); err != nil {
		return err
	}
	fmt.Printf("\nLogs: %s, %s\n", stack.CollectorLog(), filepath.Join(abs, "functions.log"))
	return nil
}

// cli runs the lambdascope CLI against the stack's ClickHouse, echoing the
// command line a user would type.
func cli(ctx context.Context, s *local.Stack, out io.Writer, args ...string) error {
	fmt.Fprintf(out, "$ lambdascope %s\n", joinArgs(args))
	cmd := exec.CommandContext(ctx, s.Bin.CLI, args...)
	cmd.Env = append(os.Environ(), "LAMBDASCOPE_CLICKHOUSE_DSN="+s.DSN)
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lambdascope %s: %w", joinArgs(args), err)
	}
	return nil
}

func joinArgs(args []string) string { return strings.Join(args, " ") }
