// Package cli implements the lambdascope command line: it parses arguments,
// reads traces, invocations, functions, logs, costs and error spikes from
// ClickHouse through the query layer and prints them. It creates and
// migrates nothing; only the retention command deletes, and only with
// --apply.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/cmd/lambdascope/internal/render"
	"github.com/lambdascope/lambdascope/storage"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// EnvDSN names the environment variable holding the ClickHouse DSN.
const EnvDSN = "LAMBDASCOPE_CLICKHOUSE_DSN"

// The environment variables of the TLS flags.
const (
	EnvTLSCAFile     = "LAMBDASCOPE_CLICKHOUSE_TLS_CA_FILE"
	EnvTLSServerName = "LAMBDASCOPE_CLICKHOUSE_TLS_SERVER_NAME"
)

// DefaultDSN is used when neither --dsn nor LAMBDASCOPE_CLICKHOUSE_DSN is set.
const DefaultDSN = "clickhouse://127.0.0.1:9000/lambdascope"

// Env is what the command sees of its surroundings.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables (os.Getenv).
	Getenv func(string) string
	// Now is the current time (time.Now).
	Now func() time.Time
	// Location is the zone times are printed in (time.Local).
	Location *time.Location
	// Terminal reports whether Stdout is a terminal, for color.
	Terminal bool
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const rootUsage = `lambdascope reads what Lambdascope stored in ClickHouse: distributed traces
across Lambda functions, the platform's invocation reports, logs, what it all
cost and where errors spike.

Usage:
  lambdascope [--dsn DSN] <command> [flags] [arguments]

Commands:
  trace <trace-id>   print one trace as a tree of spans
  search             find traces by function, span, status, duration, attribute
  functions          list functions (--figures over time, --map who calls whom)
  logs               print log lines by request ID, trace, function or text
  cost [trace-id]    what functions, versions, days and traces cost
  rightsize          memory advice with the estimated monthly saving
  spikes             error spikes against each function's baseline (--watch)
  invocations        list the latest invocations
  retention          list, then with --apply drop, days older than each
                     table's retention (--days default=30,spans=7)
  help [command]     show help for a command

Global flags (also accepted after the command):
  --dsn DSN          ClickHouse native-protocol address with the database as path
                     (env LAMBDASCOPE_CLICKHOUSE_DSN, default ` + DefaultDSN + `)
  --timeout DURATION how long to wait for ClickHouse (default 30s)
  --tls-ca-file FILE PEM CAs ClickHouse's certificate must chain to: connects
                     over TLS (env LAMBDASCOPE_CLICKHOUSE_TLS_CA_FILE); for a
                     certificate the system trusts, add ?secure=true to the DSN
  --tls-server-name NAME
                     name ClickHouse's certificate must carry, when not the
                     DSN's host; also turns TLS on
                     (env LAMBDASCOPE_CLICKHOUSE_TLS_SERVER_NAME)
  --color MODE       highlight errors: auto, always or never (default auto;
                     auto means on a terminal unless NO_COLOR is set)

Examples:
  lambdascope trace 4bf92f3577b34da6a3ce929d0e0e4736
  lambdascope trace 1-5759e988-bd862e3fe1be46a994272793
  lambdascope invocations --function orders --since 2h
  lambdascope search --function orders --status error --since 1h
  lambdascope cost --since 30d --by version
  lambdascope spikes --watch --alertmanager http://localhost:9093
  LAMBDASCOPE_CLICKHOUSE_DSN=clickhouse://ch.internal:9000/lambdascope lambdascope invocations --output json

Exit status: 0 on success, 1 when the data cannot be read or is not there,
2 when the command line is wrong. Times are shown in the local zone (TZ).
Table commands print --output table (default), json or csv.
`

const traceUsage = `Usage: lambdascope trace [flags] <trace-id>

Prints one distributed trace as an indented tree: one line per span with its
function (and service), name, duration, status, start offset and notes such as
cold starts, failed invocations (a 5xx answer to API Gateway counts), the
trigger of a span the extension inferred from the event ("API Gateway GET
/orders 200", "SQS orders-queue process, 10 messages") and corrected clock
skew between functions. Below the tree: the spans of other traces this
trace's spans link to (where a consumed batch came from, with each record's
message ID) and the spans of other traces linking to this one (the
invocations that consumed what it produced).

The trace ID is 32 hex digits (W3C / OpenTelemetry) or an AWS X-Ray ID such as
1-5759e988-bd862e3fe1be46a994272793 (or a whole X-Ray header, Root=1-...).

Flags:
`

