// Package redact hides secrets in what the extension captures before it
// is buffered: the values of JSON keys named in the configuration (in
// structured log records, attributes and in JSON text) and the matches of
// configured regular expressions in any captured string. Each hidden value
// becomes Mask and is counted.
package redact

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
)

// Mask replaces what is redacted.
const Mask = "[REDACTED]"

// Redactor applies the redaction rules. A nil Redactor has no rules and
// changes nothing.
type Redactor struct {
	keys map[string]bool
	// keyText finds "key": value members in text, value as a JSON string
	// or scalar.
	keyText *regexp.Regexp
	// patterns are the expressions joined as alternatives, so that a
	// string is searched once for all of them.
	patterns *regexp.Regexp
	count    atomic.Uint64
}

// New builds a Redactor from JSON keys (matched without regard to case)
// and regular expressions (RE2 syntax); nil when there is no rule. A bad
// expression is an error naming it.
func New(keys, patterns []string) (*Redactor, error) {
	r := &Redactor{keys: map[string]bool{}}
	var alts []string
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		r.keys[strings.ToLower(k)] = true
		alts = append(alts, regexp.QuoteMeta(k))
	}
	if len(alts) > 0 {
		// The key, its colon, and a string value (escapes included) or a
		// scalar up to the next delimiter.
		r.keyText = regexp.MustCompile(`(?i)("(?:` + strings.Join(alts, "|") + `)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^\s,}\]]+)`)
	}
	var joined []string
	for i, p := range patterns {
		if _, err := compile(p); err != nil {
			return nil, fmt.Errorf("pattern %d: %w", i+1, err)
		}
		joined = append(joined, "(?:"+p+")")
	}
	if len(joined) > 0 {
		re, err := regexp.Compile(strings.Join(joined, "|"))
		if err != nil {
			return nil, fmt.Errorf("patterns together: %w", err)
		}
		r.patterns = re
	}
	if len(r.keys) == 0 && r.patterns == nil {
		return nil, nil
	}
	return r, nil
}

// Check tells whether pattern can be a redaction rule: a regular
// expression (RE2 syntax) that does not match the empty string.
func Check(pattern string) error {
	_, err := compile(pattern)
	return err
}

func compile(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", p, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("%q matches the empty string", p)
	}
	return re, nil
}

// Count is the number of values redacted so far.
func (r *Redactor) Count() uint64 {
	if r == nil {
		return 0
	}
	return r.count.Load()
}

// Key says whether the value of key is hidden whole.
func (r *Redactor) Key(key string) bool {
	return r != nil && len(r.keys) > 0 && r.keys[strings.ToLower(key)]
}

// Hide hides v whole (the value of a named key).
func (r *Redactor) Hide(v string) string {
	if r == nil || v == Mask {
		return v
	}
	r.count.Add(1)
	return Mask
}

// String hides in s the values of the keys of JSON members and the
// matches of the patterns.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.keyText != nil && strings.IndexByte(s, '"') >= 0 {
		s = r.keyText.ReplaceAllStringFunc(s, func(m string) string {
			sub := r.keyText.FindStringSubmatch(m)
			if sub[2] == `"`+Mask+`"` {
				return m
			}
			r.count.Add(1)
			return sub[1] + `"` + Mask + `"`
		})
	}
	if r.patterns != nil {
		s = r.patterns.ReplaceAllStringFunc(s, func(m string) string {
			if m == Mask {
				return m
			}
			r.count.Add(1)
			return Mask
		})
	}
	return s
}

// Value hides secrets in v in place: strings as String does, the values of
// named keys in maps whole.
func (r *Redactor) Value(v *commonpb.AnyValue) {
	if r == nil || v == nil {
		return
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		x.StringValue = r.String(x.StringValue)
	case *commonpb.AnyValue_KvlistValue:
		r.Attributes(x.KvlistValue.GetValues())
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			r.Value(e)
		}
	}
}

// Attributes hides secrets in kvs in place.
func (r *Redactor) Attributes(kvs []*commonpb.KeyValue) {
	if r == nil {
		return
	}
	for _, kv := range kvs {
		if kv == nil {
			continue
		}
		if r.Key(kv.GetKey()) {
			if kv.GetValue().GetStringValue() != Mask {
				kv.Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: r.Hide("")}}
			}
			continue
		}
		r.Value(kv.GetValue())
	}
}

// Logs hides secrets in the bodies and attributes of log records in place.
func (r *Redactor) Logs(rl *logspb.ResourceLogs) {
	if r == nil {
		return
	}
	for _, sl := range rl.GetScopeLogs() {
		for _, rec := range sl.GetLogRecords() {
			r.Value(rec.GetBody())
			r.Attributes(rec.GetAttributes())
		}
	}
}
