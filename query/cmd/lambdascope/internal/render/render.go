// Package render formats what the lambdascope CLI prints: an indented span
// tree, aligned tables, CSV and JSON.
package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lambdascope/lambdascope/query"
)

// Options say how to render.
type Options struct {
	// Location is the zone times are printed in (default time.Local).
	Location *time.Location
	// Color highlights errors with ANSI escapes (for terminals).
	Color bool
}

func (o Options) loc() *time.Location {
	if o.Location == nil {
		return time.Local
	}
	return o.Location
}

func (o Options) red(s string) string {
	if !o.Color {
		return s
	}
	return "\x1b[1;31m" + s + "\x1b[0m"
}

// timeLayout is how times are printed in text.
const timeLayout = "2006-01-02 15:04:05.000 MST"

// maxIndentDepth bounds the drawn tree depth; deeper spans are drawn at this
// depth with their real depth noted, so that a pathological trace stays
// printable.
const maxIndentDepth = 40

// maxLabelPad bounds the column the durations are aligned to.
const maxLabelPad = 80

type traceLine struct {
	label  string
	dur    string
	status string
	isErr  bool
	offset string
	notes  []string
}

// Trace writes t as an indented tree, one line per span: the function (and
// service when it differs), the span name, duration, status, offset from
// the trace's start and notes (cold start, invocation failure, the trigger
// of a span inferred from the event, span links, clock skew, broken
// parent links), then the links to and from other traces.
func Trace(w io.Writer, t *query.Trace, opts Options) error {
	functions := map[string]bool{}
	errorsCount := 0
	t.Walk(func(n *query.Node) bool {
		functions[n.Span.Source()] = true
		if n.Span.IsError() {
			errorsCount++
		}
		return true
	})
	var b strings.Builder
	fmt.Fprintf(&b, "Trace %s\n", t.TraceID)
	fmt.Fprintf(&b, "%s · %s · %s · %s", t.Start.In(opts.loc()).Format(timeLayout), Duration(t.Duration()),
		plural(t.SpanCount, "span"), plural(len(functions), "function"))
	if errorsCount > 0 {
		b.WriteString(" · " + opts.red(plural(errorsCount, "error")))
	}
	b.WriteString("\n")
	if t.DroppedDuplicates > 0 {
		fmt.Fprintf(&b, "(%s stored twice, shown once)\n", plural(t.DroppedDuplicates, "span"))
	}
	b.WriteString("\n")

	lines := make([]traceLine, 0, t.SpanCount)
	type frame struct {
		n      *query.Node
		prefix string // drawn before this node's branch
		last   bool
		root   bool
	}
	stack := make([]frame, 0, len(t.Roots))
	for i := len(t.Roots) - 1; i >= 0; i-- {
		stack = append(stack, frame{n: t.Roots[i], root: true})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		branch, childPrefix := "", ""
		if !f.root {
			if f.last {
				branch, childPrefix = "└─ ", "   "
			} else {
				branch, childPrefix = "├─ ", "│  "
			}
		}
		nextPrefix := f.prefix + childPrefix
		if f.n.Depth >= maxIndentDepth {
			nextPrefix = f.prefix
		}
		lines = append(lines, spanLine(t, f.n, f.prefix+branch))
		for i := len(f.n.Children) - 1; i >= 0; i-- {
			stack = append(stack, frame{n: f.n.Children[i], prefix: nextPrefix, last: i == len(f.n.Children)-1})
		}
	}

	pad := 0
	for _, l := range lines {
		if n := utf8.RuneCountInString(l.label); n > pad {
			pad = n
		}
	}
	pad = min(pad, maxLabelPad)
	durW, offW := 0, 0
	for _, l := range lines {
		durW = max(durW, len(l.dur))
		offW = max(offW, len(l.offset))
	}
	for _, l := range lines {
		b.WriteString(l.label)
		b.WriteString(strings.Repeat(" ", max(0, pad-utf8.RuneCountInString(l.label))))
		fmt.Fprintf(&b, "  %*s  ", durW, l.dur)
		status := fmt.Sprintf("%-5s", l.status)
		if l.isErr {
			status = opts.red(status)
		}
		b.WriteString(status)
		fmt.Fprintf(&b, "  %-*s", offW, l.offset)
		if len(l.notes) > 0 {
			b.WriteString("  " + strings.Join(l.notes, "; "))
		}
		b.WriteString("\n")
	}
	linkSections(&b, t)
	// Trailing spaces left by padding are noise in terminals and goldens.
	out := strings.ReplaceAll(b.String(), " \n", "\n")
	for strings.Contains(out, " \n") {
		out = strings.ReplaceAll(out, " \n", "\n")
	}
	_, err := io.WriteString(w, out)
	return err
}

