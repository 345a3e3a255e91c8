package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseTraceID(t *testing.T) {
	const hexID = "5759e988bd862e3fe1be46a994272793"
	tests := []struct {
		name    string
		in      string
		want    string // hex of the parsed ID; empty when an error is expected
		wantErr string
	}{
		{name: "hex", in: hexID, want: hexID},
		{name: "upper case hex", in: strings.ToUpper(hexID), want: hexID},
		{name: "surrounding space", in: "  " + hexID + "\n", want: hexID},
		{name: "xray", in: "1-5759e988-bd862e3fe1be46a994272793", want: hexID},
		{name: "xray header", in: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", want: hexID},
		{name: "empty", in: "", wantErr: "got 0 characters"},
		{name: "too short", in: hexID[:31], wantErr: "want 32 hex digits"},
		{name: "too long", in: hexID + "0", wantErr: "want 32 hex digits"},
		{name: "not hex", in: "zz59e988bd862e3fe1be46a994272793", wantErr: "not hexadecimal"},
		{name: "all zeros", in: strings.Repeat("0", 32), wantErr: "all zeros"},
		{name: "xray wrong version", in: "2-5759e988-bd862e3fe1be46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "xray short epoch", in: "1-5759e98-bd862e3fe1be46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "xray short unique", in: "1-5759e988-bd862e3fe1be46a99427279", wantErr: "X-Ray trace ID looks like"},
		{name: "xray not hex", in: "1-5759e988-bd862e3fe1be46a99427279x", wantErr: "not hexadecimal"},
		{name: "uuid", in: "5759e988-bd86-2e3f-e1be-46a994272793", wantErr: "X-Ray trace ID looks like"},
		{name: "header without root", in: "Parent=53995c3f42cd8ad8;Sampled=1", wantErr: "X-Ray trace ID looks like"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTraceID(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseTraceID(%q) = %s, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidTraceID) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTraceID(%q) error = %v, want ErrInvalidTraceID containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTraceID(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseTraceID(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestIDsMarshalAsHex(t *testing.T) {
	v := struct {
		T TraceID
		S SpanID
	}{TraceID{0: 0xab, 15: 0x01}, SpanID{0: 0xcd, 7: 0x02}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	const want = `{"T":"ab000000000000000000000000000001","S":"cd00000000000002"}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
}

// What the CLI's JSON holds reads back into the same IDs; anything but the
// exact number of hex digits is an error that names the field's kind.
func TestIDsUnmarshalFromHex(t *testing.T) {
	type ids struct {
		T TraceID
		S SpanID
	}
	want := ids{TraceID{0: 0xab, 15: 0x01}, SpanID{0: 0xcd, 7: 0x02}}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var got ids
	if err := json.Unmarshal(b, &got); err != nil || got != want {
		t.Fatalf("round trip of %s = %+v, %v; want %+v", b, got, err, want)
	}
	for _, tt := range []struct{ in, want string }{
		{`{"T":"ab00"}`, "trace ID \"ab00\": want 32 hex digits"},
		{`{"T":"zz000000000000000000000000000001"}`, "not hexadecimal"},
		{`{"S":"cd000000000000020"}`, "span ID \"cd000000000000020\": want 16 hex digits"},
		{`{"S":"1-5759e988-bd86"}`, "span ID"},
		{`{"T":"` + strings.Repeat("a", 100) + `"}`, `trace ID "` + strings.Repeat("a", 64) + `": want 32 hex digits, got 100 characters`},
	} {
		got := ids{T: want.T, S: want.S}
		err := json.Unmarshal([]byte(tt.in), &got)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("unmarshal %s: %v, want an error with %q", tt.in, err, tt.want)
		}
		if got != want {
			t.Errorf("unmarshal %s changed the IDs on error: %+v", tt.in, got)
		}
	}
}
