package collector

import (
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Field names, the "field" label of lambdascope_collector_truncated_fields_total.
const (
	fieldName          = "name"
	fieldStatusMessage = "status_message"
	fieldLogBody       = "log_body"
	fieldOther         = "other"
)

// fieldLimiter enforces FieldLimits in place: every string of a request
// outside attributes (which attrLimiter caps) is cut to its cap, marked
// with truncate's suffix, and counted by field.
type fieldLimiter struct {
	lim FieldLimits
	cut map[string]int // by field
	// largest is the longest value cut, in bytes, for the log line.
	largest int
}

func (l *fieldLimiter) apply(req *ingestv1.ExportRequest) {
	if fn := req.GetFunction(); fn != nil {
		l.strings(fn)
	}
	for _, inv := range req.GetInvocations() {
		l.strings(inv)
	}
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			l.scope(ss.GetScope())
			for _, s := range ss.GetSpans() {
				l.str(&s.Name, l.lim.NameBytes, fieldName)
				l.str(&s.TraceState, l.lim.OtherBytes, fieldOther)
				if st := s.GetStatus(); st != nil {
					l.str(&st.Message, l.lim.StatusMessageBytes, fieldStatusMessage)
				}
				for _, e := range s.GetEvents() {
					l.str(&e.Name, l.lim.NameBytes, fieldName)
				}
				for _, ln := range s.GetLinks() {
					l.str(&ln.TraceState, l.lim.OtherBytes, fieldOther)
				}
			}
		}
	}
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			l.scope(sl.GetScope())
			for _, r := range sl.GetLogRecords() {
				l.str(&r.SeverityText, l.lim.OtherBytes, fieldOther)
				l.str(&r.EventName, l.lim.NameBytes, fieldName)
				l.body(r.GetBody())
			}
		}
	}
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			l.scope(sm.GetScope())
			for _, m := range sm.GetMetrics() {
				l.str(&m.Name, l.lim.NameBytes, fieldName)
				l.str(&m.Unit, l.lim.OtherBytes, fieldOther)
				l.str(&m.Description, l.lim.OtherBytes, fieldOther)
			}
		}
	}
}

func (l *fieldLimiter) scope(s *commonpb.InstrumentationScope) {
	if s != nil {
		l.str(&s.Name, l.lim.NameBytes, fieldName)
		l.str(&s.Version, l.lim.OtherBytes, fieldOther)
	}
}

// body cuts every string of a log body, structured or not.
func (l *fieldLimiter) body(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		l.str(&x.StringValue, l.lim.LogBodyBytes, fieldLogBody)
	case *commonpb.AnyValue_BytesValue:
		if len(x.BytesValue) > l.lim.LogBodyBytes {
			l.count(fieldLogBody, len(x.BytesValue))
			x.BytesValue = x.BytesValue[:l.lim.LogBodyBytes]
		}
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			l.body(e)
		}
	case *commonpb.AnyValue_KvlistValue:
		for _, kv := range x.KvlistValue.GetValues() {
			l.str(&kv.Key, l.lim.NameBytes, fieldLogBody)
			l.body(kv.GetValue())
		}
	}
}

// strings cuts every string field of m (the function's identity, an
// invocation report: flat messages of the Ingest API) to OtherBytes, so
// that a field added to them later is bounded too.
func (l *fieldLimiter) strings(m proto.Message) {
	r := m.ProtoReflect()
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated && !fd.IsMap() {
			s := v.String()
			if len(s) > l.lim.OtherBytes {
				l.count(fieldOther, len(s))
				r.Set(fd, protoreflect.ValueOfString(truncate(s, l.lim.OtherBytes)))
			}
		}
		return true
	})
}

func (l *fieldLimiter) str(s *string, max int, field string) {
	if len(*s) > max {
		l.count(field, len(*s))
		*s = truncate(*s, max)
	}
}

func (l *fieldLimiter) count(field string, size int) {
	if l.cut == nil {
		l.cut = map[string]int{}
	}
	l.cut[field]++
	l.largest = max(l.largest, size)
}

// truncate cuts s to at most max bytes at a UTF-8 boundary, the last bytes
// being the mark "…[truncated N bytes]" (N: the bytes cut off), so that a
// reader sees the value is not whole. Below the mark's own size the value
// is cut without it.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	mark := truncationMark(len(s)) // at least as long as the final mark
	if max < 2*len(mark) {
		return cutUTF8(s, max)
	}
	kept := cutUTF8(s, max-len(mark))
	return kept + truncationMark(len(s)-len(kept))
}

func truncationMark(n int) string {
	return "…[truncated " + strconv.Itoa(n) + " bytes]"
}
