package collector

import (
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// countItems counts a request's items by signal. Metric items are data
// points.
func countItems(req *ingestv1.ExportRequest) itemCounts {
	var c itemCounts
	c.invocations = len(req.GetInvocations())
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans += len(ss.GetSpans())
		}
	}
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			c.logs += len(sl.GetLogRecords())
		}
	}
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				c.points += len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
					len(m.GetHistogram().GetDataPoints()) + len(m.GetExponentialHistogram().GetDataPoints()) +
					len(m.GetSummary().GetDataPoints())
			}
		}
	}
	return c
}

// attrLimiter enforces the attribute limits in place: attributes whose key
// is longer than maxKey are dropped (a key that long is a bug in the
// sender, and a cut key would merge unrelated attributes), string values
// longer than maxValue are cut at a UTF-8 boundary and marked (truncate;
// the start of a long value is still useful). Both are counted.
type attrLimiter struct {
	maxKey, maxValue   int
	dropped, truncated int
}

func (l *attrLimiter) apply(req *ingestv1.ExportRequest) {
	for _, rs := range req.GetResourceSpans() {
		if r := rs.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				s.Attributes = l.kvs(s.Attributes)
				for _, e := range s.GetEvents() {
					e.Attributes = l.kvs(e.Attributes)
				}
				for _, ln := range s.GetLinks() {
					ln.Attributes = l.kvs(ln.Attributes)
				}
			}
		}
	}
	for _, rl := range req.GetResourceLogs() {
		if r := rl.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				r.Attributes = l.kvs(r.Attributes)
			}
		}
	}
	for _, rm := range req.GetResourceMetrics() {
		if r := rm.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, p := range m.GetGauge().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
				for _, p := range m.GetSum().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
				for _, p := range m.GetHistogram().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
			}
		}
	}
}

func (l *attrLimiter) kvs(kvs []*commonpb.KeyValue) []*commonpb.KeyValue {
	out := kvs[:0]
	for _, kv := range kvs {
		if len(kv.GetKey()) > l.maxKey {
			l.dropped++
			continue
		}
		l.value(kv.GetValue())
		out = append(out, kv)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (l *attrLimiter) value(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		if len(x.StringValue) > l.maxValue {
			x.StringValue = truncate(x.StringValue, l.maxValue)
			l.truncated++
		}
	case *commonpb.AnyValue_BytesValue:
		if len(x.BytesValue) > l.maxValue {
			x.BytesValue = x.BytesValue[:l.maxValue]
			l.truncated++
		}
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			l.value(e)
		}
	case *commonpb.AnyValue_KvlistValue:
		if x.KvlistValue != nil {
			x.KvlistValue.Values = l.kvs(x.KvlistValue.Values)
		}
	}
}

// cutUTF8 returns at most n bytes of s without splitting a character.
func cutUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
