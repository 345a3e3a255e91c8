package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/cmd/lambdascope/internal/render"
	"github.com/lambdascope/lambdascope/storage"
)

// command is one of the read commands that print a table, JSON or CSV.
type command struct {
	name     string
	summary  string
	usage    string
	examples string
	// setup registers the command's flags and returns its runner.
	setup func(fs *flag.FlagSet, o *outputFlags) func(ctx context.Context, r *runner) error
}

// outputFlags are shared by the table commands.
type outputFlags struct {
	output string
	since  string
	until  string
}

// runner is what a command's run sees.
type runner struct {
	env    Env
	svc    *query.Service
	common *commonFlags
	out    *outputFlags
	pos    []string
	since  time.Time
	until  time.Time
}

// emit prints a table, or v as JSON, as --output says.
func (r *runner) emit(t *render.Table, v any) error {
	switch r.out.output {
	case "json":
		return render.JSON(r.env.Stdout, v)
	case "csv":
		return t.WriteCSV(r.env.Stdout, r.env.Terminal)
	default:
		return t.Write(r.env.Stdout)
	}
}

func (r *runner) time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if r.out.output == "table" {
		return t.In(r.env.Location).Format("2006-01-02 15:04:05.000")
	}
	return t.In(r.env.Location).Format(time.RFC3339Nano)
}

// money prints an amount for people, or as a plain number in CSV.
func (r *runner) money(v float64, currency string) string {
	if r.out.output != "table" {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return render.Money(v, currency)
}

func (r *runner) rangeOf() query.TimeRange { return query.TimeRange{Since: r.since, Until: r.until} }

var tableCommands = []*command{searchCommand, functionsCommand, logsCommand, droppedCommand, completenessCommand, costCommand, rightsizeCommand, spikesCommand}

func findCommand(name string) *command {
	for _, c := range tableCommands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (c *command) flags(common commonFlags) (*flag.FlagSet, *commonFlags, *outputFlags, func(context.Context, *runner) error) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf := common
	cf.register(fs)
	o := &outputFlags{output: "table", since: "1h"}
	fs.StringVar(&o.output, "output", o.output, "output format: table, json or csv")
	fs.StringVar(&o.until, "until", "", "end of the time range: a duration ago (such as 1h) or an RFC 3339 time (default now)")
	run := c.setup(fs, o)
	return fs, &cf, o, run
}

func (c *command) help(w io.Writer) {
	fs, _, _, _ := c.flags(defaultCommonFlags())
	printUsage(w, fs, c.usage+"\nFlags:\n", c.examples)
}

func runTable(ctx context.Context, c *command, args []string, common commonFlags, env Env) error {
	fs, cf, o, run := c.flags(common)
	pos, err := parse(fs, args, env, c.usage+"\nFlags:\n", c.examples)
	if err != nil {
		return err
	}
	if _, err := cf.validate(env); err != nil {
		return err
	}
	switch o.output {
	case "table", "json", "csv":
	default:
		return usagef("--output must be table, json or csv, got %q", o.output)
	}
	now := env.Now()
	r := &runner{env: env, common: cf, out: o, pos: pos, until: now}
	if r.since, err = parseSince(o.since, now); err != nil {
		return err
	}
	if o.until != "" {
		if r.until, err = parseUntil(o.until, now); err != nil {
			return err
		}
	}
	if !r.since.Before(r.until) {
		return usagef("--since must be before --until")
	}
	openCtx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	svc, closeStore, err := open(openCtx, cf)
	if err != nil {
		return err
	}
	defer closeStore()
	r.svc = svc
	err = run(ctx, r)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) && !errors.Is(err, query.ErrInvalidFilter) && !errors.Is(err, query.ErrTraceNotFound) {
		return fmt.Errorf("%s from %s: %w%s", c.name, redact(cf.dsn), err, schemaHint(err))
	}
	return err
}

// withTimeout bounds one read by --timeout.
func (r *runner) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.common.timeout)
}

// parseUntil is like parseSince for the end of a range.
func parseUntil(s string, now time.Time) (time.Time, error) {
	t, err := parseSince(s, now)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return time.Time{}, usagef("%s", strings.ReplaceAll(ue.msg, "--since", "--until"))
		}
		return time.Time{}, err
	}
	return t, nil
}

// attrFlags collects repeated --attr key=value flags.
type attrFlags map[string]string

func (a attrFlags) String() string { return "" }

