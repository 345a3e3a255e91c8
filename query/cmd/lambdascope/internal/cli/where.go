package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

// whereUsage is the help of --where, the same filters as the plugin's ad
// hoc filters.
const whereUsage = "keep rows by function or service: function=NAME, service!=NAME, function=~RE2, service!~RE2 (the whole name; repeatable, all must pass)"

// whereFlag collects --where filters.
type whereFlag []query.NameFilter

func (w *whereFlag) String() string {
	if w == nil {
		return ""
	}
	parts := make([]string, len(*w))
	for i, f := range *w {
		parts[i] = f.Key + f.Operator + f.Value
	}
	return strings.Join(parts, ",")
}

func (w *whereFlag) Set(v string) error {
	f, err := query.ParseNameFilter(v)
	if err != nil {
		return err
	}
	*w = append(*w, f)
	return nil
}

// register adds --where to fs.
func (w *whereFlag) register(fs *flag.FlagSet) { fs.Var(w, "where", whereUsage) }

// filters compiles the filters (each was checked when it was set).
func (w whereFlag) filters() (query.NameFilters, error) {
	n, err := query.NewNameFilters(w...)
	if err != nil {
		return n, usagef("--where: %v", err)
	}
	return n, nil
}

// selection prepares the filters for rows of the command's range.
func (r *runner) selection(ctx context.Context, w whereFlag) (query.Selection, error) {
	n, err := w.filters()
	if err != nil {
		return query.Selection{}, err
	}
	return r.svc.Select(ctx, r.rangeOf(), n)
}

// noteCapped says on stderr that --where judged only the newest rows.
func noteCapped(env Env, capped bool, maxRead int, what string) {
	if capped {
		fmt.Fprintf(env.Stderr, "lambdascope: --where was applied to the newest %d %s only; narrow the time range to see older ones\n", maxRead, what)
	}
}

// parseZone reads --tz: an IANA zone name, or Local for the zone times are
// printed in.
func parseZone(name string, env Env) (*time.Location, error) {
	if name == "Local" {
		return env.Location, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, usagef("--tz must be an IANA time zone such as Europe/Berlin, UTC or Local, got %q", name)
	}
	return loc, nil
}

// costView is how cost --by cuts its report: --tz for the days of --by
// day, --where for the functions priced or shown. --tz applies to --by
// day only, --where to every report but --by durable.
func (r *runner) costView(by, tz string, where whereFlag) (query.CostView, error) {
	var v query.CostView
	if tz != "UTC" {
		if by != "day" {
			return v, usagef("--tz applies to --by day only")
		}
		loc, err := parseZone(tz, r.env)
		if err != nil {
			return v, err
		}
		v.Location = loc
	}
	if len(where) > 0 {
		if by == "durable" {
			return v, usagef("--where does not apply to --by durable")
		}
	}
	n, err := where.filters()
	v.Names = n
	return v, err
}
