package frames

import (
	"encoding/json"
	"hash/fnv"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// Logs is a frame in the data plane's log-lines form (timestamp, body,
// severity, id, labels) for Grafana's logs panel; each line with a trace
// ID links to that trace, each line of an invocation (requestId) to the
// invocation's record and its other lines.
func Logs(lines []query.LogLine, link TraceLink) *data.Frame {
	n := len(lines)
	var (
		times      = make([]time.Time, 0, n)
		bodies     = make([]string, 0, n)
		severities = make([]string, 0, n)
		ids        = make([]string, 0, n)
		labels     = make([]json.RawMessage, 0, n)
		traceIDs   = make([]string, 0, n)
		requestIDs = make([]string, 0, n)
	)
	seen := make(map[string]int, n)
	for i := range lines {
		l := &lines[i]
		times = append(times, l.Time.UTC())
		bodies = append(bodies, l.Body)
		severities = append(severities, severity(l))
		trace := ""
		if !l.TraceID.IsZero() {
			trace = l.TraceID.String()
		}
		id := lineID(l)
		if n := seen[id]; n > 0 {
			// The same line twice: the copies are told apart by their order.
			seen[id]++
			id += "_" + strconv.Itoa(n)
		} else {
			seen[id] = 1
		}
		ids = append(ids, id)
		lbl := maps.Clone(l.Attributes)
		if lbl == nil {
			lbl = map[string]string{}
		}
		set := func(k, v string) {
			if v != "" {
				lbl[k] = v
			}
		}
		set("function", l.FunctionName)
		set("version", l.FunctionVersion)
		set("service", l.ServiceName)
		set("requestId", l.RequestID)
		set("type", l.Type)
		labels = append(labels, mustJSON(lbl))
		traceIDs = append(traceIDs, trace)
		requestIDs = append(requestIDs, l.RequestID)
	}
	traceField := traceIDField(traceIDs, link)
	f := data.NewFrame("logs",
		data.NewField("timestamp", nil, times),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, severities),
		data.NewField("id", nil, ids),
		data.NewField("labels", nil, labels),
		traceField,
		withLinks(data.NewField("requestId", nil, nullable(requestIDs)), link.invocationLinks()...),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeLogLines, TypeVersion: data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs}
	return f
}

// lineID identifies a line by what it is, not where it falls in a
// result, so that the same line has the same id in every query: its time
// in nanoseconds and a hash of its function, version, invocation, trace,
// span, type and body.
func lineID(l *query.LogLine) string {
	h := fnv.New64a()
	for _, part := range []string{l.FunctionName, l.FunctionVersion, l.RequestID, l.TraceID.String(), l.SpanID.String(), l.Type, l.Body} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return strconv.FormatInt(l.Time.UnixNano(), 10) + "_" + strconv.FormatUint(h.Sum64(), 16)
}

// severity is the record's level as Grafana's logs panel names levels,
// empty when the record has none, so that Grafana detects the level from
// the line itself.
func severity(l *query.LogLine) string {
	switch n := l.SeverityNumber; {
	case n >= 21:
		return "critical"
	case n >= 17:
		return "error"
	case n >= 13:
		return "warning"
	case n >= 9:
		return "info"
	case n >= 5:
		return "debug"
	case n >= 1:
		return "trace"
	}
	text := strings.ToLower(strings.TrimSpace(l.Severity))
	if level, ok := levelNames[text]; ok {
		return level
	}
	return text
}

// levelNames are the level texts of common loggers, by Grafana's name for
// them.
var levelNames = map[string]string{
	"trace": "trace", "debug": "debug", "dbug": "debug",
	"info": "info", "information": "info", "notice": "info",
	"warn": "warning", "warning": "warning",
	"err": "error", "error": "error", "eror": "error",
	"crit": "critical", "critical": "critical", "fatal": "critical", "panic": "critical",
	"alert": "critical", "emerg": "critical", "emergency": "critical",
}