func (a attrFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	a[k] = val
	return nil
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// estimateMark follows a figure that rests partly on billed durations the
// platform did not report.
const estimateMark = "*"

// noteEstimates says on stderr how many invocations were priced from an
// estimated billed duration.
func (r *runner) noteEstimates(n uint64) {
	if n == 0 {
		return
	}
	fmt.Fprintf(r.env.Stderr, "lambdascope: %s the platform did not report the billed duration of %s; estimated from the duration rounded up to 1 ms\n",
		estimateMark, invocationCount(n))
}

func ms(v float64) string { return render.Duration(time.Duration(v * float64(time.Millisecond))) }

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func joinOrDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

var searchCommand = &command{
	name:    "search",
	summary: "find traces by function, span, status, duration, attribute or cold start",
	usage: `Usage: lambdascope search [flags]

Finds traces with a span that matches every filter given, newest first, and
prints one line per trace: start, trace ID, root span, duration, span and
error counts, and the functions and services it crossed.
`,
	examples: `
Examples:
  lambdascope search --since 1h --function orders --status error
  lambdascope search --min-duration 2s --cold-start
  lambdascope search --attr http.route=/orders --attr tenant=acme --page 2
  lambdascope search --name "UPDATE accounts" --output csv > slow.csv
  lambdascope search --where 'service=~checkout|orders' --where 'function!=orders-canary'
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		f := query.TraceSearch{Attributes: map[string]string{}}
		page := 1
		var where whereFlag
		fs.StringVar(&f.FunctionName, "function", "", "a span of this function")
		fs.StringVar(&f.ServiceName, "service", "", "a span of this service (service.name)")
		fs.StringVar(&f.SpanName, "name", "", "a span with this exact name")
		fs.StringVar(&f.Status, "status", "", "a span with this status: ok, error or unset")
		fs.DurationVar(&f.MinDuration, "min-duration", 0, "a span lasting at least this long")
		fs.DurationVar(&f.MaxDuration, "max-duration", 0, "a span lasting at most this long")
		fs.Var(attrFlags(f.Attributes), "attr", "a span with attribute key=value (repeatable)")
		fs.BoolVar(&f.ColdStartOnly, "cold-start", false, "only spans of cold-start invocations")
		fs.IntVar(&f.Limit, "limit", query.DefaultSearchLimit, fmt.Sprintf("traces per page (1-%d)", query.MaxSearchLimit))
		fs.IntVar(&page, "page", page, "page number, 1 for the newest traces")
		where.register(fs)
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("search takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if page < 1 || f.Limit < 1 || f.Limit > query.MaxSearchLimit {
				return usagef("--page must be at least 1 and --limit between 1 and %d", query.MaxSearchLimit)
			}
			f.Since, f.Until, f.Offset = r.since, r.until, (page-1)*f.Limit
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			names, err := where.filters()
			if err != nil {
				return err
			}
			p, err := r.svc.SearchTracesPage(ctx, f, names)
			if err != nil {
				return err
			}
			noteCapped(r.env, p.Capped, query.MaxSearchLimit, "traces")
			got := p.Rows
			for i := range got {
				got[i].Start = got[i].Start.In(r.env.Location)
			}
			t := &render.Table{Headers: []string{"START", "TRACE ID", "ROOT", "DURATION", "SPANS", "ERRORS", "FUNCTIONS"}, Empty: "No traces found."}
			for _, s := range got {
				root := s.RootSource + " " + s.RootName
				if !s.HasRoot {
					root += " (root missing)"
				}
				t.Add(r.time(s.Start), s.TraceID.String(), root, render.Duration(s.Duration), u64(s.Spans), u64(s.ErrorSpans), joinOrDash(s.Sources))
			}
			return r.emit(t, got)
		}
	},
}

var functionsCommand = &command{
	name:    "functions",
	summary: "list every function seen, its figures over time, or the service map",
	usage: `Usage: lambdascope functions [flags]

Lists every function with invocations in the range: runtime, architecture,
memory, versions, last seen, invocations, errors, what triggers it
(faas.trigger), and what calls it and what it calls. With --figures it prints each function's figures per step
(invocations, errors, timeouts, p50/p95/p99 duration, cold starts, init time,
concurrency, memory used of configured); with --map, the service map edges.
`,
	examples: `
Examples:
  lambdascope functions --since 7d
  lambdascope functions --figures --function orders --since 6h --step 10m
  lambdascope functions --map --since 1h --output json
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		var (
			figures, serviceMap bool
			function            string
			step                time.Duration
			where               whereFlag
		)
		o.since = "24h"
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.BoolVar(&figures, "figures", false, "print figures over time instead of the catalog")
		fs.BoolVar(&serviceMap, "map", false, "print the service map (who calls whom) instead of the catalog")
		fs.StringVar(&function, "function", "", "with --figures: only this function")
		fs.DurationVar(&step, "step", 0, "with --figures: bucket width in whole seconds (default: about 60 buckets)")
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("functions takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if figures && serviceMap {
				return usagef("--figures and --map cannot be combined")
			}
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			sel, err := r.selection(ctx, where)
			if err != nil {
				return err
			}
			switch {
			case figures:
				pts, err := r.svc.FunctionFigures(ctx, query.FunctionQuery{TimeRange: r.rangeOf(), FunctionName: function, Step: step})
				if err != nil {
					return err
				}
				pts = slices.DeleteFunc(pts, func(p query.FunctionPoint) bool { return !sel.Keep(p.FunctionName, "") })
				for i := range pts {
					pts[i].Start = pts[i].Start.In(r.env.Location)
				}
				// Throttles never reach the extension: the column says so
				// rather than showing a zero.
				t := &render.Table{Headers: []string{"START", "FUNCTION", "INVOCATIONS", "ERRORS", "TIMEOUTS", "THROTTLES", "ERROR RATE", "P50", "P95", "P99", "COLD STARTS", "INIT", "CONCURRENCY", "MEMORY"}, Empty: "No invocations found."}
				for _, p := range pts {
					throttles := "unknown"
					if p.Throttles != nil {
						throttles = u64(*p.Throttles)
					}
					t.Add(r.time(p.Start), p.FunctionName, u64(p.Invocations), u64(p.Errors), u64(p.Timeouts), throttles, render.Percent(p.ErrorRate),
						ms(p.P50Ms), ms(p.P95Ms), ms(p.P99Ms), fmt.Sprintf("%d (%s)", p.ColdStarts, render.Percent(p.ColdStartRate)),
						ms(p.InitDurationMs), render.Float(p.Concurrency), fmt.Sprintf("%d/%d MB", p.MaxMemoryUsedMB, p.MemoryConfiguredMB))
				}
				return r.emit(t, pts)
			case serviceMap:
				m, err := r.svc.ServiceMap(ctx, r.rangeOf())
				if err != nil {
					return err
				}
				m = sel.ServiceMap(m)
				t := &render.Table{Headers: []string{"CALLER", "CALLEE", "KIND", "CALLS", "RATE/S", "ERROR RATE", "P50", "P95", "P99"}, Empty: "No calls found."}
				kinds := map[string]string{}
				for _, n := range m.Nodes {
					kinds[n.Name] = n.Kind
				}
				for _, e := range m.Edges {
					t.Add(e.Caller, e.Callee, kinds[e.Callee], u64(e.Calls), strconv.FormatFloat(e.RatePerSecond, 'g', 3, 64), render.Percent(e.ErrorRate),
						render.Duration(e.P50), render.Duration(e.P95), render.Duration(e.P99))
				}
				return r.emit(t, m)
			}
			fns, err := r.svc.Functions(ctx, r.rangeOf())
			if err != nil {
				return err
			}
			fns = slices.DeleteFunc(fns, func(f query.FunctionInfo) bool { return !sel.Keep(f.FunctionName, f.ServiceName) })
			for i := range fns {
				fns[i].FirstSeen, fns[i].LastSeen = fns[i].FirstSeen.In(r.env.Location), fns[i].LastSeen.In(r.env.Location)
			}
			t := &render.Table{Headers: []string{"FUNCTION", "ACCOUNT", "REGION", "RUNTIME", "ARCH", "MEMORY", "VERSIONS", "LAST SEEN", "INVOCATIONS", "ERRORS", "TRIGGERS", "CALLED BY", "CALLS"}, Empty: "No functions found."}
			for _, f := range fns {
				t.Add(f.FunctionName, f.AccountID, f.Region, f.Runtime, f.Architecture, fmt.Sprintf("%d MB", f.MemorySizeMB),
					joinOrDash(f.Versions), r.time(f.LastSeen), u64(f.Invocations), u64(f.Errors), joinOrDash(f.Triggers), joinOrDash(f.CalledBy), joinOrDash(f.Calls))
			}
			return r.emit(t, fns)
		}
	},
}

