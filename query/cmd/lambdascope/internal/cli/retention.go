package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// EnvRetentionDays names the environment variable holding the retention
// (the key retention_days), read when --days is not given.
const EnvRetentionDays = "LAMBDASCOPE_RETENTION_DAYS"

const retentionUsage = `Usage: lambdascope retention --days TABLE=DAYS[,...] [--apply] [flags]

Deletes old data: every daily partition of a table that lies wholly before
today (UTC) minus the table's days. Today and the DAYS days before it stay.

Without --apply it only lists what would be dropped and deletes nothing (a
dry run): read the list, then run the same command with --apply. Dropping
a partition cannot be undone. Before dropping, it records per table the
time before which every row is gone (retention_cutoffs): completeness,
which compares tables kept for different days (completeness_hours loses
whole months only), starts after the latest of those it compares.

--days (env ` + EnvRetentionDays + `, the key retention_days) names
tables and their days, e.g. default=30,spans=7: "default" covers every table
not named; a table neither named nor covered by default is kept whole.
Tables: ` + "{{tables}}" + `.

With --apply it then merges each closed day of invocations and closed
month of trace_hours that lies in more than one part into one part, so a
cold trace read opens one part of each (--merge=false skips it; a closed
partition is one that ended at least 6 hours ago). A large day's merge can
take minutes: it waits up to --merge-timeout. On a cluster nothing is
merged.

Run it daily (cron, a systemd timer) against one server; on a cluster give
--cluster, and each day is dropped on every shard.

Flags:
`

const retentionExamples = `
Examples:
  lambdascope retention --days default=30,spans=7
  lambdascope retention --days default=30,spans=7 --apply
  LAMBDASCOPE_RETENTION_DAYS=default=14 lambdascope retention --apply --cluster lambdascope
`

type retentionOptions struct {
	days         string
	apply        bool
	cluster      string
	merge        bool
	mergeTimeout time.Duration
}

func retentionHead() string {
	// The table list is wrapped as the rest of the text is.
	var lines []string
	line := "Tables:"
	for _, t := range storage.RetainedTables() {
		if len(line)+len(t)+2 > 76 {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += t + ","
	}
	lines = append(lines, strings.TrimSuffix(line, ","))
	return strings.Replace(retentionUsage, "Tables: {{tables}}", strings.Join(lines, "\n"), 1)
}

func retentionFlags(common commonFlags, env Env) (*flag.FlagSet, func() (*commonFlags, retentionOptions)) {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := common
	c.register(fs)
	o := retentionOptions{days: env.Getenv(EnvRetentionDays)}
	fs.StringVar(&o.days, "days", o.days, "days each table keeps, TABLE=DAYS[,...]; default=N covers the tables not named (env "+EnvRetentionDays+")")
	fs.BoolVar(&o.apply, "apply", false, "drop the partitions; without it, only list them")
	fs.StringVar(&o.cluster, "cluster", "", "the ClickHouse cluster the schema spans (the collector's clickhouse_cluster), if any")
	o.merge = true
	fs.BoolVar(&o.merge, "merge", o.merge, "with --apply, merge each closed day of invocations and month of trace_hours into one part")
	o.mergeTimeout = time.Hour
	fs.DurationVar(&o.mergeTimeout, "merge-timeout", o.mergeTimeout, "how long the merges of closed partitions may take in all")
	return fs, func() (*commonFlags, retentionOptions) { return &c, o }
}

func runRetention(ctx context.Context, args []string, common commonFlags, env Env) error {
	fs, values := retentionFlags(common, env)
	pos, err := parse(fs, args, env, retentionHead(), retentionExamples)
	if err != nil {
		return err
	}
	c, o := values()
	if len(pos) > 0 {
		return usagef("retention takes no arguments, got %q", strings.Join(pos, " "))
	}
	if _, err := c.validate(env); err != nil {
		return err
	}
	if o.mergeTimeout <= 0 {
		return usagef("--merge-timeout must be positive, got %v", o.mergeTimeout)
	}
	if strings.TrimSpace(o.days) == "" {
		return usagef("retention needs --days (or %s), e.g. --days default=30,spans=7", EnvRetentionDays)
	}
	r, err := storage.ParseRetention(o.days)
	if err == nil {
		err = r.Validate()
	}
	if err != nil {
		return usagef("--days: %v", err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st, err := openStore(ctx, c, o.cluster)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	now := env.Now()
	if !o.apply {
		expired, err := st.Expired(ctx, r, now)
		if err != nil {
			return fmt.Errorf("cannot list partitions in %s: %w%s", redact(c.dsn), err, schemaHint(err))
		}
		if len(expired) == 0 {
			fmt.Fprintln(env.Stdout, "Nothing to drop: no partition is older than its table's retention.")
			return nil
		}
		fmt.Fprintf(env.Stdout, "Would drop %d partitions (dry run: nothing was deleted; add --apply to drop them):\n", len(expired))
		printPartitions(env.Stdout, expired)
		return nil
	}
	dropped, err := st.DropExpired(ctx, r, now)
	if len(dropped) > 0 {
		fmt.Fprintf(env.Stdout, "Dropped %d partitions:\n", len(dropped))
		printPartitions(env.Stdout, dropped)
	}
	if err != nil {
		return fmt.Errorf("cannot drop partitions in %s: %w%s", redact(c.dsn), err, schemaHint(err))
	}
	if len(dropped) == 0 {
		fmt.Fprintln(env.Stdout, "Nothing to drop: no partition is older than its table's retention.")
	}
	if !o.merge || o.cluster != "" {
		return nil
	}
	// The merges get their own deadline: a large day takes far longer to
	// rewrite than --timeout allows a query.
	mctx, mcancel := context.WithTimeout(parent, o.mergeTimeout)
	defer mcancel()
	merged, err := st.MergeClosed(mctx, now)
	if len(merged) > 0 {
		fmt.Fprintf(env.Stdout, "Merged %d closed partitions into one part each:\n", len(merged))
		printMerged(env.Stdout, merged)
	}
	if err != nil {
		return fmt.Errorf("cannot merge closed partitions in %s: %w%s", redact(c.dsn), err, schemaHint(err))
	}
	if len(merged) == 0 {
		fmt.Fprintln(env.Stdout, "Nothing to merge: every closed day is in one part.")
	}
	return nil
}

func printMerged(w io.Writer, ms []storage.MergedPartition) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TABLE\tFROM\tPARTS\tTOOK")
	for _, m := range ms {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", m.Table, m.Day.Format("2006-01-02"), m.Parts, m.Took.Round(time.Millisecond))
	}
	_ = tw.Flush()
}

func printPartitions(w io.Writer, ps []storage.DroppedPartition) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TABLE\tDAY")
	for _, p := range ps {
		day := p.Day.Format("2006-01-02")
		if p.Month {
			day = p.Day.Format("2006-01") + " (month)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", p.Table, day)
	}
	_ = tw.Flush()
}