const traceExamples = `
Examples:
  lambdascope trace 4bf92f3577b34da6a3ce929d0e0e4736
  lambdascope trace --color never 1-5759e988-bd862e3fe1be46a994272793
  lambdascope trace --output json 4bf92f3577b34da6a3ce929d0e0e4736 | jq '.roots[0].span.name'
`

const invocationsUsage = `Usage: lambdascope invocations [flags]

Lists the latest invocation records, newest first: start time, function,
request ID, duration, billed duration, memory used/configured, cold start
(with init time), the trigger and its source (the queue, topic, bucket,
table or stream, the route, the schedule's rule), where the trace context
came from (w3c, xray, lambda, durable, function, none) and status, with
the error's type for a failed invocation (the platform's, then in
parentheses the function's own: errorString, TypeError, ValueError, ...)
and its message. A figure the platform did not
report shows as — (memory used as ?); a record written without the
platform's report says "(no report)" after its status. --tenant keeps one
tenant's invocations (functions in tenant isolation mode); --trigger and
--source keep those of one kind of trigger and one source; --failed those
that count as errors (a status other than success, or an HTTP status of
500 or more a proxy integration answered with); --error-type those whose
error has that type, the platform's or the function's. JSON output names
each record's tenant, the function's error type and the error's whole
message.

Flags:
`

const invocationsExamples = `
Examples:
  lambdascope invocations
  lambdascope invocations --function orders --since 30m --limit 50
  lambdascope invocations --since 7d --output json
  lambdascope invocations --function saas --tenant BlueTenant
  lambdascope invocations --trigger sqs --source orders-queue
  lambdascope invocations --source 'POST /orders/{id}'
  lambdascope invocations --function orders --failed --since 1h
  lambdascope invocations --function inventory --error-type errorString
`

// commonFlags are accepted by every command.
type commonFlags struct {
	dsn           string
	timeout       time.Duration
	color         string
	tlsCAFile     string
	tlsServerName string
}

func defaultCommonFlags() commonFlags {
	return commonFlags{dsn: DefaultDSN, timeout: 30 * time.Second, color: "auto"}
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dsn, "dsn", c.dsn, "ClickHouse DSN, clickhouse://host:port/database (env "+EnvDSN+")")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "how long to wait for ClickHouse")
	fs.StringVar(&c.tlsCAFile, "tls-ca-file", c.tlsCAFile, "PEM CAs ClickHouse's certificate must chain to; turns on TLS (env "+EnvTLSCAFile+")")
	fs.StringVar(&c.tlsServerName, "tls-server-name", c.tlsServerName, "name ClickHouse's certificate must carry; turns on TLS (env "+EnvTLSServerName+")")
	fs.StringVar(&c.color, "color", c.color, "highlight errors: auto (when writing to a terminal and NO_COLOR is unset), always or never")
}

// Run executes the command line args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Location == nil {
		env.Location = time.Local
	}
	// The storage layer logs its progress; the CLI's output is its answer.
	slog.SetDefault(slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	common := defaultCommonFlags()
	if v := env.Getenv(EnvDSN); v != "" {
		common.dsn = v
	}
	common.tlsCAFile, common.tlsServerName = env.Getenv(EnvTLSCAFile), env.Getenv(EnvTLSServerName)
	root := flag.NewFlagSet("lambdascope", flag.ContinueOnError)
	root.SetOutput(io.Discard)
	common.register(root)
	err := root.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, rootUsage)
		return ExitOK
	}
	if err != nil {
		return fail(env, usagef("%v", err))
	}
	rest := root.Args()
	if len(rest) == 0 {
		fmt.Fprint(env.Stderr, rootUsage)
		return ExitUsage
	}
	cmd, cmdArgs := rest[0], rest[1:]
	switch cmd {
	case "trace":
		return fail(env, runTrace(ctx, cmdArgs, common, env))
	case "invocations":
		return fail(env, runInvocations(ctx, cmdArgs, common, env))
	case "retention":
		return fail(env, runRetention(ctx, cmdArgs, common, env))
	case "help":
		return help(cmdArgs, env)
	default:
		if c := findCommand(cmd); c != nil {
			return fail(env, runTable(ctx, c, cmdArgs, common, env))
		}
		return fail(env, usagef("unknown command %q (want %s)", cmd, commandNames()))
	}
}

// commandNames lists every command for the unknown-command message, the
// table commands from their list so that a new one is never left out.
func commandNames() string {
	names := []string{"trace"}
	for _, c := range tableCommands {
		names = append(names, c.name)
	}
	names = append(names, "invocations", "retention")
	return strings.Join(names, ", ") + " or help"
}

