// Command demo runs Lambdascope end to end on this machine: a throwaway
// ClickHouse, the collector, and three sample functions with the real
// layer under the Lambda emulator: orders (Go, OpenTelemetry SDK) behind
// API Gateway, which calls inventory (Go, SDK) and sends each placed order
// to an SQS queue, and shipping (Node.js, no SDK, no tracing code), which
// consumes the queue in batches. It sends a few dozen requests (some
// cold, some failing, each from a traced client), shuts the
// execution environments down so the extension flushes, then prints one
// trace that runs from API Gateway through both functions and the queue,
// the links of shipping's batch, the latest invocation records, cost
// reports (what observability itself cost among them) and whether every
// span and log line sent was stored, read back out of ClickHouse with the
// lambdascope CLI.
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
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/query"
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

// loadedFactor is the load (runnable tasks per core) above which the
// emulated INIT and SHUTDOWN limits are widened.
const loadedFactor = 1.5

func run() error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "demo runs ClickHouse, the collector and three emulated Lambda functions with the\nLambdascope layer, then prints a trace, the invocation list and cost reports.\n\nFlags:")
		fs.PrintDefaults()
	}
	invocations := fs.Int("invocations", 30, "invocations of the orders function (each calls inventory)")
	concurrency := fs.Int("concurrency", 3, "invocations at once (more means more cold starts)")
	failEvery := fs.Int("fail-every", 5, "every n-th order makes inventory fail")
	traceEvery := fs.Int("trace-every", 1, "every n-th request comes from a traced client (a traceparent header), the others carry none")
	rest := fs.Bool("rest", false, "send API Gateway REST API events (payload 1.0) instead of HTTP API events (2.0)")
	workDir := fs.String("workdir", ".demo", "where binaries and logs go")
	strict := fs.Bool("strict-deadlines", false, "keep Lambda's 10 s INIT and 2 s SHUTDOWN limits on a loaded machine too (by default they are widened by the load, as the tests do)")
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
	opts := local.Options{WorkDir: abs, Log: log}
	if f := testload.Factor(); f > loadedFactor && !*strict {
		// Lambda's hosts are not shared with a compiler: on a loaded
		// machine the emulated limits would cut processes short that
		// AWS would give their time.
		opts.InitTimeout = testload.Scale(10*time.Second, time.Minute)
		opts.ShutdownDeadline = testload.Scale(2*time.Second, 30*time.Second)
		fmt.Printf("This machine is loaded (%.1f runnable tasks per core): the emulated INIT and SHUTDOWN limits are widened to %v and %v (-strict-deadlines keeps Lambda's 10 s and 2 s).\n",
			f, opts.InitTimeout, opts.ShutdownDeadline)
	}
	stack, err := local.Start(ctx, opts)
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

	api := "an HTTP API"
	if *rest {
		api = "a REST API"
	}
	traced := "each from a traced client"
	if *traceEvery != 1 {
		traced = fmt.Sprintf("every %d-th from a traced client", *traceEvery)
	}
	fmt.Printf("\nSending %d orders to orders through %s in API Gateway, %d at a time (every %d-th makes inventory fail,\n%s). Placed orders go to the SQS queue %s, which shipping consumes ...\n",
		*invocations, api, *concurrency, *failEvery, traced, local.OrdersQueue)
	calls, err := stack.RunWorkload(ctx, local.Workload{Invocations: *invocations, Concurrency: *concurrency, FailEvery: *failEvery,
		TraceEvery: *traceEvery, REST: *rest},
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

	st, err := stack.Emulator.QueueStats(local.OrdersQueue)
	if err != nil {
		return err
	}
	fmt.Printf("  %s: %d messages sent by orders, %d consumed by shipping in %d batches\n", local.OrdersQueue, st.Sent, st.Delivered, st.Batches)

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		return err
	}
	defer store.Close()
	pick, err := pickTrace(ctx, query.NewService(store))
	if err != nil {
		return fmt.Errorf("%w; see %s and %s", err, stack.CollectorLog(), filepath.Join(abs, "functions.log"))
	}

	fmt.Printf("\nOne order as a trace: API Gateway (a span the extension inferred from the event) with orders'\n"+
		"invocation under it, inventory, the message to the queue, and shipping, which has no tracing code,\n"+
		"under the SQS span the extension inferred from its batch; that span links to every message of the\n"+
		"batch (%d), each in the trace of the order that sent it:\n", pick.links)
	traceID := pick.trace
	if err := cli(ctx, stack, os.Stdout, "trace", traceID.String()); err != nil {
		return err
	}
	fmt.Println("\nThe latest invocation records, from the platform's reports:")
	if err := cli(ctx, stack, os.Stdout, "invocations", "--limit", "10"); err != nil {
		return err
	}
	fmt.Println("\nWhat that one business transaction cost, every invocation in the trace summed:")
	if err := cli(ctx, stack, os.Stdout, "cost", traceID.String()); err != nil {
		return err
	}
	fmt.Println("\nWhat each function cost over the last hour, at AWS's us-east-1 prices:")
	if err := cli(ctx, stack, os.Stdout, "cost", "--since", "1h"); err != nil {
		return err
	}
	fmt.Println("\nWhat observability itself cost: billed time the extension added, its start, what it shipped, beside CloudWatch Logs:")
	if err := cli(ctx, stack, os.Stdout, "cost", "--since", "1h", "--by", "observability"); err != nil {
		return err
	}
	fmt.Println("(ADDED is billed time after the runtime was done, which is none without an extension. Its cold share is\n" +
		"mostly the flush that ends an environment's first invocation waiting for the collector's answer, at most\n" +
		"150 ms: the collector answers once the batch is in ClickHouse, here a server on this same machine, or\n" +
		"once a small batch whose insert runs past 25 ms is in its WAL on disk (wal.ack_after).)")
	fmt.Println("\nWhether every span and log line the extensions sent was stored:")
	if err := cli(ctx, stack, os.Stdout, "completeness", "--since", "1h"); err != nil {
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

// picked is the trace the demo shows and the number of links of
// shipping's batch in it.
type picked struct {
	trace query.TraceID
	links int
}

// pickTrace finds a trace in which shipping consumed a batch: one with
// its order's inferred API Gateway span (under a traced client's span, or
// the root of the trace orders' SDK started for an untraced one) and whose
// batch held several messages, else the best there is.
func pickTrace(ctx context.Context, svc *query.Service) (picked, error) {
	invs, err := svc.Invocations(ctx, query.InvocationFilter{FunctionName: "shipping", Limit: 100})
	if err != nil {
		return picked{}, fmt.Errorf("read shipping invocations: %w", err)
	}
	var best picked
	bestScore := -1
	for _, inv := range invs {
		if inv.TraceID.IsZero() {
			continue
		}
		tr, err := svc.TraceByID(ctx, inv.TraceID)
		if err != nil {
			continue
		}
		var p picked
		p.trace = inv.TraceID
		score := 0
		tr.Walk(func(n *query.Node) bool {
			switch n.Span.Attributes["lambdascope.trigger"] {
			case "sqs":
				if n.Span.Attributes["lambdascope.invocation_id"] == inv.RequestID {
					p.links = len(n.Span.Links)
				}
			case "apigateway-http", "apigateway-rest":
				score += 2
			}
			return true
		})
		if p.links > 1 {
			score++
		}
		if score > bestScore || (score == bestScore && p.links > best.links) {
			best, bestScore = p, score
		}
	}
	if bestScore < 0 {
		return picked{}, errors.New("no shipping invocation with a trace reached ClickHouse")
	}
	return best, nil
}