func spanLine(t *query.Trace, n *query.Node, tree string) traceLine {
	s := &n.Span
	who := s.Source()
	if s.ServiceName != "" && s.FunctionName != "" && s.ServiceName != s.FunctionName {
		who += " (" + s.ServiceName + ")"
	}
	if who == "" {
		who = "?"
	}
	who, name := Clean(who), Clean(s.Name)
	l := traceLine{
		label:  tree + who + " · " + name,
		dur:    Duration(s.Duration),
		offset: "+" + Duration(n.Start().Sub(t.Start)),
	}
	if n.Depth >= maxIndentDepth {
		l.label = tree + "[depth " + strconv.Itoa(n.Depth) + "] " + who + " · " + name
	}
	switch s.StatusCode {
	case query.StatusError:
		l.status, l.isErr = "ERROR", true
		if s.StatusMessage != "" {
			l.notes = append(l.notes, strconv.Quote(s.StatusMessage))
		}
	case query.StatusOK:
		l.status = "OK"
	default:
		l.status = "-"
	}
	if inv := n.Invocation; inv != nil && n.InvocationEntry {
		if inv.ColdStart {
			note := "cold start"
			if inv.InitDurationMs > 0 {
				note += " (init " + Duration(msDuration(inv.InitDurationMs)) + ")"
			}
			l.notes = append(l.notes, note)
		}
		if inv.Failed() {
			l.notes = append(l.notes, "invocation "+failure(inv))
		}
	}
	if trig := s.Trigger(); trig != "" {
		l.notes = append(l.notes, Clean(trig))
	}
	if len(s.Links) > 0 {
		l.notes = append(l.notes, plural(len(s.Links), "link"))
	}
	if n.Orphan {
		l.notes = append(l.notes, "parent "+s.ParentSpanID.String()+" missing")
	}
	if n.CycleBroken {
		l.notes = append(l.notes, "parent link "+s.ParentSpanID.String()+" dropped (cycle)")
	}
	if n.DuplicateID {
		l.notes = append(l.notes, "span ID "+s.SpanID.String()+" not unique")
	}
	if n.Skew != 0 {
		sign := "+"
		if n.Skew < 0 {
			sign = "-"
		}
		l.notes = append(l.notes, "clock skew "+sign+Duration(n.Skew.Abs())+" corrected")
	}
	return l
}

// failure says why a failed invocation counts as an error: the platform's
// status and error type ("error Runtime.ExitError"), or, for an invocation
// that succeeded, the HTTP status a proxy integration answered with
// ("answered HTTP 503").
func failure(inv *query.Invocation) string {
	if inv.Status != "" && inv.Status != "success" {
		if inv.ErrorType != "" {
			return Clean(inv.Status + " " + inv.ErrorType)
		}
		return Clean(inv.Status)
	}
	return "answered HTTP " + strconv.Itoa(int(inv.HTTPStatusCode))
}

// linkSections writes the links between t and other traces: those its
// spans hold (where a consumed batch came from) and the spans of other
// traces linking to it (who consumed what it produced).
func linkSections(b *strings.Builder, t *query.Trace) {
	if len(t.LinksOut) == 0 && len(t.LinksIn) == 0 {
		return
	}
	labels := map[query.SpanID]string{}
	t.Walk(func(n *query.Node) bool {
		if _, ok := labels[n.Span.SpanID]; !ok {
			labels[n.Span.SpanID] = spanLabel(n.Span.Source(), n.Span.Name)
		}
		return true
	})
	here := func(id query.SpanID) string {
		if l, ok := labels[id]; ok {
			return l
		}
		return "span " + id.String()
	}
	there := func(l query.TraceLink) string {
		out := l.Other.TraceID.String() + "/" + l.Other.SpanID.String()
		if !l.Other.Stored {
			return out + " (not stored)"
		}
		out += " " + spanLabel(l.Other.Source(), l.Other.Name)
		if l.Other.RequestID != "" {
			out += " (request " + Clean(l.Other.RequestID) + ")"
		}
		return out
	}
	message := func(l query.TraceLink) string {
		if l.MessageID == "" {
			return ""
		}
		return "  message " + Clean(l.MessageID)
	}
	if len(t.LinksOut) > 0 {
		fmt.Fprintf(b, "\nLinks to other traces (%d)\n", len(t.LinksOut))
		for _, l := range t.LinksOut {
			fmt.Fprintf(b, "  %s → %s%s\n", here(l.SpanID), there(l), message(l))
		}
	}
	if len(t.LinksIn) > 0 {
		more := ""
		if t.LinksInTruncated {
			more = ", more not shown"
		}
		fmt.Fprintf(b, "\nLinked from other traces (%d%s)\n", len(t.LinksIn), more)
		for _, l := range t.LinksIn {
			fmt.Fprintf(b, "  %s ← %s%s\n", here(l.SpanID), there(l), message(l))
		}
	}
}