func help(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stdout, rootUsage)
		return ExitOK
	}
	switch args[0] {
	case "trace":
		fs, _, _ := traceFlags(defaultCommonFlags())
		printUsage(env.Stdout, fs, traceUsage, traceExamples)
	case "invocations":
		fs, _ := invocationFlags(defaultCommonFlags())
		printUsage(env.Stdout, fs, invocationsUsage, invocationsExamples)
	case "retention":
		fs, _ := retentionFlags(defaultCommonFlags(), env)
		printUsage(env.Stdout, fs, retentionHead(), retentionExamples)
	default:
		if c := findCommand(args[0]); c != nil {
			c.help(env.Stdout)
			return ExitOK
		}
		return fail(env, usagef("no help for unknown command %q", args[0]))
	}
	return ExitOK
}

// fail prints err as one line and returns its exit code.
func fail(env Env, err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintln(env.Stderr, "lambdascope: "+render.CleanLines(err.Error()))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(env.Stderr, "Run 'lambdascope help' for usage.")
		return ExitUsage
	}
	return ExitError
}

func printUsage(w io.Writer, fs *flag.FlagSet, head, examples string) {
	fmt.Fprint(w, head)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, examples)
}

// parse parses flags that may come before or after positional arguments
// and returns the positional ones. --help prints the usage to stdout.
func parse(fs *flag.FlagSet, args []string, env Env, head, examples string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(env.Stdout, fs, head, examples)
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func traceFlags(common commonFlags) (*flag.FlagSet, *commonFlags, *string) {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := common
	c.register(fs)
	output := fs.String("output", "tree", "output format: tree or json")
	return fs, &c, output
}

func runTrace(ctx context.Context, args []string, common commonFlags, env Env) error {
	fs, c, output := traceFlags(common)
	pos, err := parse(fs, args, env, traceUsage, traceExamples)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("trace needs exactly one trace ID, got %d arguments", len(pos))
	}
	useColor, err := c.validate(env)
	if err != nil {
		return err
	}
	if *output != "tree" && *output != "json" {
		return usagef("--output must be tree or json, got %q", *output)
	}
	id, err := query.ParseTraceID(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	svc, closeStore, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer closeStore()
	tr, err := svc.TraceByID(ctx, id)
	if errors.Is(err, query.ErrTraceNotFound) {
		return fmt.Errorf("trace %s not found in %s: no span of it is stored (if the functions sample traces with LAMBDASCOPE_SAMPLE_RATE, it may have been left out whole)", id, redact(c.dsn))
	}
	if err != nil {
		return fmt.Errorf("cannot read trace %s from %s: %w%s", id, redact(c.dsn), err, schemaHint(err))
	}
	if *output == "json" {
		return render.TraceJSON(env.Stdout, tr)
	}
	return render.Trace(env.Stdout, tr, render.Options{Location: env.Location, Color: useColor})
}

type invocationOptions struct {
	function string
	tenant   string
	trigger  string
	source   string
	failed   bool
	errType  string
	since    string
	limit    int
	output   string
	where    whereFlag
}

func invocationFlags(common commonFlags) (*flag.FlagSet, func() (*commonFlags, invocationOptions)) {
	fs := flag.NewFlagSet("invocations", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := common
	c.register(fs)
	o := invocationOptions{since: "24h", limit: 20, output: "table"}
	fs.StringVar(&o.function, "function", "", "only this function (exact name)")
	fs.StringVar(&o.tenant, "tenant", "", "only this tenant (functions in tenant isolation mode)")
	fs.StringVar(&o.trigger, "trigger", "", "only this kind of trigger (sqs, apigateway-http, schedule, direct, ...)")
	fs.StringVar(&o.source, "source", "", "only events from this source (a queue's or table's name, a route such as 'POST /orders/{id}')")
	fs.StringVar(&o.errType, "error-type", "", "only invocations whose error has this type, the platform's (Runtime.Unknown) or the function's (errorString, TypeError)")
	fs.BoolVar(&o.failed, "failed", false, "only invocations that count as errors: a status other than success, or an HTTP status of 500 or more")
	fs.StringVar(&o.since, "since", o.since, "how far back to look: a duration such as 30m, 2h or 7d, or an RFC 3339 time")
	fs.IntVar(&o.limit, "limit", o.limit, fmt.Sprintf("at most this many invocations, newest first (1-%d)", query.MaxInvocationLimit))
	fs.StringVar(&o.output, "output", o.output, "output format: table or json")
	o.where.register(fs)
	return fs, func() (*commonFlags, invocationOptions) { return &c, o }
}

func runInvocations(ctx context.Context, args []string, common commonFlags, env Env) error {
	fs, values := invocationFlags(common)
	pos, err := parse(fs, args, env, invocationsUsage, invocationsExamples)
	if err != nil {
		return err
	}
	c, o := values()
	if len(pos) > 0 {
		return usagef("invocations takes no arguments, got %q", strings.Join(pos, " "))
	}
	useColor, err := c.validate(env)
	if err != nil {
		return err
	}
	if o.output != "table" && o.output != "json" {
		return usagef("--output must be table or json, got %q", o.output)
	}
	if o.limit < 1 || o.limit > query.MaxInvocationLimit {
		return usagef("--limit must be between 1 and %d, got %d", query.MaxInvocationLimit, o.limit)
	}
	now := env.Now()
	since, err := parseSince(o.since, now)
	if err != nil {
		return err
	}
	names, err := o.where.filters()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	svc, closeStore, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer closeStore()
	page, err := svc.InvocationsPage(ctx, query.InvocationFilter{FunctionName: o.function, TenantID: o.tenant,
		Trigger: o.trigger, TriggerSource: o.source, Failed: o.failed, ErrorType: o.errType, Since: since, Limit: o.limit}, names)
	if err != nil {
		return fmt.Errorf("cannot list invocations from %s: %w%s", redact(c.dsn), err, schemaHint(err))
	}
	noteCapped(env, page.Capped, query.MaxInvocationLimit, "invocations")
	invs := page.Rows
	opts := render.Options{Location: env.Location, Color: useColor}
	if o.output == "json" {
		return render.InvocationsJSON(env.Stdout, invs, opts)
	}
	return render.Invocations(env.Stdout, invs, opts)
}

// validate checks the common flags and says whether to use color.
func (c *commonFlags) validate(env Env) (bool, error) {
	if c.timeout <= 0 {
		return false, usagef("--timeout must be positive, got %s", c.timeout)
	}
	u, err := url.Parse(c.dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return false, usagef("--dsn must look like %s, got %q", DefaultDSN, redact(c.dsn))
	}
	return colorMode(c.color, env)
}

// parseSince turns "30m", "2h", "7d" or an RFC 3339 time into the start of
// the window ending now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.Before(now) {
			return time.Time{}, usagef("--since %s is not in the past", s)
		}
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return time.Time{}, usagef("--since must be a duration such as 30m, 2h or 7d, or an RFC 3339 time, got %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, usagef("--since must be a duration such as 30m, 2h or 7d, or an RFC 3339 time, got %q", s)
		}
	}
	if d <= 0 {
		return time.Time{}, usagef("--since must be positive, got %q", s)
	}
	return now.Add(-d), nil
}