var logsCommand = &command{
	name:    "logs",
	summary: "print log lines by request ID, trace, function or text, newest first",
	usage: `Usage: lambdascope logs [flags]

Prints log records newest first: time, function, request ID, level and body.
`,
	examples: `
Examples:
  lambdascope logs --request-id 8476a536-e9f4-11e8-9739-2dfe598c3fcd
  lambdascope logs --trace 4bf92f3577b34da6a3ce929d0e0e4736
  lambdascope logs --function orders --grep timeout --since 6h --limit 500
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		var (
			q     query.LogQuery
			trace string
			where whereFlag
		)
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.StringVar(&q.FunctionName, "function", "", "only this function")
		fs.StringVar(&q.RequestID, "request-id", "", "only this invocation's request ID")
		fs.StringVar(&trace, "trace", "", "only this trace (32 hex digits or an X-Ray ID)")
		fs.StringVar(&q.Text, "grep", "", "only lines containing this text (ignoring case)")
		fs.IntVar(&q.Limit, "limit", query.DefaultLogLimit, fmt.Sprintf("at most this many lines (1-%d)", query.MaxLogLimit))
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("logs takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if q.Limit < 1 || q.Limit > query.MaxLogLimit {
				return usagef("--limit must be between 1 and %d, got %d", query.MaxLogLimit, q.Limit)
			}
			if trace != "" {
				id, err := query.ParseTraceID(trace)
				if err != nil {
					return usagef("--trace: %v", err)
				}
				q.TraceID = id
			}
			q.Since, q.Until = r.since, r.until
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			names, err := where.filters()
			if err != nil {
				return err
			}
			p, err := r.svc.LogsPage(ctx, q, names)
			if err != nil {
				return err
			}
			noteCapped(r.env, p.Capped, query.MaxLogLimit, "log lines")
			lines := p.Rows
			for i := range lines {
				lines[i].Time = lines[i].Time.In(r.env.Location)
			}
			t := &render.Table{Headers: []string{"TIME", "FUNCTION", "REQUEST ID", "LEVEL", "MESSAGE"}, Empty: "No log lines found."}
			for _, l := range lines {
				src := l.FunctionName
				if src == "" {
					src = l.ServiceName
				}
				t.Add(r.time(l.Time), src, l.RequestID, l.Severity, strings.TrimSpace(l.Body))
			}
			return r.emit(t, lines)
		}
	},
}

// loadPrices reads --prices or gives the defaults.
func loadPrices(path string) (*query.Prices, error) {
	if path == "" {
		p := query.DefaultPrices()
		return &p, nil
	}
	p, err := query.LoadPrices(path)
	if err != nil {
		return nil, usagef("--prices: %v", err)
	}
	return &p, nil
}

var costCommand = &command{
	name:    "cost",
	summary: "what functions, versions, days and traces cost",
	usage: `Usage: lambdascope cost [flags] [trace-id]

Prices the invocations of the range from their billed duration (INIT
included where Lambda bills it), memory, architecture, requests and
ephemeral storage. GB-second tiers apply per account, region and
architecture per month (--by tiers shows each function's share). The free
tier is shown with --by free and never subtracted. With a trace ID, prints
what every invocation of that distributed trace cost.

Prices default to AWS's public us-east-1 list; --prices reads tables per
region from a YAML or JSON file ({prices: [{region, effective_date,
currency, requests_per_million, ephemeral_storage_per_gb_second,
architectures: {x86_64: {duration: [{up_to_gb_seconds,
price_per_gb_second}]}}, free_tier}]}). The same file may list
provisioned concurrency ({provisioned_concurrency: [{function, qualifier,
region, architecture, memory_mb, concurrency, hours_per_day, from,
until}]}): its idle price is charged for every second it is configured
(PROVISIONED), since the invocation records do not carry it. A Compute
Savings Plan ({savings_plan: {discount: 0.12}}) takes its discount off
duration and provisioned concurrency, not requests.

SnapStart versions of runtimes that pay for it (Python, .NET; Java is
free) are charged their restores and a day of snapshot cache for each day
they ran (SNAPSTART; --by snapstart). Managed Instances fleets are listed
in the file ({capacity_providers: [{name, region, instance_type,
instances, functions, hours_per_day, from, until}]}): their instances'
on-demand price plus the management fee is shared over their functions'
invocations by the time each ran (INSTANCES; --by managed); a table's
managed_instances section ({effective_date, management_fee,
instance_hourly: {TYPE: price}}), snapstart and durable sections override
the defaults. --by tenant shows cost, invocations, cold starts and errors
per tenant of functions in tenant isolation mode, with the isolation
charge of the environments created (each cold start; ISOLATION, "?" where
the architecture has no known price). --by durable sums each
durable execution's invocations (one trace) and prices its operations
(the most checkpointed operations one invocation was handed: a lower
bound); the state it wrote and kept is not priced, since the records do
not carry its size.

--by observability prices what observability itself cost, per function and
day: ADDED is the billed time after the runtime was done (the report's
duration against platform.runtimeDone's, each rounded up to 1 ms as Lambda
bills, INIT left out; every extension's, not only Lambdascope's), over
MEASURED invocations (records with both durations); INIT is the extension's own start within billed INIT
time, an upper bound (the runtime initialises at the same time); SHIPPED
is what the extension sent, before compression, at AWS's data transfer out
tiers ($0.09/GB for the first 10 TB a month, $0.085 to 50 TB, $0.07 to
150 TB, $0.05 beyond; filled by the report's bytes alone, the 100 GB a
month free not taken off: an upper bound); CLOUDWATCH is what the stored
log lines would have cost in CloudWatch Logs at its tiered ingestion prices
for Lambda logs, in the Standard class ($0.50/$0.25/$0.10/$0.05 per GB past
10/30/50 TB a month) or, with --log-class infrequent-access, the
Infrequent Access class ($0.25/$0.15/$0.075/$0.05); bodies only, so a lower
bound. Prices: us-east-1, as of 2025-05-01; compute at the first tier of
--prices. The file's observability section overrides them
({observability: {cloudwatch_logs_class, transfer_out,
cloudwatch_logs_standard, cloudwatch_logs_infrequent_access: [{up_to_gb,
price_per_gb}]}}); prices no AWS page confirms are named on stderr.
`,
	examples: `
Examples:
  lambdascope cost --since 30d
  lambdascope cost --since 30d --by version --function orders
  lambdascope cost --since 7d --by day --output csv
  lambdascope cost --since 7d --by day --tz Europe/Berlin --where 'service!=checkout'
  lambdascope cost --since 30d --by tiers
  lambdascope cost --since 7d --by tenant --function api
  lambdascope cost --prices fleet.yaml --since 30d --by managed
  lambdascope cost --since 7d --by observability
  lambdascope cost --since 30d --by observability --log-class infrequent-access
  lambdascope cost 4bf92f3577b34da6a3ce929d0e0e4736
  lambdascope cost --prices prices.yaml --since 30d --output json
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		var by, function, pricesPath, tz, logClass string
		var where whereFlag
		o.since = "30d"
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.StringVar(&by, "by", "function", "rows per function, version, day, tiers, free, snapstart, managed, tenant, durable or observability")
		fs.StringVar(&function, "function", "", "only this function")
		fs.StringVar(&pricesPath, "prices", "", "price tables file (.yaml, .yml or .json)")
		fs.StringVar(&tz, "tz", "UTC", "with --by day: the time zone whose days the rows are (IANA name, or Local)")
		fs.StringVar(&logClass, "log-class", "", "with --by observability: the CloudWatch Logs class the logs are priced in, standard or infrequent-access (default: the price file's, else standard)")
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if logClass != "" && by != "observability" {
				return usagef("--log-class applies to --by observability only")
			}
			view, err := r.costView(by, tz, where)
			if err != nil {
				return err
			}
			prices, err := loadPrices(pricesPath)
			if err != nil {
				return err
			}
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			if len(r.pos) > 1 {
				return usagef("cost takes at most one trace ID, got %d arguments", len(r.pos))
			}
			if len(r.pos) == 1 {
				id, err := query.ParseTraceID(r.pos[0])
				if err != nil {
					return usagef("%v", err)
				}
				if len(where) > 0 || function != "" || by != "function" {
					return usagef("cost with a trace ID prices every invocation of that trace: --by, --function and --where do not apply to it")
				}
				tc, err := r.svc.TraceCost(ctx, prices, id)
				if err != nil {
					return err
				}
				t := &render.Table{Headers: []string{"FUNCTION", "REQUEST ID", "ARCH", "MEMORY", "BILLED", "COST"}}
				estimated := 0
				for _, i := range tc.Invocations {
					billed := u64(i.BilledDurationMs) + "ms"
					if i.BilledEstimated {
						billed += estimateMark
						estimated++
					}
					t.Add(i.FunctionName, i.RequestID, i.Architecture, fmt.Sprintf("%d MB", i.MemorySizeMB), billed, r.money(i.Cost, tc.Currency))
				}
				if r.out.output == "table" {
					t.Add("TOTAL", "", "", "", "", render.Money(tc.Total, tc.Currency))
				}
				r.noteEstimates(uint64(estimated))
				return r.emit(t, tc)
			}
			sel, err := r.svc.Select(ctx, r.rangeOf(), view.Names)
			if err != nil {
				return err
			}
			if by == "observability" {
				obs := prices.ObservabilityPrices()
				if logClass != "" {
					if obs.LogClass, err = query.ParseLogClass(logClass); err != nil {
						return usagef("--log-class: %v", err)
					}
				}
				return r.observabilityCost(ctx, prices, obs, query.CostQuery{TimeRange: r.rangeOf(), FunctionName: function}, sel)
			}
			if by == "durable" {
				dr, err := r.svc.DurableCosts(ctx, prices, query.DurableQuery{TimeRange: r.rangeOf(), FunctionName: function})
				if err != nil {
					return err
				}
				t := &render.Table{Headers: []string{"EXECUTION", "FUNCTION", "START", "INVOCATIONS", "REPLAYS", "OPERATIONS (≥)", "INVOCATIONS COST", "OPERATIONS COST", "TOTAL", "TRACE"},
					Empty: "No durable executions found."}
				for _, e := range dr.Executions {
					t.Add(e.ExecutionARN, e.FunctionName, r.time(e.Start), u64(e.Invocations), u64(e.Replays), u64(e.Operations),
						r.money(e.InvocationsCost, dr.Currency), r.money(e.OperationsCost, dr.Currency), r.money(e.Total, dr.Currency), e.TraceID.String())
				}
				for _, n := range dr.Notes {
					fmt.Fprintf(r.env.Stderr, "lambdascope: durable cost %s\n", render.Clean(n))
				}
				return r.emit(t, dr)
			}
			if by == "tenant" {
				tr, err := r.svc.TenantCosts(ctx, prices, query.CostQuery{TimeRange: r.rangeOf(), FunctionName: function})
				if err != nil {
					return err
				}
				tr.Tenants = slices.DeleteFunc(tr.Tenants, func(l query.TenantLine) bool { return !sel.Keep(l.FunctionName, "") })
				t := &render.Table{Headers: []string{"TENANT", "FUNCTION", "ACCOUNT", "REGION", "INVOCATIONS", "COLD STARTS", "ERRORS", "GB-SECONDS", "ISOLATION", "COST"},
					Empty: "No invocations with a tenant found."}
				var unpriced []string
				for _, l := range tr.Tenants {
					iso := r.money(l.Isolation, tr.Currency)
					if l.IsolationUnpriced {
						iso += "?"
						unpriced = append(unpriced, l.TenantID+"/"+l.FunctionName)
					}
					t.Add(l.TenantID, l.FunctionName, l.AccountID, l.Region, u64(l.Invocations), u64(l.ColdStarts), u64(l.Errors),
						render.Float(l.GBSeconds), iso, r.money(l.Cost, tr.Currency))
				}
				if len(unpriced) > 0 {
					fmt.Fprintf(r.env.Stderr, "lambdascope: ? no tenant isolation price for the architecture of some cold starts of %s; they are not priced\n",
						render.Clean(strings.Join(unpriced, ", ")))
				}
				return r.emit(t, tr)
			}
			rep, err := r.svc.CostIn(ctx, prices, query.CostQuery{TimeRange: r.rangeOf(), FunctionName: function}, view)
			if err != nil {
				return err
			}
			cur := rep.Currency
			money := func(v float64) string { return r.money(v, cur) }
			// What a Savings Plan took off (already out of COMPUTE and
			// PROVISIONED), as a negative amount.
			discount := func(v float64) string {
				if v == 0 {
					return money(0)
				}
				return money(-v)
			}
			lines := func(key []string, ls []query.CostLine, keyOf func(query.CostLine) []string) *render.Table {
				t := &render.Table{Headers: append(key, "INVOCATIONS", "GB-SECONDS", "COMPUTE", "REQUESTS", "STORAGE", "PROVISIONED", "SNAPSTART", "INSTANCES",
					"STREAMING", "SAVINGS PLAN", "TOTAL", "PER 1M"), Empty: "No invocations found."}
				// In a table, a figure priced partly from estimated billed
				// durations is marked.
				mark := func(c query.Cost) string {
					if c.EstimatedInvocations > 0 && r.out.output == "table" {
						return estimateMark
					}
					return ""
				}
				for _, l := range ls {
					t.Add(append(keyOf(l), u64(l.Invocations), render.Float(l.GBSeconds)+mark(l.Cost), money(l.Compute), money(l.Requests),
						money(l.Ephemeral), money(l.Provisioned), money(l.SnapStart), money(l.ManagedInstances), money(l.Streaming), discount(l.SavingsPlan),
						money(l.Total)+mark(l.Cost), money(l.PerMillion))...)
				}
				if len(ls) > 0 && r.out.output == "table" {
					total := make([]string, len(key))
					total[0] = "TOTAL"
					c := rep.Total
					t.Add(append(total, u64(c.Invocations), render.Float(c.GBSeconds)+mark(c), money(c.Compute), money(c.Requests),
						money(c.Ephemeral), money(c.Provisioned), money(c.SnapStart), money(c.ManagedInstances), money(c.Streaming), discount(c.SavingsPlan),
						money(c.Total)+mark(c), money(c.PerMillion))...)
				}
				return t
			}
			var t *render.Table
			switch by {
			case "function":
				t = lines([]string{"FUNCTION", "ACCOUNT", "REGION"}, rep.ByFunction, func(l query.CostLine) []string { return []string{l.FunctionName, l.AccountID, l.Region} })
			case "version":
				t = lines([]string{"FUNCTION", "VERSION", "ACCOUNT", "REGION"}, rep.ByVersion, func(l query.CostLine) []string {
					return []string{l.FunctionName, l.Version, l.AccountID, l.Region}
				})
			case "day":
				t = lines([]string{"DAY (" + view.DayZone().String() + ")"}, rep.ByDay, func(l query.CostLine) []string {
					return []string{l.Day.In(view.DayZone()).Format("2006-01-02")}
				})
			case "tiers":
				t = &render.Table{Headers: []string{"MONTH", "ACCOUNT", "REGION", "ARCH", "GROUP GB-S", "GROUP COMPUTE", "RATE/GB-S", "FUNCTION", "SHARE", "COMPUTE"}, Empty: "No invocations found."}
				for _, g := range rep.Tiers {
					for _, s := range g.Shares {
						t.Add(g.Month, g.AccountID, g.Region, g.Architecture, render.Float(g.GBSeconds), money(g.Compute),
							strconv.FormatFloat(g.BlendedRate, 'g', 8, 64), s.FunctionName, render.Percent(s.Fraction), money(s.Compute))
					}
				}
			case "free":
				t = &render.Table{Headers: []string{"MONTH", "ACCOUNT", "FREE REQUESTS", "FREE GB-S", "FREE STREAMED GB", "VALUE (NOT SUBTRACTED)"}, Empty: "No invocations found."}
				for _, f := range rep.FreeTier {
					t.Add(f.Month, f.AccountID, u64(f.Requests), render.Float(f.GBSeconds), render.Float(f.StreamedGB), money(f.Value))
				}
			case "snapstart":
				t = &render.Table{Headers: []string{"FUNCTION", "VERSION", "RUNTIME", "MEMORY", "RESTORES", "CACHE HOURS", "CACHE", "RESTORE"},
					Empty: "No SnapStart invocations found."}
				for _, l := range rep.SnapStart {
					rt := l.Runtime
					if l.Free {
						rt += " (free)"
					}
					t.Add(l.FunctionName, l.Version, rt, fmt.Sprintf("%d MB", l.MemorySizeMB), u64(l.Restores), render.Float(l.CacheSeconds/3600),
						money(l.Cache), money(l.Restore))
				}
			case "managed":
				t = &render.Table{Headers: []string{"CAPACITY PROVIDER", "REGION", "INSTANCE TYPE", "INSTANCES", "INSTANCE HOURS", "PRICE/H (+FEE)", "PRICES OF", "COST", "IDLE"},
					Empty: "No capacity providers in the price configuration."}
				for _, l := range rep.ManagedInstances {
					price := strconv.FormatFloat(l.HourlyPrice, 'g', 8, 64)
					if l.Unpriced {
						price = "not in the price table"
					} else if l.PriceUnconfirmed {
						price += "?"
					}
					t.Add(l.Name, l.Region, l.InstanceType, render.Float(l.Instances), render.Float(l.InstanceHours), price, l.PriceDate,
						money(l.Cost), money(l.Idle))
				}
			default:
				return usagef("--by must be function, version, day, tiers, free, snapstart, managed, tenant, durable or observability, got %q", by)
			}
			if by != "tiers" && by != "free" && by != "snapstart" && by != "managed" {
				r.noteEstimates(rep.Total.EstimatedInvocations)
			}
			if note := rep.RetentionNote(); note != "" {
				fmt.Fprintf(r.env.Stderr, "lambdascope: %s\n", render.Clean(note))
			}
			if len(rep.UnpricedManagedInstances) > 0 {
				fmt.Fprintf(r.env.Stderr, "lambdascope: %s ran on Managed Instances with no capacity provider in --prices; their instances are not priced\n",
					render.Clean(strings.Join(rep.UnpricedManagedInstances, ", ")))
			}
			var unconfirmed []string
			for _, l := range rep.ManagedInstances {
				if l.PriceUnconfirmed && !slices.Contains(unconfirmed, l.InstanceType) {
					unconfirmed = append(unconfirmed, l.InstanceType)
				}
			}
			if len(unconfirmed) > 0 {
				fmt.Fprintf(r.env.Stderr, "lambdascope: ? the default on-demand price of %s is unconfirmed (no AWS source for it was found); Managed Instances costs with it are estimates: set managed_instances.instance_hourly in --prices\n",
					strings.Join(unconfirmed, ", "))
			}
			if len(rep.FallbackRegions) > 0 {
				fmt.Fprintf(r.env.Stderr, "lambdascope: no price table for %s; priced with %s prices\n", render.Clean(strings.Join(rep.FallbackRegions, ", ")), query.DefaultRegion)
			}
			return r.emit(t, rep)
		}
	},
}