// spanLabel names a span as the tree does: what emitted it and its name.
func spanLabel(who, name string) string {
	if who == "" {
		who = "?"
	}
	return Clean(who) + " · " + Clean(name)
}

// TraceJSON writes t as indented JSON: the span tree with each node's
// invocation, IDs in hex, times in RFC 3339 (UTC, as stored), durations and
// skews in nanoseconds.
func TraceJSON(w io.Writer, t *query.Trace) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("encode trace: %w", err)
	}
	return nil
}

// Invocations writes invocation records as an aligned table.
func Invocations(w io.Writer, invs []query.Invocation, opts Options) error {
	if len(invs) == 0 {
		_, err := io.WriteString(w, "No invocations found.\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tFUNCTION\tREQUEST ID\tDURATION\tBILLED\tMEMORY\tCOLD START\tTRIGGER\tCONTEXT\tSTATUS")
	for i := range invs {
		inv := &invs[i]
		fn := inv.FunctionName
		if inv.FunctionVersion != "" && inv.FunctionVersion != "$LATEST" {
			fn += ":" + inv.FunctionVersion
		}
		cold := "-"
		if inv.ColdStart {
			cold = "yes"
			if inv.InitDurationMs > 0 {
				cold += " (" + Duration(msDuration(inv.InitDurationMs)) + ")"
			}
		}
		status := Clean(inv.Status)
		if status == "" {
			status = "-"
		}
		if inv.Failed() {
			status = strings.ToUpper(status)
			if inv.ErrorType != "" {
				status += " " + Clean(inv.ErrorType)
			}
			if t := inv.FunctionErrorType; t != "" && t != inv.ErrorType {
				// The function's own type beside the platform's.
				status += " (" + oneLine(Clean(t), maxTypeWidth) + ")"
			}
			if inv.Status == "success" || inv.Status == "" {
				status = "HTTP " + strconv.Itoa(int(inv.HTTPStatusCode))
			}
			if inv.ErrorMessage != "" {
				status += ": " + oneLine(inv.ErrorMessage, maxMessageWidth)
			}
			status = opts.red(status)
		}
		if inv.Incomplete {
			status += " (no report)"
		}
		trig := cmp.Or(Clean(inv.Trigger), "-")
		if inv.TriggerSource != "" {
			trig += " " + oneLine(inv.TriggerSource, maxSourceWidth)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s MB\t%s\t%s\t%s\t%s\n",
			inv.Start.In(opts.loc()).Format(timeLayout), Clean(fn), Clean(inv.RequestID),
			orUnknown(!inv.DurationUnknown, Duration(msDuration(inv.DurationMs))),
			orUnknown(!inv.BilledEstimated, strconv.FormatUint(inv.BilledDurationMs, 10)+"ms"),
			memoryMB(!inv.MaxMemoryUsedUnknown, inv.MaxMemoryUsedMB), memoryMB(!inv.MemorySizeUnknown, inv.MemorySizeMB), cold,
			trig, cmp.Or(Clean(inv.TraceContextSource), "-"), status)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write invocation table: %w", err)
	}
	return nil
}

// Widths, in characters, of what the invocation table shows of a trigger's
// source and an error's message; JSON output has them whole.
const (
	maxSourceWidth  = 48
	maxMessageWidth = 80
	maxTypeWidth    = 48
)

// oneLine is s on one line (line breaks, tabs and other control
// characters, a terminal's escapes among them, as spaces), cut to n
// characters with an ellipsis, and cleaned (Clean) of the bidirectional
// controls that are not control characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return Clean(s)
}

// Unknown stands for a figure the platform did not report.
const Unknown = "—"

// orUnknown is s when the figure is known, Unknown otherwise.
func orUnknown(known bool, s string) string {
	if !known {
		return Unknown
	}
	return s
}

// memoryMB is a memory figure in MB, or "?" when it is not known.
func memoryMB(known bool, mb uint32) string {
	if !known {
		return "?"
	}
	return strconv.FormatUint(uint64(mb), 10)
}

// InvocationsJSON writes invocation records as an indented JSON array, times
// in RFC 3339 in the options' zone.
func InvocationsJSON(w io.Writer, invs []query.Invocation, opts Options) error {
	out := make([]query.Invocation, len(invs))
	for i, inv := range invs {
		inv.Start = inv.Start.In(opts.loc())
		out[i] = inv
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode invocations: %w", err)
	}
	return nil
}

// Duration prints d with three significant digits at most and a unit a
// reader expects: 850µs, 12.3ms, 1.25s, 3m4s.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Duration(-d)
	case d == 0:
		return "0ms"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return trim(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return trim(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return trim(float64(d)/float64(time.Second)) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

// trim formats v (1 ≤ v < 1000) with three significant digits, without
// trailing zeros.
func trim(v float64) string {
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func msDuration(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
