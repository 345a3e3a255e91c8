package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/query"
)

// hostile holds what a sender with an API key could store to take over the
// terminal of whoever reads it: a title change, a screen clear, a cursor
// move, a carriage return hiding what came before, a bare CSI (C1), a
// right-to-left override and a line break faking a second line.
const hostile = "\x1b]0;owned\x07\x1b[2J\x1b[1;1H\rok\u009b31m\u202eevil\nfake line"

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"POST /orders", "POST /orders"},
		{"naïve — 日本", "naïve — 日本"},
		{"", ""},
		{"a\tb", `a\x09b`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"x\u009by", `x\u009by`},
		{"\u202eabc\u2066", `\u202eabc\u2066`},
		{"del\x7f", `del\x7f`},
		{"bad\xffutf8", "bad\xffutf8"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := CleanLines("first\x1b[2J\nsecond"), "first\\x1b[2J\nsecond"; got != want {
		t.Errorf("CleanLines = %q, want %q", got, want)
	}
}

// steersTerminal reports the first byte or character of out that a
// terminal would act on, other than the line breaks the output is made of
// and the colour escapes Options.Color adds.
func steersTerminal(out string) (string, bool) {
	out = strings.ReplaceAll(out, "\x1b[1;31m", "")
	out = strings.ReplaceAll(out, "\x1b[0m", "")
	for _, r := range out {
		if r != '\n' && steers(r) {
			return string(r), true
		}
	}
	return "", false
}

func TestHostileValuesPrintedInert(t *testing.T) {
	spans := []query.Span{
		{SpanID: id(1), Start: at(0), Duration: ms(10), Name: hostile, FunctionName: hostile, ServiceName: hostile + "svc",
			RequestID: "req-1", StatusCode: query.StatusError, StatusMessage: hostile,
			Attributes: map[string]string{"lambdascope.trigger": hostile},
			Links:      []query.SpanLink{{TraceID: workerTraceID, SpanID: id(9)}}},
	}
	invs := []query.Invocation{{RequestID: "req-1", FunctionName: hostile, Status: "error", ErrorType: hostile, ErrorMessage: hostile}}
	tr := query.BuildTrace(traceID, spans, invs)
	tr.LinksOut = []query.TraceLink{{SpanID: id(1), MessageID: hostile,
		Other: query.LinkedSpan{TraceID: workerTraceID, SpanID: id(9), Stored: true, Start: at(1), Name: hostile, FunctionName: hostile, RequestID: hostile}}}

	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Trace(&buf, tr, Options{Location: zone, Color: color}); err != nil {
			t.Fatal(err)
		}
		if c, ok := steersTerminal(buf.String()); ok {
			t.Errorf("trace (color %v) prints %q raw:\n%s", color, c, buf.String())
		}
		if lines := strings.Count(buf.String(), "\n") - linkLines(tr); lines != tr.SpanCount+3 && lines != tr.SpanCount+4 {
			t.Errorf("trace (color %v): %d lines for %d span: a value broke a line\n%s", color, lines, tr.SpanCount, buf.String())
		}
		if !strings.Contains(buf.String(), `\x1b]0;owned\x07`) {
			t.Errorf("trace (color %v) does not show the escaped value:\n%s", color, buf.String())
		}
	}

	invRows := []query.Invocation{{Start: at(0), RequestID: hostile, FunctionName: hostile, FunctionVersion: hostile, Status: hostile + "error",
		ErrorType: hostile, ErrorMessage: hostile, Trigger: hostile, TriggerSource: hostile, TraceContextSource: hostile}}
	var buf bytes.Buffer
	if err := Invocations(&buf, invRows, Options{Location: zone, Color: true}); err != nil {
		t.Fatal(err)
	}
	if c, ok := steersTerminal(buf.String()); ok {
		t.Errorf("invocations print %q raw:\n%s", c, buf.String())
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("invocations: %d lines for one record, want 2\n%s", n, buf.String())
	}

	tab := Table{Headers: []string{"FUNCTION", "NOTE"}}
	tab.Add(hostile, hostile)
	buf.Reset()
	if err := tab.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if c, ok := steersTerminal(buf.String()); ok {
		t.Errorf("table prints %q raw:\n%s", c, buf.String())
	}
}