var rightsizeCommand = &command{
	name:    "rightsize",
	summary: "memory advice per function with the estimated monthly saving",
	usage: `Usage: lambdascope rightsize [flags]

Compares each function's configured memory with the most it used, suggests
a size with headroom, and estimates the monthly saving at that size from the
billed duration of the range scaled to 30 days (assuming the duration stays
the same; functions bound by CPU get less of it with less memory, so measure
before and after). Functions using 90% or more of their memory are advised
to grow.
`,
	examples: `
Examples:
  lambdascope rightsize --since 14d
  lambdascope rightsize --headroom 0.5 --min-invocations 1000 --output json
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		cfg := query.DefaultRightsizeConfig()
		var pricesPath string
		var where whereFlag
		o.since = "14d"
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.Float64Var(&cfg.Headroom, "headroom", cfg.Headroom, "fraction added to the highest memory used")
		fs.Uint64Var(&cfg.MinInvocations, "min-invocations", cfg.MinInvocations, "skip functions with fewer invocations")
		fs.StringVar(&pricesPath, "prices", "", "price tables file (.yaml, .yml or .json)")
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("rightsize takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			prices, err := loadPrices(pricesPath)
			if err != nil {
				return err
			}
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			adv, err := r.svc.Rightsize(ctx, prices, cfg, r.rangeOf())
			if err != nil {
				return err
			}
			sel, err := r.selection(ctx, where)
			if err != nil {
				return err
			}
			adv = slices.DeleteFunc(adv, func(a query.Advice) bool { return !sel.Keep(a.FunctionName, "") })
			t := &render.Table{Headers: []string{"FUNCTION", "REGION", "ARCH", "CONFIGURED", "MAX USED", "SUGGESTED", "ACTION", "P95", "MONTHLY NOW", "MONTHLY SAVING", "WHY"}, Empty: "No function has enough invocations for advice."}
			for _, a := range adv {
				t.Add(a.FunctionName, a.Region, a.Architecture, fmt.Sprintf("%d MB", a.ConfiguredMB), fmt.Sprintf("%d MB", a.MaxUsedMB),
					fmt.Sprintf("%d MB", a.SuggestedMB), a.Action, ms(a.DurationP95Ms), r.money(a.MonthlyCostNow, "USD"),
					r.money(a.MonthlySaving, "USD"), a.Reason)
			}
			return r.emit(t, adv)
		}
	},
}

var spikesCommand = &command{
	name:    "spikes",
	summary: "error spikes against each function's own baseline; --watch notifies",
	usage: `Usage: lambdascope spikes [flags]

Compares each function's error rate over the last --window with its rate
over the --baseline before it. A function fires when its rate is at least
--factor times its baseline, at least --min-rate, clearly above the
baseline's noise, and it had at least --min-invocations and --min-errors
(so a blip on a quiet function does not page).

With --watch it evaluates every --interval until interrupted and posts
firing and resolved alerts to Alertmanager (--alertmanager, v2 API) and to
webhooks (--webhook, JSON {"alerts": [...]} on every change).
`,
	examples: `
Examples:
  lambdascope spikes
  lambdascope spikes --window 10m --baseline 2h --factor 4
  lambdascope spikes --watch --interval 1m --alertmanager http://alertmanager:9093
  lambdascope spikes --watch --webhook https://hooks.example.com/lambda-errors
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		wc := query.DefaultWatcherConfig()
		c := &wc.Spike
		var (
			watch    bool
			am       string
			webhooks listFlag
			where    whereFlag
		)
		fs.DurationVar(&c.Window, "window", c.Window, "the recent span judged")
		fs.DurationVar(&c.Baseline, "baseline", c.Baseline, "the span before --window it is compared with")
		fs.DurationVar(&c.Step, "step", c.Step, "bucket width of the figures read")
		fs.Float64Var(&c.Factor, "factor", c.Factor, "how many times its baseline rate the error rate must reach")
		fs.Float64Var(&c.MinErrorRate, "min-rate", c.MinErrorRate, "lowest error rate (0-1) that fires")
		fs.Uint64Var(&c.MinInvocations, "min-invocations", c.MinInvocations, "fewest invocations in --window to judge")
		fs.Uint64Var(&c.MinErrors, "min-errors", c.MinErrors, "fewest errors in --window to fire")
		fs.BoolVar(&watch, "watch", false, "evaluate every --interval and notify until interrupted")
		fs.DurationVar(&wc.Interval, "interval", wc.Interval, "with --watch: time between evaluations")
		fs.StringVar(&am, "alertmanager", "", "with --watch: Alertmanager base URL, such as http://localhost:9093")
		fs.Var(&webhooks, "webhook", "with --watch: URL to POST changes to as JSON (repeatable)")
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("spikes takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if err := wc.Validate(); err != nil {
				return usagef("%v", err)
			}
			names, err := where.filters()
			if err != nil {
				return err
			}
			evaluate := func(ctx context.Context, now time.Time) ([]query.SpikeStatus, error) {
				ctx, cancel := r.withTimeout(ctx)
				defer cancel()
				sts, err := r.svc.Spikes(ctx, *c, now)
				if err != nil || names.IsZero() {
					return sts, err
				}
				sel, err := r.svc.Select(ctx, query.TimeRange{Since: now.Add(-c.Window - c.Baseline), Until: now}, names)
				if err != nil {
					return nil, err
				}
				return slices.DeleteFunc(sts, func(s query.SpikeStatus) bool { return !sel.Keep(s.FunctionName, "") }), nil
			}
			table := func(sts []query.SpikeStatus) *render.Table {
				t := &render.Table{Headers: []string{"FUNCTION", "STATE", "INVOCATIONS", "ERRORS", "ERROR RATE", "BASELINE", "THRESHOLD", "WHY"}, Empty: "No invocations in the window."}
				for _, s := range sts {
					state := "ok"
					if s.Firing {
						state = "FIRING"
					}
					t.Add(s.FunctionName, state, u64(s.Invocations), u64(s.Errors), render.Percent(s.ErrorRate),
						render.Percent(s.BaselineRate), render.Percent(s.Threshold), s.Reason)
				}
				return t
			}
			if !watch {
				if am != "" || len(webhooks) > 0 {
					return usagef("--alertmanager and --webhook need --watch")
				}
				sts, err := evaluate(ctx, r.env.Now())
				if err != nil {
					return err
				}
				return r.emit(table(sts), sts)
			}
			var notifiers []query.Notifier
			if am != "" {
				notifiers = append(notifiers, &query.AlertmanagerNotifier{URL: am})
			}
			for _, u := range webhooks {
				notifiers = append(notifiers, &query.WebhookNotifier{URL: u})
			}
			w, err := query.NewWatcher(wc, evaluate, notifiers, nil)
			if err != nil {
				return usagef("%v", err)
			}
			w.OnEvaluated = func(alerts []query.Alert) {
				for _, a := range alerts {
					if a.Changed {
						fmt.Fprintf(r.env.Stdout, "%s %s %s: %s\n", r.time(a.Spike.At), strings.ToUpper(a.Status), render.Clean(a.Spike.FunctionName), render.Clean(a.Spike.Reason))
					}
				}
			}
			if err := w.Start(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := w.Shutdown(shutdownCtx); err != nil {
				return err
			}
			if st := w.Stats(); st.FailedNotifications > 0 || st.FailedEvaluations > 0 {
				fmt.Fprintf(r.env.Stderr, "lambdascope: %d evaluations, %d failed; %d notifications dropped\n", st.Evaluations, st.FailedEvaluations, st.FailedNotifications)
			}
			return nil
		}
	},
}