func colorMode(mode string, env Env) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		return env.Terminal && env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb", nil
	default:
		return false, usagef("--color must be auto, always or never, got %q", mode)
	}
}

// open connects to ClickHouse for reading.
func open(ctx context.Context, c *commonFlags) (*query.Service, func(), error) {
	st, err := openStore(ctx, c, "")
	if err != nil {
		return nil, nil, err
	}
	return query.NewService(st), func() { _ = st.Close() }, nil
}

// openStore connects to ClickHouse without creating anything; cluster
// names the cluster the schema spans, if any.
func openStore(ctx context.Context, c *commonFlags, cluster string) (*storage.Store, error) {
	cfg := storage.DefaultConfig()
	cfg.DSN, cfg.ReadOnly, cfg.Cluster = c.dsn, true, cluster
	cfg.TLS = storage.TLSConfig{CAFile: c.tlsCAFile, ServerName: c.tlsServerName}
	if _, err := cfg.TLS.Client(); err != nil {
		return nil, fmt.Errorf("cannot use --tls-ca-file: %w", err)
	}
	st, err := storage.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to ClickHouse at %s: %w", redact(c.dsn), err)
	}
	return st, nil
}

// schemaHint explains a missing table or database: the DSN names the wrong
// database, or no collector has created the schema there yet.
func schemaHint(err error) string {
	if storage.IsUnknownTable(err) || storage.IsUnknownDatabase(err) {
		return " (no Lambdascope schema in this database: check the --dsn path, or start the collector, which creates it)"
	}
	return ""
}

// redact hides a password in the DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the configured DSN"
	}
	return u.Redacted()
}