// Compile-time check that the storage the CLI opens serves the query layer.
var _ query.Store = (*storage.Store)(nil)

func invocationCount(n uint64) string {
	if n == 1 {
		return "1 invocation"
	}
	return u64(n) + " invocations"
}

var droppedCommand = &command{
	name:    "dropped",
	summary: "log records Lambda dropped per function before the extension took them",
	usage: `Usage: lambdascope dropped [flags]

Lists the functions for which Lambda dropped log records because the
extension did not take them in time (platform.logsDropped), most first,
with the number of execution environments that dropped some. The figures
come from the extension's own counter; an environment that started before
the range counts what it reported dropping within the range.
`,
	examples: `
Examples:
  lambdascope dropped --since 24h
  lambdascope dropped --since 7d --function orders --output json
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		var function string
		o.since = "24h"
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.StringVar(&function, "function", "", "only this function")
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("dropped takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			ds, err := r.svc.LogsDropped(ctx, r.rangeOf(), function)
			if err != nil {
				return err
			}
			t := &render.Table{Headers: []string{"FUNCTION", "DROPPED RECORDS", "ENVIRONMENTS"}, Empty: "Lambda dropped no log records."}
			for _, d := range ds {
				t.Add(d.FunctionName, u64(d.Records), u64(d.Environments))
			}
			return r.emit(t, ds)
		}
	},
}

var completenessCommand = &command{
	name:    "completeness",
	summary: "spans and log lines stored against what the extensions sent, per function and hour",
	usage: `Usage: lambdascope completeness [flags]

Compares, per function and UTC hour, what the extensions received with what
ClickHouse holds, as a percentage, and names where anything went missing:

  lambda            Lambda dropped log records before the extension took
                    them (platform.logsDropped)
  extension buffer  the extension's buffer was full (or it had nowhere to send)
  spool             the extension's spool was over its cap or could not write
  collector         the collector refused a batch for good (max_batch_items,
                    an invalid batch) or left malformed items of it out
  storage           ClickHouse refused the batch (it is in the quarantine)
  unaccounted       expected, not stored and counted nowhere: still in a spool
                    or a WAL, stored in the next hour, or lost uncounted

Expected is what the extensions received, less the spans sampling left out
on purpose (LAMBDASCOPE_SAMPLE_RATE), plus what Lambda dropped. The counts
come with each invocation record; hours without records of an extension
that counts are not listed. Items stored in another hour than their
record's (an invocation across the hour, log lines after the report) can
make an hour read a little under or over 100 %.

Retention drops each table's days at its own cutoff (and completeness_hours
whole months), so before the latest cutoff of the tables compared
(invocations, spans, logs, ingest_losses, completeness_hours) they no longer
agree: the report starts there instead, and says so on stderr.
`,
	examples: `
Examples:
  lambdascope completeness --since 24h
  lambdascope completeness --since 7d --function orders --below 99.9
  lambdascope completeness --since 2h --output json
`,
	setup: func(fs *flag.FlagSet, o *outputFlags) func(context.Context, *runner) error {
		var (
			function string
			below    float64
			where    whereFlag
		)
		o.since = "24h"
		fs.StringVar(&o.since, "since", o.since, "start of the time range: a duration ago (30m, 2h, 7d) or an RFC 3339 time")
		fs.StringVar(&function, "function", "", "only this function")
		fs.Float64Var(&below, "below", 0, "only the hours under this percentage (0: every hour)")
		where.register(fs)
		return func(ctx context.Context, r *runner) error {
			if len(r.pos) > 0 {
				return usagef("completeness takes no arguments, got %q", strings.Join(r.pos, " "))
			}
			if below < 0 || below > 100 {
				return usagef("--below must be between 0 and 100, got %v", below)
			}
			ctx, cancel := r.withTimeout(ctx)
			defer cancel()
			rep, err := r.svc.CompletenessReport(ctx, r.rangeOf(), function)
			if err != nil {
				return err
			}
			if note := rep.Note(r.since); note != "" {
				fmt.Fprintf(r.env.Stderr, "lambdascope: completeness %s\n", render.Clean(note))
			}
			cs := rep.Hours
			sel, err := r.selection(ctx, where)
			if err != nil {
				return err
			}
			cs = slices.DeleteFunc(cs, func(c query.Completeness) bool { return !sel.Keep(c.FunctionName, "") })
			if below > 0 {
				kept := cs[:0]
				for _, c := range cs {
					if c.Percent < below {
						kept = append(kept, c)
					}
				}
				cs = kept
			}
			t := &render.Table{
				Headers: []string{"HOUR (UTC)", "FUNCTION", "INVOCATIONS", "SPANS STORED/EXPECTED", "LOGS STORED/EXPECTED", "COMPLETE", "MISSING AT"},
				Empty:   "No invocation records with the extension's counts in the range.",
			}
			for _, c := range cs {
				t.Add(c.Hour.UTC().Format("2006-01-02 15:00"), c.FunctionName, u64(c.Invocations),
					u64(c.SpansStored)+"/"+u64(c.SpansExpected), u64(c.LogLinesStored)+"/"+u64(c.LogLinesExpected),
					strconv.FormatFloat(c.Percent, 'f', 2, 64)+" %", lossText(c.Lost))
			}
			return r.emit(t, cs)
		}
	},
}

// lossText names the stages that lost items: "spool: 3 spans, 2 logs".
func lossText(ls []query.Loss) string {
	if len(ls) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		var what []string
		if l.Spans > 0 {
			what = append(what, u64(l.Spans)+" spans")
		}
		if l.LogLines > 0 {
			what = append(what, u64(l.LogLines)+" logs")
		}
		parts = append(parts, l.Stage+": "+strings.Join(what, ", "))
	}
	return strings.Join(parts, "; ")
}

// observabilityCost prints what observability cost per function and day
// (cost --by observability).
func (r *runner) observabilityCost(ctx context.Context, prices *query.Prices, obs query.ObservabilityPrices, q query.CostQuery, sel query.Selection) error {
	rep, err := r.svc.ObservabilityCost(ctx, prices, obs, q)
	if err != nil {
		return err
	}
	rep.Lines = slices.DeleteFunc(rep.Lines, func(l query.ObservabilityLine) bool { return !sel.Keep(l.FunctionName, "") })
	money := func(v float64) string { return r.money(v, rep.Currency) }
	t := &render.Table{
		Headers: []string{"DAY (UTC)", "FUNCTION", "INVOCATIONS", "MEASURED", "ADDED", "OF IT COLD", "ADDED COST", "INIT", "INIT COST",
			"SHIPPED", "SHIPPED COST", "TOTAL", "LOG LINES", "CLOUDWATCH"},
		Empty: "No invocations found.",
	}
	add := func(day, fn string, l query.ObservabilityLine) {
		cold := render.Float(l.AddedColdBilledMs) + "ms"
		if r.out.output == "table" {
			cold += fmt.Sprintf(" (%d)", l.MeasuredCold)
		}
		t.Add(day, fn, u64(l.Invocations), u64(l.Measured), render.Float(l.AddedBilledMs)+"ms", cold, money(l.AddedCost),
			render.Float(l.ExtensionInitMs)+"ms", money(l.InitCost), r.bytes(l.BytesShipped), money(l.TransferCost),
			money(l.Total), u64(l.LogLines), money(l.CloudWatchCost))
	}
	for _, l := range rep.Lines {
		add(l.Day.Format("2006-01-02"), l.FunctionName, l)
	}
	if len(rep.Lines) > 0 && r.out.output == "table" {
		add("TOTAL", "", rep.Total)
	}
	if len(rep.Lines) > 0 {
		if rep.Prices.LogClass == query.LogClassInfrequentAccess {
			fmt.Fprintln(r.env.Stderr, "lambdascope: CLOUDWATCH is priced in the Infrequent Access log class")
		}
		for _, u := range rep.Prices.Unconfirmed {
			fmt.Fprintf(r.env.Stderr, "lambdascope: unconfirmed price: %s\n", u)
		}
	}
	return r.emit(t, rep)
}

// bytes prints a byte count for people (KiB, MiB, GiB), or whole in CSV.
func (r *runner) bytes(n uint64) string {
	if r.out.output != "table" {
		return u64(n)
	}
	v, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return u64(n) + " B"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}
